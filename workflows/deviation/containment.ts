import { distributionHoldReason } from '../../domain/holds';
import { humanDuration, nowIso } from '../clocks';
import type { HoldBreach, HoldBreachNotice } from '../types';
import { act, reconciliation, slowActivities, type Deviation } from './runtime';
import { openHolds } from './state';

/** How many hold breaches travel in the workflow's state; every one of them stays in hold_breaches. */
const BREACHES_IN_STATE = 50;

const holdReason = (d: Deviation) => distributionHoldReason(d.state.id, d.state.title);

function assignResponseRoles(d: Deviation): void {
  d.state.containment.responseRoles = {
    containmentLead: d.state.reportedBy,
    packagingLine: 'role:production',
    serializationSystems: 'role:it',
    qualityApproval: 'role:qa_approver',
  };
}

const ALERTED = ['role:qa_lead', 'role:production', 'role:it', 'role:qa_approver'];

const alertSubject = (d: Deviation) =>
  `Deviation ${d.state.id} (${d.state.severity}): contain within ${humanDuration(d.policy.containmentWindowMs)}`;

/**
 * Containment's first half, before anything else the deviation does: a distribution hold on every
 * batch and the team alerted with its response roles, in one local activity (runtime.ts, `urgent`)
 * and one transaction. The holds are in the state, and so on their way to the read model, as soon
 * as they are placed.
 */
export async function placeHoldsAndAlert(d: Deviation): Promise<void> {
  const { state } = d;
  const c = state.containment;
  assignResponseRoles(d);
  const holds = await d.urgent.placeHoldsAndAlert({
    deviationId: state.id,
    lots: state.batches,
    reason: holdReason(d),
    placedBy: 'system',
    alert: d.notification('containment:alert', 'containment_alert', ALERTED, alertSubject(d), {
      responseRoles: c.responseRoles,
      batches: state.batches,
      dueAt: c.dueAt,
    }),
  });
  c.holds = holds.map((h) => ({ lot: h.lot, holdId: h.holdId, placedAt: h.placedAt }));
  d.changed();
}

/**
 * Containment's second half, on the slow task queue: trace-and-hold of what already shipped and a
 * preliminary reconciliation of every batch.
 */
export async function traceAndReconcile(d: Deviation): Promise<void> {
  const { state } = d;
  const c = state.containment;
  const slow = slowActivities();
  const [trace, preliminary] = await Promise.all([
    slow.support.traceShipments({ deviationId: state.id, lots: state.batches }),
    // A lot shared by two products cannot be reconciled by lot alone: it is left out here, not retried for ever.
    Promise.all(state.batches.map((lot) => slow.reconciliation.reconcileBatch({ lot, deviationId: state.id }).catch(() => null))).then(
      (all) => all.filter((r) => r !== null),
    ),
  ]);
  c.trace = trace;
  c.preliminaryReconciliation = preliminary;
  c.actionsCompletedAt = nowIso();
  d.changed();
}

/**
 * Containment's actions as deviations started before `patched('holds-first')` (workflows/deviation.ts)
 * ran them, all at once on the deviation's task queue, after the recurrence search: those still
 * replaying through here must issue the same commands.
 */
export async function containmentActions(d: Deviation): Promise<void> {
  const { state } = d;
  const c = state.containment;
  const reason = holdReason(d);
  assignResponseRoles(d);
  const [holds, trace, preliminary] = await Promise.all([
    Promise.all(
      state.batches.map((lot) => act.placeHold({ deviationId: state.id, lot, reason, placedBy: 'system' }).then((h) => ({ lot, ...h }))),
    ),
    act.traceShipments({ deviationId: state.id, lots: state.batches }),
    // A lot shared by two products cannot be reconciled by lot alone: it is left out here, not retried for ever.
    Promise.all(state.batches.map((lot) => reconciliation.reconcileBatch({ lot, deviationId: state.id }).catch(() => null))).then((all) =>
      all.filter((r) => r !== null),
    ),
    d.notify('containment:alert', 'containment_alert', ALERTED, alertSubject(d), {
      responseRoles: c.responseRoles,
      batches: state.batches,
      dueAt: c.dueAt,
    }),
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
