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

/**
 * What a clock does at each of its moments; the skeleton (runClock) decides when. Containment's
 * 60 minutes, the regulatory notification window, every sign-off task's due date, CAPA actions
 * and change controls all run on it.
 */
export interface ClockHooks {
  /** The clock stops for good (its step is done, or the deviation ended). */
  done(): boolean;
  /** The due date, in ms; an approved extension may move it, and the clock starts over. */
  dueMs(): number;
  /** Reminders before the due date: their times (absolute ms, asked at each start), `skipPast` leaving out those already past. */
  before?: { atMs(dueMs: number): readonly number[]; skipPast: boolean; remind(n: number): Promise<void> };
  /** The due date passed unmet: overdue, or an SLA breach. */
  due(dueMs: number): Promise<void>;
  /** Reminders repeated after the due date until done or moved; without them the clock just waits. */
  overdue?: { nextInMs(): number; remind(dueMs: number): Promise<void> };
  /** The due date moved after it had passed: no longer overdue until the new one passes. */
  moved?(): void;
}

/** Runs one clock until its step is done: reminders, the due date, then reminders while overdue. */
export async function runClock(h: ClockHooks): Promise<void> {
  for (;;) {
    const due = h.dueMs();
    const settled = () => h.done() || h.dueMs() !== due;
    let reachedDue = true;
    for (const [i, at] of (h.before?.atMs(due) ?? []).entries()) {
      if (h.before!.skipPast && at - Date.now() <= 0) continue;
      if (await waitUntil(settled, at - Date.now())) {
        reachedDue = false;
        break;
      }
      await h.before!.remind(i + 1);
    }
    const passedUnmet = reachedDue && !(await waitUntil(settled, due - Date.now()));
    if (passedUnmet) {
      await h.due(due);
      if (h.overdue) {
        const { nextInMs, remind } = h.overdue;
        while (!(await waitUntil(settled, nextInMs()))) await remind(due);
      } else {
        await condition(settled);
      }
    }
    if (h.done()) return;
    // Only a date that had passed needs undoing; one moved before it passed just starts over.
    if (passedUnmet) h.moved?.();
  }
}
