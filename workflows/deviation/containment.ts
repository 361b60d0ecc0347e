import { humanDuration, nowIso } from '../clocks';
import { act, reconciliation, type Deviation } from './runtime';
import { openHolds } from './state';

/**
 * Containment's actions, at once: distribution holds on every batch, trace-and-hold of what
 * already shipped, the team alerted with its response roles, and a preliminary reconciliation.
 */
export async function containmentActions(d: Deviation): Promise<void> {
  const { state, policy } = d;
  const c = state.containment;
  const reason = `Distribution hold for deviation ${state.id}: ${state.title}`;
  c.responseRoles = {
    containmentLead: state.reportedBy,
    packagingLine: 'role:production',
    serializationSystems: 'role:it',
    qualityApproval: 'role:qa_approver',
  };
  const [holds, trace, preliminary] = await Promise.all([
    Promise.all(
      state.batches.map((lot) => act.placeHold({ deviationId: state.id, lot, reason, placedBy: 'system' }).then((h) => ({ lot, ...h }))),
    ),
    act.traceShipments({ deviationId: state.id, lots: state.batches }),
    // A lot shared by two products cannot be reconciled by lot alone: it is left out here, not retried for ever.
    Promise.all(state.batches.map((lot) => reconciliation.reconcileBatch({ lot, deviationId: state.id }).catch(() => null))).then((all) =>
      all.filter((r) => r !== null),
    ),
    d.notify(
      'containment:alert',
      'containment_alert',
      ['role:qa_lead', 'role:production', 'role:it', 'role:qa_approver'],
      `Deviation ${state.id} (${state.severity}): contain within ${humanDuration(policy.containmentWindowMs)}`,
      {
        responseRoles: c.responseRoles,
        batches: state.batches,
        dueAt: c.dueAt,
      },
    ),
  ]);
  c.holds = holds.map((h) => ({ lot: h.lot, holdId: h.holdId, placedAt: h.placedAt }));
  c.trace = trace;
  c.preliminaryReconciliation = preliminary;
  c.actionsCompletedAt = nowIso();
  d.changed();
}

/** A cancelled deviation lifts every hold it placed. */
export async function liftHolds(d: Deviation): Promise<void> {
  const { state } = d;
  const cancellation = state.cancellation!;
  for (const lot of openHolds(state)) {
    const result = await act.disposeHold({
      deviationId: state.id,
      lot,
      disposition: 'release',
      by: cancellation.by,
      reason: `deviation cancelled: ${cancellation.justification}`,
    });
    const hold = state.containment.holds.find((h) => h.lot === lot)!;
    hold.disposition = 'release';
    hold.disposedAt = result.disposedAt;
    hold.disposedBy = cancellation.by;
  }
}
