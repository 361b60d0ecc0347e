import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/types';
import * as steps from '../domain/lifecycle';
import { msUntil, nowIso, waitUntil } from './clocks';
import * as msg from './messages';
import { parseStep, refuse } from './refusals';
import type { ChangeControlInput, ChangeControlRecord } from './types';

const act = proxyActivities<activities.NotificationActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const { REFUSAL } = msg;

/**
 * A change control opened by a CAPA action that changes an SOP, equipment, a computerized system
 * or training: impact assessment, approval, implementation, verification. When validation status
 * or re-qualification is affected, approval is dual: two different people, validation included.
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
    record.impactAssessment && (record.impactAssessment.validationStatusAffected || record.impactAssessment.requalificationRequired) ? 2 : 1;
  const inStatus = (status: ChangeControlRecord['status']) => {
    if (record.status !== status) refuse(REFUSAL.stage, `change control ${record.id} is in ${record.status.replace('_', ' ')}`);
  };

  setHandler(msg.getChangeControlQuery, () => record);

  setHandler(
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

  setHandler(
    msg.approveChangeControl,
    (arg) => {
      const step = parseStep(steps.approveSchema, arg);
      record.approvals.push({ by: step.by, at: nowIso(), comment: step.comment });
      if (record.approvals.length >= approvalsNeeded()) record.status = 'implementation';
      return record;
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.approveSchema, arg);
        inStatus('approval');
        if (record.approvals.some((a) => a.by === step.by)) refuse(REFUSAL.duties, 'a dual approval needs two different people');
        if (step.by === record.impactAssessment?.by) refuse(REFUSAL.duties, 'the author of the impact assessment cannot approve it');
      },
    },
  );

  setHandler(
    msg.recordImplementation,
    (arg) => {
      const step = parseStep(steps.recordImplementationSchema, arg);
      record.implementation = { by: step.by, at: nowIso(), summary: step.summary };
      record.status = 'verification';
      return record;
    },
    { validator: (arg) => (parseStep(steps.recordImplementationSchema, arg), inStatus('implementation')) },
  );

  setHandler(
    msg.verifyChangeControl,
    (arg) => {
      const step = parseStep(steps.approveSchema, arg);
      record.verification = { by: step.by, at: nowIso(), comment: step.comment };
      record.status = 'closed';
      return record;
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.approveSchema, arg);
        inStatus('verification');
        if (step.by === record.implementation?.by) refuse(REFUSAL.duties, 'the implementer cannot verify their own change');
      },
    },
  );

  const closed = () => record.status === 'closed';
  const notify = (key: string, kind: string, recipients: string[], subject: string) =>
    act.notify({ dedupeKey: `${input.deviationId}:${input.id}:${key}`, deviationId: input.deviationId, kind, recipients, subject, body: { changeControl: input.id, dueAt: record.dueAt } });

  if (!(await waitUntil(closed, msUntil(record.dueAt)))) {
    record.overdue = true;
    await notify('overdue', 'overdue', [record.owner, 'role:validation'], `Change control ${input.deviationId}-${input.id} is overdue`);
    while (!(await waitUntil(closed, input.reminderIntervalMs))) {
      record.reminders += 1;
      await notify(`reminder:${record.reminders}`, 'overdue_reminder', [record.owner, 'role:validation', ...(record.reminders >= 3 ? ['role:qa_head'] : [])], `Reminder ${record.reminders}: change control ${input.deviationId}-${input.id} is overdue`);
    }
  }
  await condition(closed);
  return record;
}
