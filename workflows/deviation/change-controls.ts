import { startChild, type ChildWorkflowHandle } from '@temporalio/workflow';
import { ChangeControlWorkflow } from '../change-control';
import { isoAfter, nowIso } from '../clocks';
import type { InvestigationRound } from '../types';
import type { Deviation } from './runtime';

/**
 * Opens a change control, as a child workflow, for every CAPA action of the round that changes an
 * SOP, equipment, a computerized system or training; its record lands on the round when it closes.
 */
export async function openChangeControls(d: Deviation, round: InvestigationRound): Promise<void> {
  const { state, policy } = d;
  for (const action of round.capa.actions) {
    if (!action.changeControl || action.status === 'cancelled') continue;
    const n = state.rounds.reduce((count, r) => count + r.changeControls.length, 0) + 1;
    const ccId = `CC${n}`;
    action.changeControl.id = ccId;
    round.changeControls.push({ id: ccId, actionId: action.id, kind: action.changeControl.kind, status: 'open' });
    d.changed();
    const openedAt = nowIso();
    const handle: ChildWorkflowHandle<typeof ChangeControlWorkflow> = await startChild(ChangeControlWorkflow, {
      workflowId: `${state.id}-${ccId}`,
      args: [
        {
          id: ccId,
          deviationId: state.id,
          actionId: action.id,
          kind: action.changeControl.kind,
          description: action.changeControl.description,
          owner: action.owner,
          openedAt,
          dueAt: isoAfter(openedAt, policy.changeControlDueMs),
          reminderIntervalMs: policy.overdueReminderIntervalMs,
          ...(policy.escalatedReminderIntervalMs === undefined ? {} : { escalatedReminderIntervalMs: policy.escalatedReminderIntervalMs }),
        },
      ],
    });
    void handle.result().then((record) => {
      const stored = round.changeControls.find((c) => c.id === ccId);
      if (stored) {
        stored.status = 'closed';
        stored.closedAt = nowIso();
        stored.result = record;
        d.changed();
      }
    });
  }
}
