import type { DeviationInput, DeviationSnapshot, DeviationState, InvestigationRound } from '../types';

/** Pure helpers over a deviation's state: no timers, no activities. */

export function initialState(input: DeviationInput): DeviationState {
  return {
    id: input.id,
    title: input.title,
    symptom: input.symptom,
    severity: input.severity,
    source: input.source,
    batches: input.batches,
    lines: input.lines,
    gtins: input.gtins,
    description: input.description,
    reportedBy: input.reportedBy,
    detectedAt: input.detectedAt,
    policy: { name: input.policy.name, version: input.policy.version },
    stage: 'detection',
    transitions: [{ from: null, to: 'detection', at: input.detectedAt, by: input.reportedBy, reason: 'deviation opened' }],
    recurrences: [],
    containment: {
      dueAt: new Date(Date.parse(input.detectedAt) + input.policy.containmentWindowMs).toISOString(),
      holds: [],
      responseRoles: {},
      preliminaryReconciliation: [],
      remindersSent: 0,
    },
    rounds: [],
    regulatory: [],
    deadlines: [],
    tasks: [],
    slaBreaches: [],
    closure: {},
    ...(input.detection ? { detection: input.detection } : {}),
    version: 1,
  };
}

export function newRound(number: number, startedAt: string, reason: string, investigationDueMs: number): InvestigationRound {
  return {
    number,
    startedAt,
    reason,
    investigation: {
      dueAt: new Date(Date.parse(startedAt) + investigationDueMs).toISOString(),
      evidence: [],
      contributions: [],
      analyses: [],
      rejections: [],
    },
    capa: { actions: [] },
    changeControls: [],
    effectiveness: { checks: [] },
  };
}

export function isTerminal(state: DeviationState): boolean {
  return state.stage === 'closed' || state.stage === 'cancelled';
}

/** Lots still on hold, awaiting a disposition. */
export function openHolds(state: DeviationState): string[] {
  return state.containment.holds.filter((h) => !h.disposition).map((h) => h.lot);
}

export function snapshotOf(state: DeviationState): DeviationSnapshot {
  const last = state.transitions[state.transitions.length - 1];
  const open = state.deadlines.filter((d) => !d.metAt);
  const nextDue = open.map((d) => d.dueAt).sort()[0] ?? null;
  const round = state.rounds[state.rounds.length - 1];
  return {
    id: state.id,
    title: state.title,
    symptom: state.symptom,
    severity: state.severity,
    stage: state.stage,
    status: state.stage === 'closed' ? 'closed' : state.stage === 'cancelled' ? 'cancelled' : 'open',
    batches: state.batches,
    lines: state.lines,
    gtins: state.gtins,
    reportedBy: state.reportedBy,
    source: state.source,
    detectedAt: state.detectedAt,
    updatedAt: last?.at ?? state.detectedAt,
    version: state.version,
    slaBreached: state.slaBreaches.length > 0,
    overdue: open.some((d) => d.overdue),
    nextDueAt: isTerminal(state) ? null : nextDue,
    summary: {
      round: round?.number ?? 0,
      holds: state.containment.holds.length,
      openHolds: openHolds(state).length,
      containmentConfirmed: Boolean(state.containment.confirmation),
      containmentLate: state.containment.confirmation?.late ?? false,
      recurrences: state.recurrences.map((r) => r.id),
      openActions: round?.capa.actions.filter((a) => a.status === 'open').length ?? 0,
      regulatoryOpen: state.regulatory.filter((r) => !r.completedAt).length,
      // (only once there is one: the snapshots of deviations without a breach stay as they were)
      ...(state.containment.breaches?.length ? { holdBreaches: state.containment.breaches.length } : {}),
    },
    tasks: state.tasks.map((t) => ({
      id: `${state.id}.${t.id}`,
      gate: t.gate,
      title: t.title,
      roles: t.roles,
      meaning: t.meaning,
      dueAt: t.dueAt,
      status: t.status,
      createdAt: t.createdAt,
      signaturesRequired: t.signaturesRequired,
      signatures: t.signatures.length,
      overdue: state.deadlines.some((d) => d.key === t.id && d.overdue && !d.metAt),
    })),
  };
}

/** Minutes between two ISO instants, rounded down. */
export function minutesBetween(fromIso: string, toIso: string): number {
  return Math.floor((Date.parse(toIso) - Date.parse(fromIso)) / 60_000);
}

/** Recipients a regulatory finding must reach before its clock stops. */
export function requiredRegulatoryRecipients(framework: 'dscsa' | 'eu_fmd'): string[] {
  return framework === 'dscsa' ? ['fda_form_3911', 'trading_partner'] : ['national_competent_authority'];
}

/** The record a cancellation's signature is bound to. */
export function cancellationRecord(state: DeviationState, justification: string): Record<string, unknown> {
  return { deviation: state.id, action: 'cancel', stage: state.stage, justification, batches: state.batches };
}
