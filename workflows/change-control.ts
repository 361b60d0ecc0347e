import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import { nextOverdueReminderInMs, REMINDERS_BEFORE_ESCALATION } from '../domain/overdue-reminders';
import type * as activities from './activity-contracts';
import { lifecycle as steps } from './domain-on-demand';
import { nowIso, runClock } from './clocks';
import * as msg from './messages';
import { parseStep, refuse, setUpdate } from './refusals';
import type { Attribution, ChangeControlInput, ChangeControlRecord, Signature } from './types';

const act = proxyActivities<activities.NotificationActivities & activities.SignatureActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const { REFUSAL } = msg;

/**
 * A change control opened by a CAPA action that changes an SOP, equipment, a computerized system
 * or training: impact assessment, approval, implementation, verification. Approval and
 * verification are electronic signatures; when validation status or re-qualification is affected,
 * approval is dual: two different people.
 */
export async function ChangeControlWorkflow(input: ChangeControlInput): Promise<ChangeControlRecord> {
  const record: ChangeControlRecord = {
    id: input.id,
    deviationId: input.deviationId,
    actionId: input.actionId,
    kind: input.kind,
    description: input.description,
    owner: input.owner,
    dueAt: input.dueAt,
    status: 'impact_assessment',
    approvals: [],
    overdue: false,
    reminders: 0,
  };
  const approvalsNeeded = () =>
    record.impactAssessment && (record.impactAssessment.validationStatusAffected || record.impactAssessment.requalificationRequired)
      ? 2
      : 1;
  const inStatus = (status: ChangeControlRecord['status']) => {
    if (record.status !== status) refuse(REFUSAL.stage, `change control ${record.id} is in ${record.status.replace('_', ' ')}`);
  };

  const SIGNER_ROLES = ['qa_approver', 'qa_head', 'validation'];
  /** Validators only run for new Updates, so every new approval carries a signature. */
  const checkSignature = (step: { by: string; signature?: Signature }, meaning: Signature['meaning']) => {
    if (!step.signature) refuse(REFUSAL.invalid, 'a change-control approval is an electronic signature');
    if (step.signature.login !== step.by) refuse(REFUSAL.invalid, 'the signature belongs to another person');
    if (step.signature.meaning !== meaning) refuse(REFUSAL.invalid, `this step is signed with the meaning "${meaning}"`);
    if (!SIGNER_ROLES.some((r) => step.signature!.roles.includes(r)))
      refuse(REFUSAL.duties, `signing needs one of the roles ${SIGNER_ROLES.join(', ')}`);
  };
  /** The signature goes to the ledger; an approval recorded before signatures existed has none. */
  async function signed(step: { by: string; comment?: string; signature?: Signature }, what: 'approve' | 'verify'): Promise<Attribution> {
    if (!step.signature) return { by: step.by, at: nowIso(), comment: step.comment };
    const s = step.signature;
    const stored = await act.recordSignature({
      taskId: `${input.deviationId}.${input.id}.${what}`,
      deviationId: input.deviationId,
      signerId: s.signerId,
      login: s.login,
      printedName: s.printedName,
      meaning: s.meaning,
      signedAt: s.signedAt,
      recordHash: s.recordHash,
      comment: s.comment ?? null,
    });
    return { by: step.by, at: s.signedAt, comment: step.comment, signature: { ...s, ledgerHash: stored.ledgerHash } };
  }

  /**
   * Signatures accepted but not yet in the record (the ledger append is awaited first): claimed
   * before anything awaits, so a concurrent second request is refused instead of counted twice.
   */
  const approvalsInFlight: string[] = [];
  let verifying = false;

  setHandler(msg.getChangeControlQuery, () => record);

  setUpdate(
    msg.recordImpactAssessment,
    (arg) => {
      const step = parseStep(steps.impactAssessmentSchema, arg);
      const { by, ...assessment } = step;
      record.impactAssessment = { ...assessment, by, at: nowIso() };
      record.status = 'approval';
      return record;
    },
    { validator: (arg) => (parseStep(steps.impactAssessmentSchema, arg), inStatus('impact_assessment')) },
  );

  setUpdate(
    msg.approveChangeControl,
    async (arg) => {
      const step = parseStep(steps.signChangeControlSchema, arg);
      approvalsInFlight.push(step.by);
      const approval = await signed(step, 'approve').finally(() => approvalsInFlight.splice(approvalsInFlight.indexOf(step.by), 1));
      record.approvals.push(approval);
      if (record.approvals.length >= approvalsNeeded()) record.status = 'implementation';
      return record;
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.signChangeControlSchema, arg);
        inStatus('approval');
        checkSignature(step, 'approved');
        if (record.approvals.some((a) => a.by === step.by) || approvalsInFlight.includes(step.by))
          refuse(REFUSAL.duties, 'a dual approval needs two different people');
        if (record.approvals.length + approvalsInFlight.length >= approvalsNeeded())
          refuse(REFUSAL.stage, `change control ${record.id} already has the approvals it needs`);
        if (step.by === record.impactAssessment?.by) refuse(REFUSAL.duties, 'the author of the impact assessment cannot approve it');
      },
    },
  );

  setUpdate(
    msg.recordImplementation,
    (arg) => {
      const step = parseStep(steps.recordImplementationSchema, arg);
      record.implementation = { by: step.by, at: nowIso(), summary: step.summary };
      record.status = 'verification';
      return record;
    },
    { validator: (arg) => (parseStep(steps.recordImplementationSchema, arg), inStatus('implementation')) },
  );

  setUpdate(
    msg.verifyChangeControl,
    async (arg) => {
      const step = parseStep(steps.signChangeControlSchema, arg);
      verifying = true;
      record.verification = await signed(step, 'verify').finally(() => (verifying = false));
      record.status = 'closed';
      return record;
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.signChangeControlSchema, arg);
        inStatus('verification');
        if (verifying) refuse(REFUSAL.stage, `a verification of ${record.id} is being recorded`);
        checkSignature(step, 'verified');
        if (step.by === record.implementation?.by) refuse(REFUSAL.duties, 'the implementer cannot verify their own change');
      },
    },
  );

  const closed = () => record.status === 'closed';
  const notify = (key: string, kind: string, recipients: string[], subject: string) =>
    act.notify({
      dedupeKey: `${input.deviationId}:${input.id}:${key}`,
      deviationId: input.deviationId,
      kind,
      recipients,
      subject,
      body: { changeControl: input.id, dueAt: record.dueAt },
    });

  // Chased like every due date of the lifecycle: overdue at its due date, then reminded, the head of QA from the third reminder.
  await runClock({
    done: closed,
    dueMs: () => Date.parse(record.dueAt),
    due: async () => {
      record.overdue = true;
      await notify('overdue', 'overdue', [record.owner, 'role:validation'], `Change control ${input.deviationId}-${input.id} is overdue`);
    },
    overdue: {
      nextInMs: () => nextOverdueReminderInMs(record.reminders, input.reminderIntervalMs, input.escalatedReminderIntervalMs),
      remind: async () => {
        record.reminders += 1;
        await notify(
          `reminder:${record.reminders}`,
          'overdue_reminder',
          [record.owner, 'role:validation', ...(record.reminders >= REMINDERS_BEFORE_ESCALATION ? ['role:qa_head'] : [])],
          `Reminder ${record.reminders}: change control ${input.deviationId}-${input.id} is overdue`,
        );
      },
    },
  });
  await condition(closed);
  return record;
}
