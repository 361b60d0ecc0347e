/**
 * How far back the every-minute archive sweep looks (workflows/archive.ts, audit/archive.ts), and
 * what it hands from one to the other.
 *
 * Listing every closed deviation each minute would grow with the years of retention. So the sweep
 * keeps a watermark: every deviation run that closed before it is archived. A sweep lists the runs
 * closed since the watermark, then moves it up to a little before the sweep began (a run's visibility
 * record can appear shortly after it closes), or back to the close of a run it failed to archive.
 * Once a day a sweep lists every closed run anyway, in case a record appeared later than that.
 *
 * Plain functions of time and state, shared by the workflow (which may import nothing with side
 * effects) and the activities.
 */

/** A sweep looks this far behind its own start, for visibility records that appear late. */
export const VISIBILITY_LAG_MS = 15 * 60_000;
/** At least this often, a sweep lists every closed run whatever the watermark. */
export const FULL_SWEEP_EVERY_MS = 24 * 60 * 60_000;
/** A sweep takes at most this many unarchived runs; one that finds more leaves the watermark alone. */
export const MAX_RUNS_PER_SWEEP = 500;

export interface SweepState {
  /** Every deviation run that closed before this is archived; null before the first sweep. */
  archivedBefore: Date | null;
  /** When the last sweep that listed every closed run began. */
  fullSweepAt: Date | null;
  /** When a sweep last recorded this state. */
  recordedAt: Date | null;
}

/** The runs a sweep beginning at `listedAt` lists: those closed since `closedSince`, or every one when null. */
export function sweepWindow(state: SweepState, listedAt: Date): { closedSince: Date | null } {
  const full = !state.archivedBefore || !state.fullSweepAt || listedAt.getTime() - state.fullSweepAt.getTime() >= FULL_SWEEP_EVERY_MS;
  return { closedSince: full ? null : state.archivedBefore };
}

export interface SweepOutcome {
  /** False when the sweep stopped at MAX_RUNS_PER_SWEEP: runs it did not reach may be older than anything it saw. */
  complete: boolean;
  /** When the runs it could not archive closed. */
  failedCloseTimes: Date[];
}

/**
 * The state after a sweep that began at `listedAt`, given the state as it is now. When another sweep
 * recorded after this one began (one started by hand beside the scheduled one), the watermark never
 * moves past where that one left it: it may have been held back for a run this sweep never listed.
 */
export function afterSweep(state: SweepState, listedAt: Date, outcome: SweepOutcome): SweepState {
  if (!outcome.complete) return state;
  let archivedBefore = listedAt.getTime() - VISIBILITY_LAG_MS;
  for (const t of outcome.failedCloseTimes) archivedBefore = Math.min(archivedBefore, t.getTime());
  if (state.archivedBefore && state.recordedAt && state.recordedAt.getTime() > listedAt.getTime()) {
    archivedBefore = Math.min(archivedBefore, state.archivedBefore.getTime());
  }
  const full = sweepWindow(state, listedAt).closedSince === null;
  return { archivedBefore: new Date(archivedBefore), fullSweepAt: full ? listedAt : state.fullSweepAt, recordedAt: state.recordedAt };
}

/** A closed workflow run the archive sweep stores. */
export interface RunRef {
  workflowId: string;
  runId: string;
  /** When the run closed (ISO 8601), as Temporal's visibility records it; absent on child runs. */
  closeTime?: string;
}
