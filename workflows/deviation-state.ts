import type { DeviationInput, DeviationSnapshot, DeviationState, InvestigationRound, SignoffTask } from './types';

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
    detectedAt: state.detectedAt,
    updatedAt: last?.at ?? state.detectedAt,
    version: state.version,
    slaBreached: state.slaBreaches.length > 0,
    overdue: open.some((d) => d.overdue),
    nextDueAt: isTerminalStage(state) ? null : nextDue,
    summary: {
      round: round?.number ?? 0,
      holds: state.containment.holds.length,
      openHolds: openHolds(state).length,
      containmentConfirmed: Boolean(state.containment.confirmation),
      containmentLate: state.containment.confirmation?.late ?? false,
      recurrences: state.recurrences.map((r) => r.id),
      openActions: round?.capa.actions.filter((a) => a.status === 'open').length ?? 0,
      regulatoryOpen: state.regulatory.filter((r) => !r.completedAt).length,
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

function isTerminalStage(state: DeviationState): boolean {
  return isTerminal(state);
}

/** Minutes between two ISO instants, rounded down. */
export function minutesBetween(fromIso: string, toIso: string): number {
  return Math.floor((Date.parse(toIso) - Date.parse(fromIso)) / 60_000);
}

/** Recipients a regulatory finding must reach before its clock stops. */
export function requiredRegulatoryRecipients(framework: 'dscsa' | 'eu_fmd'): string[] {
  return framework === 'dscsa' ? ['fda_form_3911', 'trading_partner'] : ['national_competent_authority'];
}

/**
 * The record a sign-off task's signature is bound to (21 CFR 11.70): the API hashes its canonical
 * form, so a signature cannot be moved to another record or survive a change to this one.
 */
export function signedRecord(state: DeviationState, task: SignoffTask): Record<string, unknown> {
  const round = state.rounds.find((r) => r.number === task.round);
  const base = { deviation: state.id, task: task.id, gate: task.gate, meaning: task.meaning, title: state.title, severity: state.severity, batches: state.batches };
  switch (task.gate) {
    case 'containment_verification':
      return { ...base, dueAt: state.containment.dueAt, holds: state.containment.holds.map((h) => ({ lot: h.lot, holdId: h.holdId })), trace: state.containment.trace ?? null, preliminaryReconciliation: state.containment.preliminaryReconciliation.map((r) => ({ lot: r.lot, reportId: r.reportId, contentHash: r.contentHash })) };
    case 'investigation_approval':
      return { ...base, round: task.round, report: round?.investigation.report ? { by: round.investigation.report.by, summary: round.investigation.report.summary, rootCause: round.investigation.report.rootCause } : null, analyses: round?.investigation.analyses.map((a) => a.analysis) ?? [], risk: round?.investigation.risk?.assessment ?? null, evidence: round?.investigation.evidence.map((e) => ({ kind: e.kind, ref: e.ref, sha256: e.sha256 ?? null })) ?? [] };
    case 'capa_plan_approval':
      return { ...base, round: task.round, actions: round?.capa.actions.map((a) => ({ id: a.id, type: a.type, description: a.description, owner: a.owner, dueAt: a.dueAt, changeControl: a.changeControl ?? null })) ?? [] };
    case 'effectiveness_verification':
      return { ...base, round: task.round, checks: round?.effectiveness.checks ?? [], decision: round?.effectiveness.decision ? { effective: round.effectiveness.decision.effective, rationale: round.effectiveness.decision.rationale } : null };
    case 'extension_approval': {
      const deadline = state.deadlines.find((d) => d.key === task.subject);
      const extension = deadline?.extensions?.find((e) => e.taskId === task.id);
      return { ...base, deadline: task.subject ?? null, from: extension?.from ?? null, to: extension?.to ?? null, justification: extension?.justification ?? null };
    }
    case 'closure_approval':
      return { ...base, dispositions: state.containment.holds.map((h) => ({ lot: h.lot, disposition: h.disposition ?? null })), rounds: state.rounds.length, regulatory: state.regulatory.map((r) => ({ framework: r.framework, completedAt: r.completedAt ?? null })) };
  }
}

/** The record a cancellation's signature is bound to. */
export function cancellationRecord(state: DeviationState, justification: string): Record<string, unknown> {
  return { deviation: state.id, action: 'cancel', stage: state.stage, justification, batches: state.batches };
}

/**
 * Separation of duties for one signer of one task, as the workflow's validator and the API's
 * inbox and pre-check all apply it: null when this person may sign (or reject) it.
 */
export function signerDutyProblem(state: DeviationState, task: SignoffTask, signer: { login: string; roles: readonly string[] }): string | null {
  if (!task.roles.some((r) => signer.roles.includes(r))) return `signing ${task.id} needs one of the roles ${task.roles.join(', ')}`;
  if (task.gate !== 'containment_verification' && signer.login === state.reportedBy) return `the initiator of ${state.id} cannot sign its ${task.gate.replace(/_/g, ' ')}`;
  if (task.signatures.some((s) => s.login === signer.login)) return 'a dual approval needs two different people';
  if (task.gate === 'investigation_approval') {
    const round = state.rounds.find((r) => r.number === task.round);
    if (round?.investigation.report?.by === signer.login) return 'the author of the report cannot approve it';
  }
  if (task.gate === 'extension_approval') {
    const extension = state.deadlines.find((d) => d.key === task.subject)?.extensions?.find((e) => e.taskId === task.id);
    if (extension?.requestedBy === signer.login) return 'the person who requested an extension cannot approve it';
  }
  return null;
}
