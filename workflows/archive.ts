import { log, proxyActivities } from '@temporalio/workflow';
import type { ArchiveActivities } from '../audit/archive';

const act = proxyActivities<ArchiveActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Started every minute by the "archive-closed-deviations" Schedule: copies the history of every
 * closed deviation (and its change controls) into PostgreSQL. One activity per deviation, so a
 * history that cannot be read now is retried on its own and never holds back the others; what is
 * still missing after the retries is picked up by the next minute's run.
 */
export async function ArchiveClosedDeviations(): Promise<{ archived: number; failed: number }> {
  const pending = await act.findUnarchivedDeviationRuns();
  let archived = 0;
  let failed = 0;
  for (const ref of pending) {
    try {
      const runs = await act.archiveDeviationRun(ref);
      archived += runs.filter((r) => r.inserted).length;
    } catch (err) {
      failed += 1;
      log.warn('archiving a deviation failed; the next scheduled run retries it', { workflowId: ref.workflowId, runId: ref.runId, error: String(err) });
    }
  }
  return { archived, failed };
}
