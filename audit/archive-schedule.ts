import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';

export const ARCHIVE_SCHEDULE_ID = 'archive-closed-deviations';

function scheduleOptions(taskQueue: string): ScheduleOptions {
  return {
    scheduleId: ARCHIVE_SCHEDULE_ID,
    spec: { intervals: [{ every: '1 minute' }] },
    action: { type: 'startWorkflow', workflowType: 'ArchiveClosedDeviations', workflowId: ARCHIVE_SCHEDULE_ID, taskQueue, args: [] },
    // A sweep still running when the next minute comes is left to finish; a worker that was down
    // for an hour runs one sweep when it is back, not sixty.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
    memo: { purpose: 'Archive closed deviations\u2019 histories in PostgreSQL before Temporal\u2019s retention drops them' },
  };
}

/**
 * Creates the every-minute archive Schedule, or brings an existing one up to date (its task
 * queue, interval and policies); safe for every worker to call at start, concurrently.
 */
export async function ensureArchiveSchedule(client: Client, taskQueue: string): Promise<void> {
  const options = scheduleOptions(taskQueue);
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(ARCHIVE_SCHEDULE_ID).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action as typeof previous.action,
      policies: { ...previous.policies, ...options.policies },
    }));
  }
}
