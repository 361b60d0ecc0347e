import { log, patched, proxyActivities } from '@temporalio/workflow';
import { MAX_RUNS_PER_SWEEP } from '../domain/archive-sweep';
import type { ArchiveActivities } from './activity-contracts';

const act = proxyActivities<ArchiveActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Started every minute by the "archive-closed-deviations" Schedule: copies the history of every
 * closed deviation (and its change controls) into PostgreSQL. One activity per deviation, so a
 * history that cannot be read now is retried on its own and never holds back the others; what is
 * still missing after the retries is picked up by a later run.
 *
 * A sweep lists only the runs closed since the archive's watermark, and then moves the watermark
 * (domain/archive-sweep.ts), so that a sweep's cost stays with what closed lately, not with every
 * deviation of the retention period.
 */
export async function ArchiveClosedDeviations(): Promise<{ archived: number; failed: number }> {
  // (sweeps begun before the watermark existed list every closed run, and record nothing)
  const watermark = patched('archive-sweep-watermark');
  const listedAt = new Date().toISOString();
  const pending = watermark ? await act.findUnarchivedDeviationRuns(listedAt) : await act.findUnarchivedDeviationRuns();
  let archived = 0;
  const failedCloseTimes: string[] = [];
  for (const ref of pending) {
    try {
      const runs = await act.archiveDeviationRun(ref);
      archived += runs.filter((r) => r.inserted).length;
    } catch (err) {
      // (a run whose close time is unknown sends the watermark back to the start: the next sweep lists
      // every closed run)
      failedCloseTimes.push(ref.closeTime ?? new Date(0).toISOString());
      log.warn('archiving a deviation failed; a later sweep retries it', {
        workflowId: ref.workflowId,
        runId: ref.runId,
        error: String(err),
      });
    }
  }
  if (watermark) await act.recordArchiveSweep({ listedAt, complete: pending.length < MAX_RUNS_PER_SWEEP, failedCloseTimes });
  return { archived, failed: failedCloseTimes.length };
}
