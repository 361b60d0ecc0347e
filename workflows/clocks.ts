import { condition } from '@temporalio/workflow';

/**
 * Waits until `done()` holds or `ms` have passed, whichever comes first; true when done.
 * A deadline already past counts as passed at once (Temporal reads a zero timeout as "no timeout").
 */
export async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  if (done()) return true;
  if (ms <= 0) return false;
  return condition(done, ms);
}

/** Milliseconds from now (workflow time) until an ISO instant. */
export function msUntil(iso: string): number {
  return Date.parse(iso) - Date.now();
}

export function isoAfter(fromIso: string, ms: number): string {
  return new Date(Date.parse(fromIso) + ms).toISOString();
}

export function nowIso(): string {
  return new Date().toISOString();
}
