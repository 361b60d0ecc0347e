import { lifecycle as steps } from '../domain-on-demand';
import { isoAfter, nowIso } from '../clocks';
import * as msg from '../messages';
import { parseStep, refuse, setUpdate } from '../refusals';
import type { Signature, SignoffTask } from '../types';
import { watchDeadline } from './deadlines';
import { GATE_DEFINITIONS, signerDutyProblem, type Gate } from './gates';
import { act, type Deviation } from './runtime';
import { isTerminal } from './state';

const { REFUSAL } = msg;

/** The sign-off tasks of one deviation: opening them, and the Updates that sign or reject them. */
export interface Signoffs {
  /** Opens a task for a gate; unless another clock already chases it, it is chased like any deadline. */
  open(gate: Gate, dueAt: string, chase?: boolean, subject?: string): SignoffTask;
  /** The default due date of a sign-off task opened now. */
  due(): string;
  /** Appends a signature to the PostgreSQL ledger and answers it with its ledger hash. */
  ledger(task: SignoffTask | null, signature: Signature): Promise<Signature>;
  /** A signature or rejection is accepted and not yet applied. */
  deciding(): boolean;
}

export function signoffs(d: Deviation): Signoffs {
  const { state } = d;
  let taskCount = 0;

  function open(gate: Gate, dueAt: string, chase = true, subject?: string): SignoffTask {
    taskCount += 1;
    const spec = GATE_DEFINITIONS[gate].task;
    const task: SignoffTask = {
      id: `T${taskCount}`,
      gate,
      ...spec,
      roles: [...spec.roles],
      createdAt: nowIso(),
      dueAt,
      status: 'open',
      signatures: [],
      round: d.currentRound()?.number ?? 0,
      ...(subject ? { subject } : {}),
    };
    state.tasks.push(task);
    d.changed();
    const recipients = spec.roles.map((r) => `role:${r}`);
    void d.notify(`${task.id}:created`, 'signoff_required', recipients, `${state.id}: ${spec.title}`, {
      task: `${state.id}.${task.id}`,
      dueAt,
    });
    if (chase)
      void watchDeadline(d, { key: task.id, label: `${spec.title} (${task.id})`, dueAt }, () => task.status !== 'open', recipients);
    return task;
  }
  const due = () => isoAfter(nowIso(), d.policy.overdueReminderIntervalMs);

  async function ledger(task: SignoffTask | null, signature: Signature): Promise<Signature> {
    const stored = await act.recordSignature({
      taskId: `${state.id}.${task ? task.id : 'cancel'}`,
      deviationId: state.id,
      signerId: signature.signerId,
      login: signature.login,
      printedName: signature.printedName,
      meaning: signature.meaning,
      signedAt: signature.signedAt,
      recordHash: signature.recordHash,
      comment: signature.comment ?? null,
    });
    return { ...signature, ledgerHash: stored.ledgerHash };
  }

  /**
   * Decisions accepted but not yet applied: the ledger append is awaited before a signature lands
   * in the state, so without this a second request arriving meanwhile passes the same checks
   * (the same person twice, an approval and a rejection together). A decision is claimed in the
   * handler's first synchronous step, before anything awaits; validators read the claims.
   */
  const inFlight = new Map<string, { rejecting: boolean; signers: string[] }>();
  const claim = (task: SignoffTask, login: string, rejecting: boolean) => {
    const entry = inFlight.get(task.id) ?? { rejecting: false, signers: [] };
    entry.rejecting ||= rejecting;
    entry.signers.push(login);
    inFlight.set(task.id, entry);
  };
  const release = (task: SignoffTask, login: string) => {
    const entry = inFlight.get(task.id);
    if (!entry) return;
    entry.signers = entry.signers.filter((s) => s !== login);
    if (entry.signers.length === 0) inFlight.delete(task.id);
  };

  /** What every signature and rejection must satisfy, checked again here whatever the API checked. */
  const checkDecision = (
    step: { by: string; taskId: string; signature: { login: string; meaning: string; roles: string[] } },
    rejecting: boolean,
  ): SignoffTask => {
    if (isTerminal(state) || d.cancelled()) refuse(REFUSAL.stage, `the deviation is ${state.stage}`);
    const task = state.tasks.find((t) => t.id === step.taskId) ?? refuse(REFUSAL.notFound, `no task ${step.taskId} on ${state.id}`);
    if (task.status !== 'open') refuse(REFUSAL.stage, `task ${step.taskId} is already ${task.status}`);
    if (step.signature.login !== step.by) refuse(REFUSAL.invalid, 'the signature belongs to another person');
    if (rejecting && step.signature.meaning !== 'rejected') refuse(REFUSAL.invalid, 'a rejection is signed with the meaning "rejected"');
    if (!rejecting && step.signature.meaning !== task.meaning) refuse(REFUSAL.invalid, `this task asks for the meaning "${task.meaning}"`);
    const duty = signerDutyProblem(state, task, step.signature);
    if (duty) refuse(REFUSAL.duties, duty);
    const entry = inFlight.get(task.id);
    if (d.flags.cancelling) refuse(REFUSAL.stage, `${state.id} is being cancelled`);
    if (entry) {
      if (entry.signers.includes(step.signature.login)) refuse(REFUSAL.duties, `${step.signature.login} is already signing ${task.id}`);
      if (entry.rejecting || rejecting) refuse(REFUSAL.stage, `another decision on ${task.id} is being recorded`);
      if (task.signatures.length + entry.signers.length >= task.signaturesRequired)
        refuse(REFUSAL.stage, `${task.id} already has the signatures it needs`);
    }
    return task;
  };

  setUpdate(
    msg.signTask,
    async (arg) => {
      const step = parseStep(steps.signTaskSchema, arg);
      const task = state.tasks.find((t) => t.id === step.taskId)!;
      claim(task, step.signature.login, false);
      try {
        const signature = await ledger(task, step.signature as Signature);
        task.signatures.push(signature);
        if (task.signatures.length >= task.signaturesRequired) {
          task.status = 'signed';
          GATE_DEFINITIONS[task.gate].signed(state, task, {
            by: signature.login,
            at: signature.signedAt,
            comment: signature.comment,
            signature,
          });
        }
        d.changed();
        return { ...d.stepResult(), task: `${state.id}.${task.id}`, signature };
      } finally {
        release(task, step.signature.login);
      }
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.signTaskSchema, arg);
        const task = checkDecision(step, false);
        const unmet = GATE_DEFINITIONS[task.gate].precondition(state, task);
        if (unmet) refuse(REFUSAL.rule, unmet);
      },
    },
  );

  setUpdate(
    msg.rejectTask,
    async (arg) => {
      const step = parseStep(steps.rejectTaskSchema, arg);
      const task = state.tasks.find((t) => t.id === step.taskId)!;
      claim(task, step.signature.login, true);
      const signature = await ledger(task, step.signature as Signature).finally(() => release(task, step.signature.login));
      task.status = 'rejected';
      task.rejection = { signature, reason: step.reason };
      // A rejection sends the gate back for rework: a new task, or a new report, or a new round.
      GATE_DEFINITIONS[task.gate].rejected(
        state,
        task,
        { signature, reason: step.reason },
        {
          reopen: (dueAt, chase) => void open(task.gate, dueAt, chase),
          signoffDue: due,
          refuseEffectiveness: (reason) => (d.flags.effectivenessRejected = reason),
        },
      );
      d.changed();
      return { ...d.stepResult(), task: `${state.id}.${task.id}`, signature };
    },
    { validator: (arg) => void checkDecision(parseStep(steps.rejectTaskSchema, arg), true) },
  );

  return { open, due, ledger, deciding: () => inFlight.size > 0 };
}
