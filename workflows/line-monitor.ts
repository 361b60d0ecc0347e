import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { MonitoringAction, MonitoringActivities } from './activity-contracts';
import { msUntil, nowIso, waitUntil } from './clocks';
import type { DeviationWorkflow } from './deviation';
import * as msg from './messages';

/**
 * The monitor of one packaging line: every batch point recorded on the line (the batch completed, or
 * reconciled on demand) arrives as a signal carrying the batch's ID, and is judged by an activity
 * against the policy's thresholds and the line's approved control charts. A signal found opens a
 * deviation (a child workflow, abandoned to live on its own), or, when one is already open on the line
 * for the same symptom, is linked to it as a recurrence.
 *
 * Why a long-running workflow per line rather than a Schedule that sweeps new points:
 * - a point is judged when it arrives, not at the next tick, and nothing has to remember which points
 *   a sweep has seen (the signal is the queue, durable in history);
 * - one line's points are judged one after the other by one workflow, so "is a deviation already open
 *   on this line for this symptom?" has one writer: two batches of a line cannot both open one;
 * - a missing repository report counts only a grace period after the batch completed: the monitor
 *   sets a durable timer to judge the point again then, rather than a sweep polling for batches whose
 *   grace has passed;
 * - signal-with-start creates a line's monitor at its first point: no lines to register, no
 *   Schedule per line to keep in step with the policy.
 * Its history stays small: a run continues as new after POINTS_PER_RUN points (or when Temporal
 * suggests it), carrying its queue and timers; and a run that started a deviation continues as new
 * once its queue is empty, so a deviation's outcome, months later, never lands in a monitor's history.
 *
 * Deterministic: side effects only in the activities (each idempotent: a signal is claimed once per
 * batch, keyed in PostgreSQL), time only from the workflow's clock.
 */
export interface LineMonitorInput {
  line: string;
  /** What the run before left to do (continue-as-new). */
  carried?: LineMonitorCarried;
}

export interface LineMonitorCarried {
  /** Batch IDs whose points wait to be judged, oldest first. */
  pending: string[];
  /** Points to judge again, and when. */
  rechecks: Array<{ batchId: string; at: string }>;
  /** Points judged by this monitor since it started, over every run. */
  evaluated: number;
}

export interface LineMonitorStatus extends LineMonitorCarried {
  line: string;
  /** Points judged by this run. */
  evaluatedThisRun: number;
  /** The actions this run carried out: `<open|link> <deviation> <batch ID>:<signal>`. */
  actions: string[];
  /** Points this run could not judge, with why (only failures no retry mends). */
  failures: string[];
}

export const getLineMonitorStatusQuery = defineQuery<LineMonitorStatus>('getLineMonitorStatus');

/** Points one run judges before it continues as new: a few thousand events of history at most. */
export const POINTS_PER_RUN = 100;
/** Actions listed by the status query (each is in monitoring_signals too). */
const ACTIONS_LISTED = 50;

const monitor = proxyActivities<MonitoringActivities>({
  startToCloseTimeout: '2 minutes',
  // No attempt limit: a point is never dropped; a database that is down holds the line's queue until it is back.
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes' },
});

export async function LineMonitorWorkflow(input: LineMonitorInput): Promise<void> {
  const { line } = input;
  const pending = [...(input.carried?.pending ?? [])];
  const rechecks = new Map((input.carried?.rechecks ?? []).map((r) => [r.batchId, r.at]));
  let evaluated = input.carried?.evaluated ?? 0;
  let evaluatedThisRun = 0;
  let startedDeviation = false;
  const actions: string[] = [];
  const failures: string[] = [];

  setHandler(msg.batchPointSignal, (notice) => {
    const batchId = typeof notice?.batchId === 'string' ? notice.batchId : null;
    // (a point told twice before it was judged is judged once: its newest counts are in batch_metrics)
    if (batchId !== null && /^[0-9]{1,18}$/.test(batchId) && !pending.includes(batchId)) pending.push(batchId);
  });
  const carried = (): LineMonitorCarried => ({
    pending: [...pending],
    rechecks: [...rechecks].map(([batchId, at]) => ({ batchId, at })).sort((a, b) => a.at.localeCompare(b.at)),
    evaluated,
  });
  setHandler(getLineMonitorStatusQuery, () => ({ line, ...carried(), evaluatedThisRun, actions, failures }));

  const record = (a: MonitoringAction) => {
    if (actions.length < ACTIONS_LISTED) actions.push(`${a.kind} ${a.deviationId} ${a.batchId}:${a.signal}`);
  };

  const open = async (a: Extract<MonitoringAction, { kind: 'open' }>) => {
    try {
      await startChild<typeof DeviationWorkflow>('DeviationWorkflow', {
        workflowId: a.deviationId,
        args: [a.input],
        // The deviation outlives this run (which continues as new) and the monitor itself.
        parentClosePolicy: 'ABANDON',
        // A closed deviation is never started again under its number.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { title: a.input.title },
      });
    } catch (err) {
      // Started before (the claim's action carried out, its confirmation lost): the same deviation.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    startedDeviation = true;
    record(a);
    await monitor.markSignalDelivered({ batchId: a.batchId, signal: a.signal });
  };

  const link = async (a: Extract<MonitoringAction, { kind: 'link' }>) => {
    try {
      await getExternalWorkflowHandle(a.deviationId).signal(msg.monitoringSignal, a.record);
    } catch (err) {
      // The deviation closed (or is gone) since the claim found it open: the signal stands on its own.
      log.warn('linking a monitoring signal failed; opening a deviation for it', { deviation: a.deviationId, error: String(err) });
      const instead = await monitor.openInsteadOfLink({ batchId: a.batchId, signal: a.signal, unreachable: a.deviationId, at: nowIso() });
      if (instead?.kind === 'open') await open(instead);
      return;
    }
    record(a);
    await monitor.markSignalDelivered({ batchId: a.batchId, signal: a.signal });
  };

  const due = () => {
    const now = nowIso();
    for (const [batchId, at] of [...rechecks].sort((a, b) => a[1].localeCompare(b[1]))) {
      if (at > now) break;
      rechecks.delete(batchId);
      if (!pending.includes(batchId)) pending.push(batchId);
    }
  };
  const nextRecheckMs = () => Math.min(...[...rechecks.values()].map(msUntil));

  while (evaluatedThisRun < POINTS_PER_RUN && !workflowInfo().continueAsNewSuggested && !(startedDeviation && pending.length === 0)) {
    if (pending.length === 0) {
      if (rechecks.size === 0) await condition(() => pending.length > 0);
      else await waitUntil(() => pending.length > 0, nextRecheckMs());
    }
    due();
    const batchId = pending.shift();
    if (batchId === undefined) continue;
    try {
      const result = await monitor.evaluateBatchPoint({ line, batchId, at: nowIso() });
      // (opened first: a link in the same batch may be for the deviation just opened)
      for (const a of result.actions) if (a.kind === 'open') await open(a);
      for (const a of result.actions) if (a.kind === 'link') await link(a);
      if (result.recheckAt) rechecks.set(batchId, result.recheckAt);
      else rechecks.delete(batchId);
    } catch (err) {
      // Only what no retry can mend gets here (a batch whose data no deviation can be opened with):
      // it must not stop the line's monitoring; the claims made stay, and the failure is in the status.
      log.error('judging a batch point failed', { line, batchId, error: String(err) });
      if (failures.length < ACTIONS_LISTED) failures.push(`${batchId}: ${String(err)}`);
    }
    evaluated += 1;
    evaluatedThisRun += 1;
  }
  // Signals that arrived while the last point was judged are in `pending` by now, and travel on.
  await condition(allHandlersFinished);
  return continueAsNew<typeof LineMonitorWorkflow>({ line, carried: carried() });
}
