import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { REFUSAL } from './messages';

/** Thrown from Update validators: the step is refused before it reaches history. */
export function refuse(type: (typeof REFUSAL)[keyof typeof REFUSAL], message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** Validates an Update payload with its domain schema (minus the actor) and returns the parsed value. */
export function parseStep<S extends z.ZodType>(schema: S, arg: unknown): z.output<S> & { by: string } {
  if (!arg || typeof arg !== 'object') refuse(REFUSAL.invalid, 'the step needs a JSON object');
  const { by, ...payload } = arg as Record<string, unknown>;
  if (typeof by !== 'string' || by.trim().length === 0 || by.length > 100) refuse(REFUSAL.invalid, 'by: who completed the step is required');
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    refuse(REFUSAL.invalid, detail);
  }
  return { ...(parsed.data as object), by: by.trim() } as z.output<S> & { by: string };
}
