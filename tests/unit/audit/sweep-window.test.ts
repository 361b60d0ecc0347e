import { afterSweep, FULL_SWEEP_EVERY_MS, sweepWindow, VISIBILITY_LAG_MS, type SweepState } from '../../../domain/archive-sweep';

/**
 * The archive sweep's watermark: which closed deviations a sweep lists, and where it leaves the
 * watermark. A run missed here would never reach the archive, so every way back is checked.
 */
const at = (iso: string) => new Date(iso);
const minutes = (n: number) => n * 60_000;
const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

describe('archive sweep window', () => {
  const t0 = at('2026-11-29T10:00:00Z');
  const fresh: SweepState = { archivedBefore: null, fullSweepAt: null, recordedAt: null };

  it('lists every closed run on the first sweep, then only those closed since a little before the last sweep began', () => {
    expect(sweepWindow(fresh, t0)).toEqual({ closedSince: null });
    const first = afterSweep(fresh, t0, { complete: true, failedCloseTimes: [] });
    expect(first).toEqual({ archivedBefore: plus(t0, -VISIBILITY_LAG_MS), fullSweepAt: t0, recordedAt: null });

    const t1 = plus(t0, minutes(1));
    expect(sweepWindow(first, t1)).toEqual({ closedSince: plus(t0, -VISIBILITY_LAG_MS) });
    const second = afterSweep(first, t1, { complete: true, failedCloseTimes: [] });
    expect(second).toEqual({ archivedBefore: plus(t1, -VISIBILITY_LAG_MS), fullSweepAt: t0, recordedAt: null });
  });

  it('keeps the watermark at the close of a run it could not archive, the earliest of them', () => {
    const state = afterSweep(fresh, t0, { complete: true, failedCloseTimes: [] });
    const t1 = plus(t0, minutes(1));
    // (this sweep lists runs closed since t0 - 15 min, and would move the watermark to t1 - 15 min)
    const failed = [plus(t0, -minutes(10)), plus(t0, -minutes(14.5)), plus(t0, -minutes(12))];
    const next = afterSweep(state, t1, { complete: true, failedCloseTimes: failed });
    expect(next.archivedBefore).toEqual(plus(t0, -minutes(14.5)));
    // The next sweep lists from there: the failed run is in its window.
    expect(sweepWindow(next, plus(t1, minutes(1))).closedSince!.getTime()).toBeLessThanOrEqual(failed[1]!.getTime());
  });

  it('goes back before the watermark when a full sweep finds an old run it could not archive', () => {
    const state: SweepState = { archivedBefore: plus(t0, -minutes(20)), fullSweepAt: plus(t0, -FULL_SWEEP_EVERY_MS), recordedAt: null };
    expect(sweepWindow(state, t0)).toEqual({ closedSince: null });
    const old = at('2025-01-01T00:00:00Z');
    expect(afterSweep(state, t0, { complete: true, failedCloseTimes: [old] })).toEqual({
      archivedBefore: old,
      fullSweepAt: t0,
      recordedAt: null,
    });
  });

  it('does not move the watermark past where a sweep that recorded after this one began left it', () => {
    // A (full, began 10:00:30) held the watermark back at 09:00 for a run it could not archive, and
    // recorded at 10:00:40; B, begun by hand at 10:00:10 with an older window, records afterwards.
    const heldBack: SweepState = {
      archivedBefore: at('2026-11-29T09:00:00Z'),
      fullSweepAt: at('2026-11-29T10:00:30Z'),
      recordedAt: at('2026-11-29T10:00:40Z'),
    };
    expect(afterSweep(heldBack, at('2026-11-29T10:00:10Z'), { complete: true, failedCloseTimes: [] }).archivedBefore).toEqual(
      at('2026-11-29T09:00:00Z'),
    );
    // A sweep begun after that record moves on as usual.
    const later = at('2026-11-29T10:01:00Z');
    expect(afterSweep(heldBack, later, { complete: true, failedCloseTimes: [] }).archivedBefore).toEqual(plus(later, -VISIBILITY_LAG_MS));
  });

  it('leaves the watermark where it was when the sweep stopped at its limit', () => {
    const state = afterSweep(fresh, t0, { complete: true, failedCloseTimes: [] });
    expect(afterSweep(state, plus(t0, minutes(1)), { complete: false, failedCloseTimes: [] })).toBe(state);
    expect(afterSweep(fresh, t0, { complete: false, failedCloseTimes: [] })).toBe(fresh);
  });

  it('lists every closed run again once a day', () => {
    const state = afterSweep(fresh, t0, { complete: true, failedCloseTimes: [] });
    expect(sweepWindow(state, plus(t0, FULL_SWEEP_EVERY_MS - 1)).closedSince).not.toBeNull();
    expect(sweepWindow(state, plus(t0, FULL_SWEEP_EVERY_MS))).toEqual({ closedSince: null });
    const t2 = plus(t0, FULL_SWEEP_EVERY_MS);
    expect(afterSweep(state, t2, { complete: true, failedCloseTimes: [] }).fullSweepAt).toEqual(t2);
  });
});
