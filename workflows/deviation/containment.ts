import { humanDuration, nowIso } from '../clocks';
import type { HoldBreach, HoldBreachNotice } from '../types';
import { act, reconciliation, type Deviation } from './runtime';
import { openHolds } from './state';

/** How many hold breaches travel in the workflow's state; every one of them stays in hold_breaches. */
const BREACHES_IN_STATE = 50;

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

/**
 * The hold-breach signal's handler: the breach on the deviation, for the people contained by it.
 * It calls no activity and starts no timer (the notification left in the capture's transaction);
 * the read model follows the new version like any change. So the commands of a history without
 * this signal, every one recorded before it existed, stay as they were. A breach told again
 * (signals arrive at least once) is kept once. It never throws: a signal cannot be refused, and a
 * handler that failed would fail the workflow task again on every retry.
 */
export function recordHoldBreaches(d: Deviation, notice: HoldBreachNotice): void {
  const c = d.state.containment;
  const incoming = Array.isArray(notice?.breaches) ? notice.breaches.filter(isHoldBreach) : [];
  let changed = false;
  for (const breach of incoming) {
    const known = (c.breaches ??= []);
    if (known.some((b) => b.id === breach.id)) continue;
    if (known.length < BREACHES_IN_STATE) known.push(breach);
    // (past the bound, the IDs kept cannot tell a new breach from one told again: the flag says there are more)
    else if (c.breachesTruncated) continue;
    else c.breachesTruncated = true;
    changed = true;
  }
  if (changed) d.changed();
}

const isHoldBreach = (b: unknown): b is HoldBreach =>
  typeof b === 'object' && b !== null && typeof (b as HoldBreach).id === 'string' && typeof (b as HoldBreach).lot === 'string';
