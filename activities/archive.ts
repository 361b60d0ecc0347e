import { archiveDeviationRun, findRunsToSweep, findUnarchivedRuns, recordSweep, type ArchiveDeps } from '../audit/archive';
import type { ArchiveActivities } from '../workflows/activity-contracts';

/** The archive sweep's activities: list the closed runs to store, store one with its children, move the watermark. */
export function createArchiveActivities(deps: ArchiveDeps): ArchiveActivities {
  return {
    findUnarchivedDeviationRuns: (listedAt) => (listedAt ? findRunsToSweep(deps, new Date(listedAt)) : findUnarchivedRuns(deps)),
    async archiveDeviationRun(ref) {
      const runs = await archiveDeviationRun(deps, ref);
      return runs.map(({ workflowId, runId, sha256, inserted }) => ({ workflowId, runId, sha256, inserted }));
    },
    async recordArchiveSweep({ listedAt, complete, failedCloseTimes }) {
      const next = await recordSweep(deps, new Date(listedAt), { complete, failedCloseTimes: failedCloseTimes.map((t) => new Date(t)) });
      return { archivedBefore: next.archivedBefore?.toISOString() ?? null };
    },
  };
}
