import { condition, patched, proxyActivities, setHandler, startChild, type ChildWorkflowHandle } from '@temporalio/workflow';
import type * as activities from '../activities/types';
import * as steps from '../domain/lifecycle';
import { riskClassOf } from '../domain/rca';
import { ChangeControlWorkflow } from './change-control';
import { humanDuration, isoAfter, msUntil, nowIso, waitUntil } from './clocks';
import { initialState, isTerminal, minutesBetween, newRound, openHolds, requiredRegulatoryRecipients, signerDutyProblem, snapshotOf } from './deviation-state';
import * as msg from './messages';
import { parseStep, refuse, setUpdate } from './refusals';
import type {
  CapaAction,
  Deadline,
  Gate,
  Signature,
  SignoffTask,
  DeviationInput,
  DeviationState,
  InvestigationRound,
  RegulatoryNotificationStep,
  Stage,
} from './types';

const act = proxyActivities<activities.ReadModelActivities & activities.HoldActivities & activities.NotificationActivities & activities.InvestigationSupportActivities & activities.SignatureActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const reconciliation = proxyActivities<activities.ReconciliationActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes' },
});

/** Who may complete a CAPA action someone else owns. */
const CAPA_COMPLETERS_BESIDE_OWNER = ['qa_lead', 'qa_head'];
/** Overdue reminders before the escalation to the backup role. */
const REMINDERS_BEFORE_ESCALATION = 3;
const { REFUSAL } = msg;

/** Raised inside the workflow when a QA lead cancels the deviation; caught at the top. */
class DeviationCancelled extends Error {}

/**
 * One deviation, from detection to closure: the workflow ID is the deviation number, and its
 * durable history is the record of who moved it, when and why. Read top to bottom, this function
 * is the lifecycle of DESIGN §2.
 */
export async function DeviationWorkflow(input: DeviationInput): Promise<DeviationState> {
  const policy = input.policy;
  const state = initialState(input);
  const detectedMs = Date.parse(input.detectedAt);
  let published = 0;

  // ── state changes and the read model ──────────────────────────────────────────────────────
  const changed = () => {
    state.version += 1;
  };
  const moveTo = (to: Stage, by: string, reason: string) => {
    state.transitions.push({ from: state.stage, to, at: nowIso(), by, reason });
    state.stage = to;
    changed();
  };
  // One publisher keeps the read model current; a retried or late write never overwrites a newer version.
  void (async () => {
    for (;;) {
      await condition(() => state.version > published);
      const version = state.version;
      await act.recordDeviationSnapshot(snapshotOf(state));
      published = version;
    }
  })();

  const notify = (key: string, kind: string, recipients: string[], subject: string, body: Record<string, unknown> = {}) =>
    act.notify({ dedupeKey: `${state.id}:${key}`, deviationId: state.id, kind, recipients, subject, body: { deviation: state.id, title: state.title, ...body } });

  const cancelled = () => Boolean(state.cancellation);
  /** What an accepted step answers (see StepResult: never the whole state). */
  const stepResult = (): msg.StepResult => ({ id: state.id, stage: state.stage, version: state.version });
  /** Waits for a step of the lifecycle; a cancellation ends the wait and the lifecycle. */
  const waitFor = async (done: () => boolean) => {
    await condition(() => done() || cancelled());
    if (cancelled()) throw new DeviationCancelled();
  };
  const currentRound = (): InvestigationRound | undefined => state.rounds[state.rounds.length - 1];
  const roundOrRefuse = (): InvestigationRound => currentRound() ?? refuse(REFUSAL.stage, 'no investigation round is open');

  /**
   * Watches one due date: a reminder before it, the overdue flag, reminders at the policy
   * interval, escalation to the backup role. An approved extension moves the due date and the
   * watch starts over from the new one.
   */
  async function watchDeadline(d: Omit<Deadline, 'overdue' | 'reminders' | 'escalated'>, isMet: () => boolean, recipients: string[]): Promise<void> {
    const deadline: Deadline = { ...d, overdue: false, reminders: 0, escalated: false };
    state.deadlines.push(deadline);
    changed();
    const stop = () => isMet() || isTerminal(state) || cancelled();
    for (;;) {
      const due = deadline.dueAt;
      const settled = () => stop() || deadline.dueAt !== due;
      // Added after the first release: deviations started before it replay without this reminder.
      if (patched('reminder-before-due')) {
        const soon = msUntil(due) - policy.overdueReminderIntervalMs;
        if (soon > 0 && !(await waitUntil(settled, soon))) {
          await notify(`${deadline.key}:due-soon:${due}`, 'due_soon', recipients, `${deadline.label} is due ${due}`, { dueAt: due });
        }
      }
      if (await waitUntil(settled, msUntil(due))) {
        if (stop()) break;
        continue;
      }
      deadline.overdue = true;
      changed();
      await notify(`${deadline.key}:overdue`, 'overdue', recipients, `${deadline.label} is overdue`, { dueAt: due });
      while (!(await waitUntil(settled, policy.overdueReminderIntervalMs))) {
        deadline.reminders += 1;
        changed();
        await notify(`${deadline.key}:reminder:${deadline.reminders}`, 'overdue_reminder', recipients, `Reminder ${deadline.reminders}: ${deadline.label} is overdue`, { dueAt: due });
        if (deadline.reminders === REMINDERS_BEFORE_ESCALATION) {
          deadline.escalated = true;
          changed();
          await notify(`${deadline.key}:escalation`, 'escalation', ['role:qa_head'], `Escalation: ${deadline.label} still overdue after ${deadline.reminders} reminders`, { dueAt: due });
        }
      }
      if (stop()) break;
      // Extended while overdue: no longer overdue until the new date passes.
      deadline.overdue = false;
      changed();
    }
    if (isMet()) {
      deadline.metAt = nowIso();
      changed();
    }
  }

  // ── 2. containment: the 60-minute clock ──────────────────────────────────────────────────
  async function containmentClock(): Promise<void> {
    const c = state.containment;
    const deadline: Deadline = { key: 'containment', label: 'Containment confirmation', dueAt: c.dueAt, overdue: false, reminders: 0, escalated: false };
    state.deadlines.push(deadline);
    changed();
    const done = () => Boolean(c.confirmation) || cancelled();
    let finished = false;
    for (const offset of policy.containmentRemindersMs) {
      if (await waitUntil(done, detectedMs + offset - Date.now())) {
        finished = true;
        break;
      }
      c.remindersSent += 1;
      deadline.reminders = c.remindersSent;
      changed();
      const left = humanDuration(Math.max(0, policy.containmentWindowMs - offset));
      await notify(`containment:reminder:${c.remindersSent}`, 'containment_reminder', ['role:qa_lead', state.reportedBy], `Containment of ${state.id} is not confirmed: ${left} left`, { dueAt: c.dueAt });
    }
    if (!finished && !(await waitUntil(done, detectedMs + policy.containmentWindowMs - Date.now()))) {
      const at = nowIso();
      c.escalatedAt = at;
      c.slaBreachedAt = at;
      deadline.overdue = true;
      deadline.escalated = true;
      state.slaBreaches.push({ clock: 'containment', at });
      changed();
      await notify('containment:escalation', 'escalation', ['role:qa_head', 'role:qa_lead'], `SLA breach: containment of ${state.id} not confirmed within ${humanDuration(policy.containmentWindowMs)}`, { dueAt: c.dueAt });
    }
    await condition(done);
    if (c.confirmation) {
      deadline.metAt = c.confirmation.at;
      changed();
    }
  }

  async function containmentActions(): Promise<void> {
    const c = state.containment;
    const reason = `Distribution hold for deviation ${state.id}: ${state.title}`;
    c.responseRoles = {
      containmentLead: state.reportedBy,
      packagingLine: 'role:production',
      serializationSystems: 'role:it',
      qualityApproval: 'role:qa_approver',
    };
    const [holds, trace, preliminary] = await Promise.all([
      Promise.all(state.batches.map((lot) => act.placeHold({ deviationId: state.id, lot, reason, placedBy: 'system' }).then((h) => ({ lot, ...h })))),
      act.traceShipments({ deviationId: state.id, lots: state.batches }),
      // A lot shared by two products cannot be reconciled by lot alone: it is left out here, not retried for ever.
      Promise.all(state.batches.map((lot) => reconciliation.reconcileBatch({ lot, deviationId: state.id }).catch(() => null))).then((all) => all.filter((r) => r !== null)),
      notify('containment:alert', 'containment_alert', ['role:qa_lead', 'role:production', 'role:it', 'role:qa_approver'], `Deviation ${state.id} (${state.severity}): contain within ${humanDuration(policy.containmentWindowMs)}`, {
        responseRoles: c.responseRoles,
        batches: state.batches,
        dueAt: c.dueAt,
      }),
    ]);
    c.holds = holds.map((h) => ({ lot: h.lot, holdId: h.holdId, placedAt: h.placedAt }));
    c.trace = trace;
    c.preliminaryReconciliation = preliminary;
    c.actionsCompletedAt = nowIso();
    changed();
  }

  // ── regulatory notification (DSCSA illegitimate / EU FMD suspected falsified) ────────────
  async function regulatoryClock(step: RegulatoryNotificationStep, index: number): Promise<void> {
    const key = `regulatory:${index + 1}`;
    const deadline: Deadline = { key, label: `Regulatory notification (${step.framework})`, dueAt: step.dueAt, overdue: false, reminders: 0, escalated: false };
    state.deadlines.push(deadline);
    changed();
    const startedMs = Date.parse(step.startedAt);
    const done = () => Boolean(step.completedAt) || isTerminal(state) || cancelled();
    let finished = false;
    for (const [i, offset] of policy.regulatoryRemindersMs.entries()) {
      if (await waitUntil(done, startedMs + offset - Date.now())) {
        finished = true;
        break;
      }
      deadline.reminders = i + 1;
      changed();
      await notify(`${key}:reminder:${i + 1}`, 'regulatory_reminder', ['role:qa_head', 'role:qa_lead'], `Regulatory notification for ${state.id} still outstanding`, { dueAt: step.dueAt, required: step.required });
    }
    if (!finished && !(await waitUntil(done, startedMs + policy.regulatoryNotificationWindowMs - Date.now()))) {
      const at = nowIso();
      step.escalatedAt = at;
      deadline.overdue = true;
      deadline.escalated = true;
      state.slaBreaches.push({ clock: key, at });
      changed();
      await notify(`${key}:escalation`, 'escalation', ['role:qa_head'], `SLA breach: regulatory notification for ${state.id} not completed in time`, { dueAt: step.dueAt });
    }
    await condition(done);
    if (step.completedAt) {
      deadline.metAt = step.completedAt;
      changed();
    }
  }

  // ── change controls, as child workflows ──────────────────────────────────────────────────
  const changeControlHandles: Array<Promise<void>> = [];
  async function openChangeControls(round: InvestigationRound): Promise<void> {
    for (const action of round.capa.actions) {
      if (!action.changeControl || action.status === 'cancelled') continue;
      const n = state.rounds.reduce((count, r) => count + r.changeControls.length, 0) + 1;
      const ccId = `CC${n}`;
      action.changeControl.id = ccId;
      const ref = { id: ccId, actionId: action.id, kind: action.changeControl.kind, status: 'open' as const };
      round.changeControls.push(ref);
      changed();
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
          },
        ],
      });
      changeControlHandles.push(
        handle.result().then((record) => {
          const stored = round.changeControls.find((c) => c.id === ccId);
          if (stored) {
            stored.status = 'closed';
            stored.closedAt = nowIso();
            stored.result = record;
            changed();
          }
        }),
      );
    }
  }

  // ── sign-off tasks: every gate waits for electronic signatures ───────────────────────────
  const GATE_SPEC: Record<Gate, { title: string; roles: string[]; meaning: SignoffTask['meaning']; signaturesRequired: number }> = {
    containment_verification: { title: 'Verify containment (holds, trace, alert)', roles: ['qa_lead'], meaning: 'verified', signaturesRequired: 1 },
    investigation_approval: { title: 'Approve the investigation report and its root cause', roles: ['qa_approver', 'qa_head'], meaning: 'approved', signaturesRequired: 1 },
    capa_plan_approval: { title: 'Approve the CAPA plan', roles: ['qa_approver', 'qa_head'], meaning: 'approved', signaturesRequired: 1 },
    effectiveness_verification: { title: 'Verify CAPA effectiveness', roles: ['qa_approver', 'qa_head'], meaning: 'verified', signaturesRequired: 1 },
    closure_approval: { title: 'Final approval of closure (dual)', roles: ['qa_approver', 'qa_head'], meaning: 'approved', signaturesRequired: 2 },
    extension_approval: { title: 'Approve a due-date extension', roles: ['qa_head', 'qa_approver'], meaning: 'approved', signaturesRequired: 1 },
  };
  let taskCount = 0;
  /** Opens a sign-off task; unless another clock already chases its gate, it is chased like any deadline. */
  function openTask(gate: Gate, dueAt: string, chase = true, subject?: string): SignoffTask {
    taskCount += 1;
    const spec = GATE_SPEC[gate];
    const task: SignoffTask = { id: `T${taskCount}`, gate, ...spec, createdAt: nowIso(), dueAt, status: 'open', signatures: [], round: currentRound()?.number ?? 0, ...(subject ? { subject } : {}) };
    state.tasks.push(task);
    changed();
    void notify(`${task.id}:created`, 'signoff_required', spec.roles.map((r) => `role:${r}`), `${state.id}: ${spec.title}`, { task: `${state.id}.${task.id}`, dueAt });
    if (chase) void watchDeadline({ key: task.id, label: `${spec.title} (${task.id})`, dueAt }, () => task.status !== 'open', spec.roles.map((r) => `role:${r}`));
    return task;
  }
  const signoffDue = () => isoAfter(nowIso(), policy.overdueReminderIntervalMs);
  const openTaskOrRefuse = (taskId: string): SignoffTask => {
    const task = state.tasks.find((t) => t.id === taskId) ?? refuse(REFUSAL.notFound, `no task ${taskId} on ${state.id}`);
    if (task.status !== 'open') refuse(REFUSAL.stage, `task ${taskId} is already ${task.status}`);
    return task;
  };
  /** Roles and separation of duties, checked again here whatever the API checked. */
  const checkSigner = (task: SignoffTask, signature: Signature) => {
    const problem = signerDutyProblem(state, task, signature);
    if (problem) refuse(REFUSAL.duties, problem);
  };
  /**
   * Decisions accepted but not yet applied: the ledger append is awaited before a signature lands
   * in the state, so without this a second request arriving meanwhile passes the same checks
   * (the same person twice, an approval and a rejection together). A decision is claimed here in
   * the handler's first synchronous step, before anything awaits; validators read the claims.
   */
  const decisionsInFlight = new Map<string, { rejecting: boolean; signers: string[] }>();
  const claimDecision = (task: SignoffTask, login: string, rejecting: boolean) => {
    const claim = decisionsInFlight.get(task.id) ?? { rejecting: false, signers: [] };
    claim.rejecting ||= rejecting;
    claim.signers.push(login);
    decisionsInFlight.set(task.id, claim);
  };
  const releaseDecision = (task: SignoffTask, login: string) => {
    const claim = decisionsInFlight.get(task.id);
    if (!claim) return;
    claim.signers = claim.signers.filter((s) => s !== login);
    if (claim.signers.length === 0) decisionsInFlight.delete(task.id);
  };
  /** Refuses a decision that would collide with one in flight on the same task. */
  const checkNoCollision = (task: SignoffTask, login: string, rejecting: boolean) => {
    const claim = decisionsInFlight.get(task.id);
    if (cancelling) refuse(REFUSAL.stage, `${state.id} is being cancelled`);
    if (!claim) return;
    if (claim.signers.includes(login)) refuse(REFUSAL.duties, `${login} is already signing ${task.id}`);
    if (claim.rejecting || rejecting) refuse(REFUSAL.stage, `another decision on ${task.id} is being recorded`);
    if (task.signatures.length + claim.signers.length >= task.signaturesRequired) refuse(REFUSAL.stage, `${task.id} already has the signatures it needs`);
  };
  let cancelling = false;
  const gateRule = (task: SignoffTask) => {
    const round = state.rounds.find((r) => r.number === task.round);
    if (task.gate === 'capa_plan_approval') {
      if (!round?.capa.actions.length) refuse(REFUSAL.rule, 'a CAPA plan needs at least one action');
      if (state.severity !== 'minor' && !round.capa.actions.some((a) => a.type === 'corrective' && a.status !== 'cancelled')) {
        refuse(REFUSAL.rule, `a ${state.severity} deviation needs at least one corrective action before the plan can be approved`);
      }
    }
    if (task.gate === 'closure_approval') {
      const pending = openHolds(state);
      if (pending.length) refuse(REFUSAL.rule, `a disposition is needed for every held batch first: ${pending.join(', ')}`);
      if (state.regulatory.some((r) => !r.completedAt)) refuse(REFUSAL.rule, 'a regulatory notification is still outstanding');
    }
  };
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
  let effectivenessRejected: string | null = null;

  function applySignedGate(task: SignoffTask, signature: Signature): void {
    const round = state.rounds.find((r) => r.number === task.round);
    const by = { by: signature.login, at: signature.signedAt, comment: signature.comment, signature };
    switch (task.gate) {
      case 'containment_verification': {
        const late = Date.parse(signature.signedAt) > Date.parse(state.containment.dueAt);
        state.containment.confirmation = { ...by, late, minutesAfterDetection: minutesBetween(state.detectedAt, signature.signedAt) };
        break;
      }
      case 'investigation_approval':
        round!.investigation.approval = by;
        break;
      case 'capa_plan_approval':
        round!.capa.planApproval = by;
        break;
      case 'effectiveness_verification':
        round!.effectiveness.verification = by;
        break;
      case 'closure_approval':
        state.closure.approval = by;
        break;
      case 'extension_approval': {
        const deadline = state.deadlines.find((d) => d.key === task.subject)!;
        const extension = deadline.extensions!.find((e) => e.taskId === task.id)!;
        extension.status = 'approved';
        extension.decision = by;
        deadline.dueAt = extension.to;
        break;
      }
    }
  }

  setUpdate(
    msg.signTask,
    async (arg) => {
      const step = parseStep(steps.signTaskSchema, arg);
      const task = state.tasks.find((t) => t.id === step.taskId)!;
      claimDecision(task, step.signature.login, false);
      try {
        const signature = await ledger(task, step.signature as Signature);
        task.signatures.push(signature);
        if (task.signatures.length >= task.signaturesRequired) {
          task.status = 'signed';
          applySignedGate(task, signature);
        }
        changed();
        return { id: state.id, stage: state.stage, version: state.version, task: `${state.id}.${task.id}`, signature };
      } finally {
        releaseDecision(task, step.signature.login);
      }
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.signTaskSchema, arg);
        if (isTerminal(state) || cancelled()) refuse(REFUSAL.stage, `the deviation is ${state.stage}`);
        const task = openTaskOrRefuse(step.taskId);
        if (step.signature.login !== step.by) refuse(REFUSAL.invalid, 'the signature belongs to another person');
        if (step.signature.meaning !== task.meaning) refuse(REFUSAL.invalid, `this task asks for the meaning "${task.meaning}"`);
        checkSigner(task, step.signature as Signature);
        checkNoCollision(task, step.signature.login, false);
        gateRule(task);
      },
    },
  );

  setUpdate(
    msg.rejectTask,
    async (arg) => {
      const step = parseStep(steps.rejectTaskSchema, arg);
      const task = state.tasks.find((t) => t.id === step.taskId)!;
      claimDecision(task, step.signature.login, true);
      const signature = await ledger(task, step.signature as Signature).finally(() => releaseDecision(task, step.signature.login));
      task.status = 'rejected';
      task.rejection = { signature, reason: step.reason };
      const round = state.rounds.find((r) => r.number === task.round);
      // A rejection sends the gate back for rework: a new task, or a new report, or a new round.
      switch (task.gate) {
        case 'investigation_approval':
          round!.investigation.rejections.push({ by: signature.login, at: signature.signedAt, reason: step.reason, signature });
          round!.investigation.report = undefined;
          break;
        case 'effectiveness_verification':
          effectivenessRejected = step.reason;
          break;
        case 'extension_approval': {
          const extension = state.deadlines.find((d) => d.key === task.subject)?.extensions?.find((e) => e.taskId === task.id);
          if (extension) {
            extension.status = 'rejected';
            extension.decision = { by: signature.login, at: signature.signedAt, comment: step.reason, signature };
          }
          break;
        }
        case 'containment_verification':
          openTask(task.gate, state.containment.dueAt, false);
          break;
        default:
          openTask(task.gate, signoffDue());
      }
      changed();
      return { id: state.id, stage: state.stage, version: state.version, task: `${state.id}.${task.id}`, signature };
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.rejectTaskSchema, arg);
        if (isTerminal(state) || cancelled()) refuse(REFUSAL.stage, `the deviation is ${state.stage}`);
        const task = openTaskOrRefuse(step.taskId);
        if (step.signature.login !== step.by) refuse(REFUSAL.invalid, 'the signature belongs to another person');
        if (step.signature.meaning !== 'rejected') refuse(REFUSAL.invalid, 'a rejection is signed with the meaning "rejected"');
        checkSigner(task, step.signature as Signature);
        checkNoCollision(task, step.signature.login, true);
      },
    },
  );

  // ── Update handlers: validators refuse before anything reaches history ──────────────────
  const inStage = (...stages: Stage[]) => {
    if (!stages.includes(state.stage)) refuse(REFUSAL.stage, `not allowed while the deviation is in ${state.stage}`);
  };
  const notInitiator = (by: string, what: string) => {
    if (by === state.reportedBy) refuse(REFUSAL.duties, `the initiator of ${state.id} cannot ${what}`);
  };
  const openInvestigation = () => {
    inStage('investigation');
    const round = roundOrRefuse();
    if (round.investigation.approval) refuse(REFUSAL.stage, 'the investigation is already approved');
    return round;
  };

  setHandler(msg.getStateQuery, () => state);

  setUpdate(
    msg.addEvidence,
    (arg) => {
      const step = parseStep(steps.addEvidenceSchema, arg);
      const round = roundOrRefuse();
      const at = nowIso();
      for (const item of step.items) round.investigation.evidence.push({ ...item, addedBy: step.by, addedAt: at });
      changed();
      return stepResult();
    },
    { validator: (arg) => (parseStep(steps.addEvidenceSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.addContribution,
    (arg) => {
      const step = parseStep(steps.addContributionSchema, arg);
      roundOrRefuse().investigation.contributions.push({ function: step.function, summary: step.summary, by: step.by, at: nowIso() });
      changed();
      return stepResult();
    },
    { validator: (arg) => (parseStep(steps.addContributionSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.recordRootCauseAnalysis,
    (arg) => {
      const step = parseStep(steps.recordRootCauseAnalysisSchema, arg);
      roundOrRefuse().investigation.analyses.push({ analysis: step.analysis, by: step.by, at: nowIso() });
      changed();
      return stepResult();
    },
    { validator: (arg) => (parseStep(steps.recordRootCauseAnalysisSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.recordRiskAssessment,
    (arg) => {
      const step = parseStep(steps.recordRiskAssessmentSchema, arg);
      roundOrRefuse().investigation.risk = { assessment: step.assessment, riskClass: riskClassOf(step.assessment), by: step.by, at: nowIso() };
      changed();
      return stepResult();
    },
    { validator: (arg) => (parseStep(steps.recordRiskAssessmentSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.reportSuspectProduct,
    async (arg) => {
      const step = parseStep(steps.reportSuspectProductSchema, arg);
      const startedAt = nowIso();
      const regulatory: RegulatoryNotificationStep = {
        framework: step.framework,
        finding: step.finding,
        details: step.details,
        reportedBy: step.by,
        startedAt,
        dueAt: isoAfter(startedAt, policy.regulatoryNotificationWindowMs),
        required: requiredRegulatoryRecipients(step.framework),
        notifications: [],
        late: false,
      };
      const index = state.regulatory.push(regulatory) - 1;
      changed();
      void regulatoryClock(regulatory, index);
      await notify(`regulatory:${index + 1}:start`, 'regulatory_notification_required', ['role:qa_head', 'role:qa_lead'], `${state.id}: product ${step.finding.replace('_', ' ')} (${step.framework.toUpperCase()}): notify ${regulatory.required.join(', ')} by ${regulatory.dueAt}`, { required: regulatory.required, dueAt: regulatory.dueAt });
      return stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.reportSuspectProductSchema, arg);
        inStage('containment', 'investigation', 'capa', 'change_control', 'effectiveness_check');
        if (state.regulatory.some((r) => r.framework === step.framework && !r.completedAt)) refuse(REFUSAL.stage, `a ${step.framework} notification is already under way`);
      },
    },
  );

  setUpdate(
    msg.recordRegulatoryNotification,
    (arg) => {
      const step = parseStep(steps.recordRegulatoryNotificationSchema, arg);
      const open = state.regulatory.find((r) => !r.completedAt && r.required.includes(step.recipient)) ?? state.regulatory.find((r) => !r.completedAt)!;
      const recordedAt = nowIso();
      open.notifications.push({ recipient: step.recipient, reference: step.reference, summary: step.summary, notifiedAt: step.notifiedAt ?? recordedAt, recordedBy: step.by, recordedAt });
      if (open.required.every((r) => open.notifications.some((n) => n.recipient === r))) {
        open.completedAt = recordedAt;
        open.late = Date.parse(recordedAt) > Date.parse(open.dueAt);
      }
      changed();
      return stepResult();
    },
    {
      validator: (arg) => {
        parseStep(steps.recordRegulatoryNotificationSchema, arg);
        if (isTerminal(state)) refuse(REFUSAL.stage, `the deviation is ${state.stage}`);
        if (!state.regulatory.some((r) => !r.completedAt)) refuse(REFUSAL.stage, 'no regulatory notification is outstanding');
      },
    },
  );

  setUpdate(
    msg.submitInvestigationReport,
    (arg) => {
      const step = parseStep(steps.submitInvestigationReportSchema, arg);
      const round = roundOrRefuse();
      round.investigation.report = { by: step.by, at: nowIso(), summary: step.summary, rootCause: step.rootCause };
      changed();
      openTask('investigation_approval', Date.parse(round.investigation.dueAt) > Date.now() ? round.investigation.dueAt : signoffDue());
      return stepResult();
    },
    {
      validator: (arg) => {
        parseStep(steps.submitInvestigationReportSchema, arg);
        const round = openInvestigation();
        if (round.investigation.report) refuse(REFUSAL.stage, 'a report is already submitted and awaits approval');
        if (round.investigation.analyses.length === 0) refuse(REFUSAL.rule, 'record a root-cause analysis before the report');
        if (!round.investigation.risk) refuse(REFUSAL.rule, 'record a risk assessment before the report');
      },
    },
  );

  const planning = () => {
    inStage('capa');
    const round = roundOrRefuse();
    if (round.capa.planApproval) refuse(REFUSAL.stage, 'the CAPA plan is already approved');
    return round;
  };
  const implementing = (actionId: string): CapaAction => {
    inStage('capa');
    const round = roundOrRefuse();
    if (!round.capa.planApproval) refuse(REFUSAL.stage, 'the CAPA plan is not approved yet');
    const action = round.capa.actions.find((a) => a.id === actionId) ?? refuse(REFUSAL.notFound, `no CAPA action ${actionId} in round ${round.number}`);
    if (action.status !== 'open') refuse(REFUSAL.stage, `action ${actionId} is already ${action.status}`);
    return action;
  };

  setUpdate(
    msg.addCapaAction,
    (arg) => {
      const step = parseStep(steps.addCapaActionSchema, arg);
      const round = roundOrRefuse();
      const id = `A${state.rounds.reduce((n, r) => n + r.capa.actions.length, 0) + 1}`;
      round.capa.actions.push({
        id,
        type: step.type,
        description: step.description,
        owner: step.owner,
        dueAt: new Date(step.dueDate).toISOString(),
        status: 'open',
        addedBy: step.by,
        addedAt: nowIso(),
        ...(step.changeControl ? { changeControl: { ...step.changeControl } } : {}),
      });
      changed();
      return stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.addCapaActionSchema, arg);
        planning();
        if (Date.parse(step.dueDate) <= Date.now()) refuse(REFUSAL.invalid, 'dueDate: the due date must be in the future');
      },
    },
  );

  setUpdate(
    msg.completeCapaAction,
    (arg) => {
      const step = parseStep(steps.completeCapaActionSchema, arg);
      const action = roundOrRefuse().capa.actions.find((a) => a.id === step.actionId)!;
      action.status = 'completed';
      action.completion = { by: step.by, at: nowIso(), evidence: step.evidence, evidenceRefs: step.evidenceRefs };
      changed();
      return stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.completeCapaActionSchema, arg);
        const action = implementing(step.actionId);
        if (step.by !== action.owner && !step.roles?.some((r) => CAPA_COMPLETERS_BESIDE_OWNER.includes(r))) {
          refuse(REFUSAL.duties, `only the owner of ${action.id} or QA may complete it`);
        }
      },
    },
  );

  setUpdate(
    msg.cancelCapaAction,
    (arg) => {
      const step = parseStep(steps.cancelCapaActionSchema, arg);
      const action = roundOrRefuse().capa.actions.find((a) => a.id === step.actionId)!;
      action.status = 'cancelled';
      action.cancellation = { by: step.by, at: nowIso(), justification: step.justification };
      changed();
      return stepResult();
    },
    { validator: (arg) => void implementing(parseStep(steps.cancelCapaActionSchema, arg).actionId) },
  );

  let awaitingEffectivenessDecision = false;
  setUpdate(
    msg.decideEffectiveness,
    (arg) => {
      const step = parseStep(steps.decideEffectivenessSchema, arg);
      roundOrRefuse().effectiveness.decision = { by: step.by, at: nowIso(), effective: step.effective, rationale: step.rationale };
      changed();
      return stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.decideEffectivenessSchema, arg);
        inStage('effectiveness_check');
        if (!awaitingEffectivenessDecision) refuse(REFUSAL.stage, 'the effectiveness check is not waiting for a QA decision');
        notInitiator(step.by, 'decide its effectiveness');
      },
    },
  );

  const dispositionsInFlight = new Set<string>();
  setUpdate(
    msg.recordDisposition,
    async (arg) => {
      const step = parseStep(steps.recordDispositionSchema, arg);
      const hold = state.containment.holds.find((h) => h.lot === step.lot)!;
      dispositionsInFlight.add(step.lot);
      const disposed = await act
        .disposeHold({ deviationId: state.id, lot: step.lot, disposition: step.disposition, by: step.by, reason: step.reason })
        .finally(() => dispositionsInFlight.delete(step.lot));
      hold.disposition = step.disposition;
      hold.disposedAt = disposed.disposedAt;
      hold.disposedBy = step.by;
      changed();
      return stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.recordDispositionSchema, arg);
        inStage('closure');
        const hold = state.containment.holds.find((h) => h.lot === step.lot) ?? refuse(REFUSAL.notFound, `batch ${step.lot} is not held by ${state.id}`);
        if (hold.disposition) refuse(REFUSAL.stage, `batch ${step.lot} already has a disposition (${hold.disposition})`);
        if (dispositionsInFlight.has(step.lot)) refuse(REFUSAL.stage, `a disposition of batch ${step.lot} is being recorded`);
      },
    },
  );

  setUpdate(
    msg.requestExtension,
    (arg) => {
      const step = parseStep(steps.requestExtensionSchema, arg);
      const deadline = state.deadlines.find((d) => d.key === step.deadline)!;
      const task = openTask('extension_approval', signoffDue(), true, deadline.key);
      deadline.extensions = [
        ...(deadline.extensions ?? []),
        { from: deadline.dueAt, to: new Date(step.newDueAt).toISOString(), justification: step.justification, requestedBy: step.by, requestedAt: nowIso(), taskId: task.id, status: 'pending' },
      ];
      changed();
      return stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.requestExtensionSchema, arg);
        if (isTerminal(state) || cancelled()) refuse(REFUSAL.stage, `the deviation is ${state.stage}`);
        const deadline = state.deadlines.find((d) => d.key === step.deadline) ?? refuse(REFUSAL.notFound, `no deadline ${step.deadline} on ${state.id}`);
        if (deadline.metAt) refuse(REFUSAL.stage, `${deadline.label} is already met`);
        if (deadline.key === 'containment' || deadline.key.startsWith('regulatory:')) refuse(REFUSAL.rule, 'regulatory and containment clocks cannot be extended');
        if (deadline.extensions?.some((e) => e.status === 'pending')) refuse(REFUSAL.stage, 'an extension of this due date already awaits approval');
        if (Date.parse(step.newDueAt) <= Date.parse(deadline.dueAt)) refuse(REFUSAL.invalid, 'newDueAt: an extension moves the due date later');
      },
    },
  );

  setUpdate(
    msg.cancelDeviation,
    async (arg) => {
      const step = parseStep(steps.cancelDeviationSchema, arg);
      const fromStage = state.stage;
      cancelling = true;
      const signature = await ledger(null, step.signature as Signature);
      state.cancellation = { by: step.by, at: signature.signedAt, justification: step.justification, fromStage, signature };
      for (const t of state.tasks) if (t.status === 'open') t.status = 'cancelled';
      changed();
      return { id: state.id, stage: state.stage, version: state.version, task: `${state.id}.cancel`, signature };
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.cancelDeviationSchema, arg);
        if (state.cancellation || cancelling) refuse(REFUSAL.stage, 'the deviation is already being cancelled');
        if (decisionsInFlight.size > 0) refuse(REFUSAL.stage, 'a signature is being recorded; try again in a moment');
        if (step.signature.login !== step.by) refuse(REFUSAL.invalid, 'the signature belongs to another person');
        if (step.signature.meaning !== 'approved') refuse(REFUSAL.invalid, 'a cancellation is signed with the meaning "approved"');
        if (!['qa_lead', 'qa_head'].some((r) => step.signature.roles.includes(r))) refuse(REFUSAL.duties, 'a cancellation needs a QA lead or the head of QA');
        inStage('detection', 'containment', 'investigation', 'capa', 'change_control', 'effectiveness_check');
      },
    },
  );

  // ── the lifecycle ─────────────────────────────────────────────────────────────────────────
  try {
    // 1. Detection: possible recurrences within the policy window.
    state.recurrences = await act.findRecurrences({
      deviationId: state.id,
      symptom: state.symptom,
      lines: state.lines,
      gtins: state.gtins,
      lots: state.batches,
      since: new Date(detectedMs - policy.recurrenceWindowMs).toISOString(),
    });
    changed();

    // 2. Containment: actions at once, the clock beside them, a QA lead's confirmation to finish.
    moveTo('containment', 'system', 'containment clock started at detection');
    const clock = containmentClock();
    await containmentActions();
    openTask('containment_verification', state.containment.dueAt, false);
    await waitFor(() => Boolean(state.containment.confirmation));
    const confirmation = state.containment.confirmation!;

    let reason = confirmation.late ? 'containment confirmed late (SLA breached)' : 'containment confirmed';
    let by = confirmation.by;
    for (let number = 1; ; number++) {
      // 3. Investigation.
      const round = newRound(number, nowIso(), reason, policy.investigationDueMs);
      state.rounds.push(round);
      moveTo('investigation', by, number === 1 ? reason : `round ${number}: ${reason}`);
      void watchDeadline({ key: `r${number}:investigation`, label: `Investigation report (round ${number})`, dueAt: round.investigation.dueAt }, () => Boolean(round.investigation.approval), ['role:investigator', 'role:qa_lead']);
      await waitFor(() => Boolean(round.investigation.approval));

      // 4. CAPA: plan, approval, implementation (change control may run beside it).
      moveTo('capa', round.investigation.approval!.by, 'root cause confirmed; investigation report approved');
      round.capa.planDueAt = isoAfter(nowIso(), policy.capaPlanDueMs);
      openTask('capa_plan_approval', round.capa.planDueAt);
      await waitFor(() => Boolean(round.capa.planApproval));
      await openChangeControls(round);
      for (const action of round.capa.actions) {
        void watchDeadline({ key: `${action.id}`, label: `CAPA action ${action.id}`, dueAt: action.dueAt }, () => action.status !== 'open', [action.owner, 'role:capa_owner']);
      }
      await waitFor(() => round.capa.actions.every((a) => a.status !== 'open'));
      round.capa.completedAt = nowIso();
      changed();

      // 5. Change control closes before the effectiveness check starts.
      if (round.changeControls.some((c) => c.status === 'open')) {
        moveTo('change_control', 'system', 'CAPA actions complete; change control still open');
        await waitFor(() => round.changeControls.every((c) => c.status === 'closed'));
      }

      // 6. Effectiveness check after the policy's delay, on data.
      moveTo('effectiveness_check', 'system', `CAPA complete; effectiveness check scheduled in ${humanDuration(policy.effectivenessDelayMs)}`);
      let effective: boolean | undefined;
      for (let attempt = 0; effective === undefined; attempt++) {
        round.effectiveness.scheduledFor = isoAfter(nowIso(), policy.effectivenessDelayMs);
        changed();
        if (await condition(cancelled, policy.effectivenessDelayMs)) throw new DeviationCancelled();
        const result = await act.evaluateEffectiveness({
          deviationId: state.id,
          round: number,
          lines: state.lines,
          lots: state.batches,
          since: round.capa.completedAt,
          criteria: policy.effectivenessCriteria,
        });
        round.effectiveness.checks.push(result);
        changed();
        if (result.verdict !== 'inconclusive') effective = result.verdict === 'effective';
        else if (attempt + 1 > policy.effectivenessCriteria.maxInconclusiveRounds) {
          awaitingEffectivenessDecision = true;
          // Publishing the flag adds a read-model write: deviations already waiting here replay without it.
          if (patched('effectiveness-decision-flag')) {
            round.effectiveness.decisionRequired = true;
            changed();
          }
          await notify(`r${number}:effectiveness:decision`, 'decision_required', ['role:qa_approver', 'role:qa_head'], `Effectiveness of ${state.id} could not be evaluated on data: QA decision needed`);
          await waitFor(() => Boolean(round.effectiveness.decision));
          awaitingEffectivenessDecision = false;
          round.effectiveness.decisionRequired = false;
          effective = round.effectiveness.decision!.effective;
        }
      }
      if (!effective) {
        reason = 'effectiveness check not met; investigation reopened';
        by = 'system';
        await notify(`r${number}:effectiveness:not-met`, 'effectiveness_not_met', ['role:qa_lead', 'role:investigator'], `Effectiveness check of ${state.id} not met: investigation reopened`);
        continue;
      }
      effectivenessRejected = null;
      openTask('effectiveness_verification', signoffDue());
      await waitFor(() => Boolean(round.effectiveness.verification) || effectivenessRejected !== null);
      if (effectivenessRejected !== null) {
        reason = `effectiveness verification rejected: ${effectivenessRejected}`;
        by = 'system';
        continue;
      }
      break;
    }

    // 7. Closure: a disposition for every held batch, then QA's final approval.
    moveTo('closure', currentRound()!.effectiveness.verification!.by, 'effectiveness verified');
    openTask('closure_approval', signoffDue());
    await waitFor(() => Boolean(state.closure.approval));
    moveTo('closed', state.closure.approval!.by, 'closure approved');
    void clock;
  } catch (err) {
    if (!(err instanceof DeviationCancelled)) throw err;
    const cancellation = state.cancellation!;
    // Cancellation lifts every hold this deviation placed.
    for (const lot of openHolds(state)) {
      const result = await act.disposeHold({ deviationId: state.id, lot, disposition: 'release', by: cancellation.by, reason: `deviation cancelled: ${cancellation.justification}` });
      const hold = state.containment.holds.find((h) => h.lot === lot)!;
      hold.disposition = 'release';
      hold.disposedAt = result.disposedAt;
      hold.disposedBy = cancellation.by;
    }
    moveTo('cancelled', cancellation.by, `cancelled: ${cancellation.justification}`);
    await notify('cancelled', 'deviation_cancelled', ['role:qa_lead', 'role:production'], `Deviation ${state.id} cancelled; holds lifted`, { justification: cancellation.justification });
  }

  // The record is complete once the read model has the final version.
  await condition(() => published === state.version);
  return state;
}
