import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { isStorableText, storableCopy } from '../domain/text';
import { REFUSAL } from './messages';

/**
 * Thrown from Update validators: the step is refused before it reaches history. The message is
 * made storable whatever it quotes: a failure the worker cannot encode (a lone surrogate) is not
 * a refusal but a worker shutdown, so no caller's text may reach Temporal unchecked.
 */
export function refuse(type: (typeof REFUSAL)[keyof typeof REFUSAL], message: string): never {
  throw ApplicationFailure.create({ type, message: storableCopy(message), nonRetryable: true });
}

/** The actor of a step as the API sends it: the signed-in login and, for rules by role, its roles. */
export interface Actor {
  by: string;
  roles?: string[];
}

function actorOf(arg: Record<string, unknown>): Actor {
  const { by, roles } = arg;
  if (typeof by !== 'string' || by.trim().length === 0 || by.length > 100 || !isStorableText(by, false)) {
    refuse(REFUSAL.invalid, 'by: who completed the step is required');
  }
  if (roles === undefined) return { by: by.trim() };
  if (!Array.isArray(roles) || roles.length > 20 || !roles.every((r) => typeof r === 'string' && r.length <= 50 && isStorableText(r, false))) {
    refuse(REFUSAL.invalid, 'roles: the actor\'s roles are a short list of role names');
  }
  return { by: by.trim(), roles: roles as string[] };
}

/** Validates an Update payload with its domain schema (minus the actor) and returns the parsed value. */
export function parseStep<S extends z.ZodType>(schema: S, arg: unknown): z.output<S> & Actor {
  if (!arg || typeof arg !== 'object' || Array.isArray(arg)) refuse(REFUSAL.invalid, 'the step needs a JSON object');
  const { by: _by, roles: _roles, ...payload } = arg as Record<string, unknown>;
  const actor = actorOf(arg as Record<string, unknown>);
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    // zod's messages name the rule and the field, never the value.
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    refuse(REFUSAL.invalid, detail);
  }
  return { ...(parsed.data as object), ...actor } as z.output<S> & Actor;
}
