import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import { text } from './domain-on-demand';
import { REFUSAL } from './messages';

/**
 * Thrown from Update validators: the step is refused before it reaches history. The message is
 * made storable whatever it quotes: a failure the worker cannot encode (a lone surrogate) is not
 * a refusal but a worker shutdown, so no caller's text may reach Temporal unchecked.
 */
export function refuse(type: (typeof REFUSAL)[keyof typeof REFUSAL], message: string): never {
  throw ApplicationFailure.create({ type, message: text.storableCopy(message), nonRetryable: true });
}

/** The actor of a step as the API sends it: the signed-in login and, for rules by role, its roles. */
export interface Actor {
  by: string;
  roles?: string[];
}

function actorOf(arg: Record<string, unknown>): Actor {
  const { by, roles } = arg;
  if (typeof by !== 'string' || by.trim().length === 0 || by.length > 100 || !text.isStorableText(by, false)) {
    refuse(REFUSAL.invalid, 'by: who completed the step is required');
  }
  if (roles === undefined) return { by: by.trim() };
  if (
    !Array.isArray(roles) ||
    roles.length > 20 ||
    !roles.every((r) => typeof r === 'string' && r.length <= 50 && text.isStorableText(r, false))
  ) {
    refuse(REFUSAL.invalid, "roles: the actor's roles are a short list of role names");
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

/**
 * The error as the worker can send it: a failure whose message holds a lone surrogate cannot be
 * encoded, and the SDK's core answers by shutting the whole worker down. Refusals are storable
 * already; this catches anything else a handler or validator might throw with the caller's text.
 */
export function storableFailure(err: unknown): unknown {
  if (!(err instanceof Error) || text.storableCopy(err.message) === err.message) return err;
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      type: err.type ?? undefined,
      message: text.storableCopy(err.message),
      nonRetryable: err.nonRetryable ?? undefined,
    });
  }
  const copy = new Error(text.storableCopy(err.message));
  copy.name = err.name;
  return copy;
}

/**
 * Registers an Update with its validator, both guarded by storableFailure. Registering every
 * Update through here keeps the guard from being forgotten on the next one.
 */
export function setUpdate<Ret, Args extends unknown[]>(
  def: UpdateDefinition<Ret, Args>,
  handler: (...args: Args) => Ret | Promise<Ret>,
  options: { validator: (...args: Args) => void },
): void {
  const guardedHandler = (...args: Args): Ret | Promise<Ret> => {
    try {
      const result = handler(...args);
      return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(storableFailure(err))) : result;
    } catch (err) {
      throw storableFailure(err);
    }
  };
  const guardedValidator = (...args: Args): void => {
    try {
      options.validator(...args);
    } catch (err) {
      throw storableFailure(err);
    }
  };
  setHandler(def, guardedHandler, { validator: guardedValidator });
}
