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

/** A duration as people read it in notifications and the record: "45 s", "60 minutes", "30 days". */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const min = Math.round(ms / 60_000);
  if (min < 120) return `${min} minutes`;
  const h = Math.round(ms / 3_600_000);
  if (h < 48) return `${h} hours`;
  return `${Math.round(ms / 86_400_000)} days`;
}
