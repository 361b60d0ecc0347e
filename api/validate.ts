import type { z } from 'zod';
import { badRequest, zodProblems } from './problem';

/** Parses a request part with its schema, or throws a 400 problem naming each bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(`The ${what} is invalid.`, zodProblems(parsed.error));
  return parsed.data;
}
