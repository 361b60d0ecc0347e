import type { Attribution, DeviationState, Signature, SignoffTask } from '../types';
import { minutesBetween, openHolds } from './state';

/**
 * Every gate of the lifecycle as one table: who signs it and with what meaning, the duties of its
 * signers, what must hold before it is signed, the record the signature is bound to, and what
 * signing or rejecting it does. The workflow, its Update validators and the API all read this
 * table, so a gate is added here once; `Record<Gate, GateDefinition>` makes the compiler name a
 * gate without an entry, and GateDefinition names a part an entry forgot.
 */
export const GATES = [
  'containment_verification',
  'investigation_approval',
  'capa_plan_approval',
  'effectiveness_verification',
  'closure_approval',
  'extension_approval',
] as const;
export type Gate = (typeof GATES)[number];

/** What a rejection may ask of the lifecycle. */
export interface RejectionEffects {
  /** A new task for the same gate, to sign after rework. */
  reopen(dueAt: string, chase: boolean): void;
  /** The default due date of a sign-off task opened now. */
  signoffDue(): string;
  /** The effectiveness verification was refused: the lifecycle opens a new investigation round. */
  refuseEffectiveness(reason: string): void;
}

export interface GateDefinition {
  task: { title: string; roles: string[]; meaning: SignoffTask['meaning']; signaturesRequired: number };
  /** The initiator may sign this gate too (only containment: the QA lead who opened it confirms it). */
  initiatorMaySign: boolean;
  /** A duty of this gate beyond the common ones (a role of the task, not the initiator, not twice); null when the signer may sign. */
  duty(state: DeviationState, task: SignoffTask, login: string): string | null;
  /** What must hold before the gate is signed; refused as a rule of the process otherwise. */
  precondition(state: DeviationState, task: SignoffTask): string | null;
  /** What the signature is bound to, beside the task's own identity (21 CFR 11.70). */
  record(state: DeviationState, task: SignoffTask): Record<string, unknown>;
  /** What the last signature the gate needs does. */
  signed(state: DeviationState, task: SignoffTask, by: Attribution & { signature: Signature }): void;
  /** What a rejection does (the task is already marked rejected). */
  rejected(state: DeviationState, task: SignoffTask, rejection: { signature: Signature; reason: string }, effects: RejectionEffects): void;
}

const QA_SIGNERS = ['qa_approver', 'qa_head'];
const noDuty = () => null;
const noPrecondition = () => null;
const roundOf = (state: DeviationState, task: SignoffTask) => state.rounds.find((r) => r.number === task.round);
const extensionOf = (state: DeviationState, task: SignoffTask) =>
  state.deadlines.find((d) => d.key === task.subject)?.extensions?.find((e) => e.taskId === task.id);
/** Most gates, rejected, are signed again after rework: a new task for the same gate. */
const reopenForRework: GateDefinition['rejected'] = (_state, _task, _rejection, effects) => effects.reopen(effects.signoffDue(), true);

export const GATE_DEFINITIONS: Record<Gate, GateDefinition> = {
  containment_verification: {
    task: { title: 'Verify containment (holds, trace, alert)', roles: ['qa_lead'], meaning: 'verified', signaturesRequired: 1 },
    initiatorMaySign: true,
    duty: noDuty,
    precondition: noPrecondition,
    record: (state) => ({
      dueAt: state.containment.dueAt,
      holds: state.containment.holds.map((h) => ({ lot: h.lot, holdId: h.holdId })),
      trace: state.containment.trace ?? null,
      preliminaryReconciliation: state.containment.preliminaryReconciliation.map((r) => ({
        lot: r.lot,
        reportId: r.reportId,
        contentHash: r.contentHash,
      })),
    }),
    signed: (state, _task, by) => {
      const late = Date.parse(by.signature.signedAt) > Date.parse(state.containment.dueAt);
      state.containment.confirmation = { ...by, late, minutesAfterDetection: minutesBetween(state.detectedAt, by.signature.signedAt) };
    },
    // The containment clock already chases the confirmation: the new task is not chased again.
    rejected: (state, _task, _rejection, effects) => effects.reopen(state.containment.dueAt, false),
  },
  investigation_approval: {
    task: { title: 'Approve the investigation report and its root cause', roles: QA_SIGNERS, meaning: 'approved', signaturesRequired: 1 },
    initiatorMaySign: false,
    duty: (state, task, login) =>
      roundOf(state, task)?.investigation.report?.by === login ? 'the author of the report cannot approve it' : null,
    precondition: noPrecondition,
    record: (state, task) => {
      const round = roundOf(state, task);
      return {
        round: task.round,
        report: round?.investigation.report
          ? {
              by: round.investigation.report.by,
              summary: round.investigation.report.summary,
              rootCause: round.investigation.report.rootCause,
            }
          : null,
        analyses: round?.investigation.analyses.map((a) => a.analysis) ?? [],
        risk: round?.investigation.risk?.assessment ?? null,
        evidence: round?.investigation.evidence.map((e) => ({ kind: e.kind, ref: e.ref, sha256: e.sha256 ?? null })) ?? [],
      };
    },
    signed: (state, task, by) => {
      roundOf(state, task)!.investigation.approval = by;
    },
    // A rejected report goes back to its author; submitting it again opens the next task.
    rejected: (state, task, { signature, reason }) => {
      const round = roundOf(state, task)!;
      round.investigation.rejections.push({ by: signature.login, at: signature.signedAt, reason, signature });
      round.investigation.report = undefined;
    },
  },
  capa_plan_approval: {
    task: { title: 'Approve the CAPA plan', roles: QA_SIGNERS, meaning: 'approved', signaturesRequired: 1 },
    initiatorMaySign: false,
    duty: noDuty,
    precondition: (state, task) => {
      const round = roundOf(state, task);
      if (!round?.capa.actions.length) return 'a CAPA plan needs at least one action';
      if (state.severity !== 'minor' && !round.capa.actions.some((a) => a.type === 'corrective' && a.status !== 'cancelled')) {
        return `a ${state.severity} deviation needs at least one corrective action before the plan can be approved`;
      }
      return null;
    },
    record: (state, task) => ({
      round: task.round,
      actions:
        roundOf(state, task)?.capa.actions.map((a) => ({
          id: a.id,
          type: a.type,
          description: a.description,
          owner: a.owner,
          dueAt: a.dueAt,
          changeControl: a.changeControl ?? null,
        })) ?? [],
    }),
    signed: (state, task, by) => {
      roundOf(state, task)!.capa.planApproval = by;
    },
    rejected: reopenForRework,
  },
  effectiveness_verification: {
    task: { title: 'Verify CAPA effectiveness', roles: QA_SIGNERS, meaning: 'verified', signaturesRequired: 1 },
    initiatorMaySign: false,
    duty: noDuty,
    precondition: noPrecondition,
    record: (state, task) => {
      const round = roundOf(state, task);
      return {
        round: task.round,
        checks: round?.effectiveness.checks ?? [],
        decision: round?.effectiveness.decision
          ? { effective: round.effectiveness.decision.effective, rationale: round.effectiveness.decision.rationale }
          : null,
      };
    },
    signed: (state, task, by) => {
      roundOf(state, task)!.effectiveness.verification = by;
    },
    rejected: (_state, _task, { reason }, effects) => effects.refuseEffectiveness(reason),
  },
  closure_approval: {
    task: { title: 'Final approval of closure (dual)', roles: QA_SIGNERS, meaning: 'approved', signaturesRequired: 2 },
    initiatorMaySign: false,
    duty: noDuty,
    precondition: (state) => {
      const pending = openHolds(state);
      if (pending.length) return `a disposition is needed for every held batch first: ${pending.join(', ')}`;
      if (state.regulatory.some((r) => !r.completedAt)) return 'a regulatory notification is still outstanding';
      return null;
    },
    record: (state) => ({
      dispositions: state.containment.holds.map((h) => ({ lot: h.lot, disposition: h.disposition ?? null })),
      rounds: state.rounds.length,
      regulatory: state.regulatory.map((r) => ({ framework: r.framework, completedAt: r.completedAt ?? null })),
    }),
    signed: (state, _task, by) => {
      state.closure.approval = by;
    },
    rejected: reopenForRework,
  },
  extension_approval: {
    task: { title: 'Approve a due-date extension', roles: ['qa_head', 'qa_approver'], meaning: 'approved', signaturesRequired: 1 },
    initiatorMaySign: false,
    duty: (state, task, login) =>
      extensionOf(state, task)?.requestedBy === login ? 'the person who requested an extension cannot approve it' : null,
    precondition: noPrecondition,
    record: (state, task) => {
      const extension = extensionOf(state, task);
      return {
        deadline: task.subject ?? null,
        from: extension?.from ?? null,
        to: extension?.to ?? null,
        justification: extension?.justification ?? null,
      };
    },
    signed: (state, task, by) => {
      const deadline = state.deadlines.find((d) => d.key === task.subject)!;
      const extension = extensionOf(state, task)!;
      extension.status = 'approved';
      extension.decision = by;
      deadline.dueAt = extension.to;
    },
    rejected: (state, task, { signature, reason }) => {
      const extension = extensionOf(state, task);
      if (extension) {
        extension.status = 'rejected';
        extension.decision = { by: signature.login, at: signature.signedAt, comment: reason, signature };
      }
    },
  },
};

/**
 * The record a sign-off task's signature is bound to (21 CFR 11.70): the API hashes its canonical
 * form, so a signature cannot be moved to another record or survive a change to this one.
 */
export function signedRecord(state: DeviationState, task: SignoffTask): Record<string, unknown> {
  const base = {
    deviation: state.id,
    task: task.id,
    gate: task.gate,
    meaning: task.meaning,
    title: state.title,
    severity: state.severity,
    batches: state.batches,
  };
  return { ...base, ...GATE_DEFINITIONS[task.gate].record(state, task) };
}

/**
 * Separation of duties for one signer of one task, as the workflow's validator and the API's
 * inbox and pre-check all apply it: null when this person may sign (or reject) it.
 */
export function signerDutyProblem(
  state: DeviationState,
  task: SignoffTask,
  signer: { login: string; roles: readonly string[] },
): string | null {
  const gate = GATE_DEFINITIONS[task.gate];
  if (!task.roles.some((r) => signer.roles.includes(r))) return `signing ${task.id} needs one of the roles ${task.roles.join(', ')}`;
  if (!gate.initiatorMaySign && signer.login === state.reportedBy)
    return `the initiator of ${state.id} cannot sign its ${task.gate.replace(/_/g, ' ')}`;
  if (task.signatures.some((s) => s.login === signer.login)) return 'a dual approval needs two different people';
  return gate.duty(state, task, signer.login);
}
