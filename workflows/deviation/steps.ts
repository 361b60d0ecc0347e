import { lifecycle as steps, rca } from '../domain-on-demand';
import { CANCELLATION_ROLES } from '../../domain/roles';
import { isoAfter, nowIso } from '../clocks';
import * as msg from '../messages';
import { parseStep, refuse, setUpdate } from '../refusals';
import type { CapaAction, RegulatoryNotificationStep, Signature, Stage } from '../types';
import { regulatoryClock } from './deadlines';
import { act, type Deviation } from './runtime';
import type { Signoffs } from './signoffs';
import { isTerminal, requiredRegulatoryRecipients } from './state';

const { REFUSAL } = msg;
/** Who may complete a CAPA action someone else owns. */
const CAPA_COMPLETERS_BESIDE_OWNER = ['qa_lead', 'qa_head'];

/**
 * The steps people take on a deviation besides signing its gates (signoffs.ts): investigation,
 * regulatory notification, CAPA, effectiveness, dispositions, extensions, cancellation. Each is an
 * Update whose validator refuses before anything reaches history; the handler records the step.
 */
export function registerSteps(d: Deviation, signoffs: Signoffs): void {
  const { state } = d;
  const inStage = (...stages: Stage[]) => {
    if (!stages.includes(state.stage)) refuse(REFUSAL.stage, `not allowed while the deviation is in ${state.stage}`);
  };
  const notInitiator = (by: string, what: string) => {
    if (by === state.reportedBy) refuse(REFUSAL.duties, `the initiator of ${state.id} cannot ${what}`);
  };
  const openInvestigation = () => {
    inStage('investigation');
    const round = d.roundOrRefuse();
    if (round.investigation.approval) refuse(REFUSAL.stage, 'the investigation is already approved');
    return round;
  };

  setUpdate(
    msg.addEvidence,
    (arg) => {
      const step = parseStep(steps.addEvidenceSchema, arg);
      const round = d.roundOrRefuse();
      const at = nowIso();
      for (const item of step.items) round.investigation.evidence.push({ ...item, addedBy: step.by, addedAt: at });
      d.changed();
      return d.stepResult();
    },
    { validator: (arg) => (parseStep(steps.addEvidenceSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.addContribution,
    (arg) => {
      const step = parseStep(steps.addContributionSchema, arg);
      d.roundOrRefuse().investigation.contributions.push({ function: step.function, summary: step.summary, by: step.by, at: nowIso() });
      d.changed();
      return d.stepResult();
    },
    { validator: (arg) => (parseStep(steps.addContributionSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.recordRootCauseAnalysis,
    (arg) => {
      const step = parseStep(steps.recordRootCauseAnalysisSchema, arg);
      d.roundOrRefuse().investigation.analyses.push({ analysis: step.analysis, by: step.by, at: nowIso() });
      d.changed();
      return d.stepResult();
    },
    { validator: (arg) => (parseStep(steps.recordRootCauseAnalysisSchema, arg), openInvestigation()) },
  );

  setUpdate(
    msg.recordRiskAssessment,
    (arg) => {
      const step = parseStep(steps.recordRiskAssessmentSchema, arg);
      d.roundOrRefuse().investigation.risk = {
        assessment: step.assessment,
        riskClass: rca.riskClassOf(step.assessment),
        by: step.by,
        at: nowIso(),
      };
      d.changed();
      return d.stepResult();
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
        dueAt: isoAfter(startedAt, d.policy.regulatoryNotificationWindowMs),
        required: requiredRegulatoryRecipients(step.framework),
        notifications: [],
        late: false,
      };
      const index = state.regulatory.push(regulatory) - 1;
      d.changed();
      void regulatoryClock(d, regulatory, index);
      await d.notify(
        `regulatory:${index + 1}:start`,
        'regulatory_notification_required',
        ['role:qa_head', 'role:qa_lead'],
        `${state.id}: product ${step.finding.replace('_', ' ')} (${step.framework.toUpperCase()}): notify ${regulatory.required.join(', ')} by ${regulatory.dueAt}`,
        { required: regulatory.required, dueAt: regulatory.dueAt },
      );
      return d.stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.reportSuspectProductSchema, arg);
        inStage('containment', 'investigation', 'capa', 'change_control', 'effectiveness_check');
        if (state.regulatory.some((r) => r.framework === step.framework && !r.completedAt))
          refuse(REFUSAL.stage, `a ${step.framework} notification is already under way`);
      },
    },
  );

  setUpdate(
    msg.recordRegulatoryNotification,
    (arg) => {
      const step = parseStep(steps.recordRegulatoryNotificationSchema, arg);
      const open =
        state.regulatory.find((r) => !r.completedAt && r.required.includes(step.recipient)) ??
        state.regulatory.find((r) => !r.completedAt)!;
      const recordedAt = nowIso();
      open.notifications.push({
        recipient: step.recipient,
        reference: step.reference,
        summary: step.summary,
        notifiedAt: step.notifiedAt ?? recordedAt,
        recordedBy: step.by,
        recordedAt,
      });
      if (open.required.every((r) => open.notifications.some((n) => n.recipient === r))) {
        open.completedAt = recordedAt;
        open.late = Date.parse(recordedAt) > Date.parse(open.dueAt);
      }
      d.changed();
      return d.stepResult();
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
      const round = d.roundOrRefuse();
      round.investigation.report = { by: step.by, at: nowIso(), summary: step.summary, rootCause: step.rootCause };
      d.changed();
      signoffs.open(
        'investigation_approval',
        Date.parse(round.investigation.dueAt) > Date.now() ? round.investigation.dueAt : signoffs.due(),
      );
      return d.stepResult();
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
    const round = d.roundOrRefuse();
    if (round.capa.planApproval) refuse(REFUSAL.stage, 'the CAPA plan is already approved');
    return round;
  };
  const implementing = (actionId: string): CapaAction => {
    inStage('capa');
    const round = d.roundOrRefuse();
    if (!round.capa.planApproval) refuse(REFUSAL.stage, 'the CAPA plan is not approved yet');
    const action =
      round.capa.actions.find((a) => a.id === actionId) ?? refuse(REFUSAL.notFound, `no CAPA action ${actionId} in round ${round.number}`);
    if (action.status !== 'open') refuse(REFUSAL.stage, `action ${actionId} is already ${action.status}`);
    return action;
  };

  setUpdate(
    msg.addCapaAction,
    (arg) => {
      const step = parseStep(steps.addCapaActionSchema, arg);
      const round = d.roundOrRefuse();
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
      d.changed();
      return d.stepResult();
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
      const action = d.roundOrRefuse().capa.actions.find((a) => a.id === step.actionId)!;
      action.status = 'completed';
      action.completion = { by: step.by, at: nowIso(), evidence: step.evidence, evidenceRefs: step.evidenceRefs };
      d.changed();
      return d.stepResult();
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
      const action = d.roundOrRefuse().capa.actions.find((a) => a.id === step.actionId)!;
      action.status = 'cancelled';
      action.cancellation = { by: step.by, at: nowIso(), justification: step.justification };
      d.changed();
      return d.stepResult();
    },
    { validator: (arg) => void implementing(parseStep(steps.cancelCapaActionSchema, arg).actionId) },
  );

  setUpdate(
    msg.decideEffectiveness,
    (arg) => {
      const step = parseStep(steps.decideEffectivenessSchema, arg);
      d.roundOrRefuse().effectiveness.decision = { by: step.by, at: nowIso(), effective: step.effective, rationale: step.rationale };
      d.changed();
      return d.stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.decideEffectivenessSchema, arg);
        inStage('effectiveness_check');
        if (!d.flags.awaitingEffectivenessDecision) refuse(REFUSAL.stage, 'the effectiveness check is not waiting for a QA decision');
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
      d.changed();
      return d.stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.recordDispositionSchema, arg);
        inStage('closure');
        const hold =
          state.containment.holds.find((h) => h.lot === step.lot) ??
          refuse(REFUSAL.notFound, `batch ${step.lot} is not held by ${state.id}`);
        if (hold.disposition) refuse(REFUSAL.stage, `batch ${step.lot} already has a disposition (${hold.disposition})`);
        if (dispositionsInFlight.has(step.lot)) refuse(REFUSAL.stage, `a disposition of batch ${step.lot} is being recorded`);
      },
    },
  );

  setUpdate(
    msg.requestExtension,
    (arg) => {
      const step = parseStep(steps.requestExtensionSchema, arg);
      const deadline = state.deadlines.find((x) => x.key === step.deadline)!;
      const task = signoffs.open('extension_approval', signoffs.due(), true, deadline.key);
      deadline.extensions = [
        ...(deadline.extensions ?? []),
        {
          from: deadline.dueAt,
          to: new Date(step.newDueAt).toISOString(),
          justification: step.justification,
          requestedBy: step.by,
          requestedAt: nowIso(),
          taskId: task.id,
          status: 'pending',
        },
      ];
      d.changed();
      return d.stepResult();
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.requestExtensionSchema, arg);
        if (isTerminal(state) || d.cancelled()) refuse(REFUSAL.stage, `the deviation is ${state.stage}`);
        const deadline =
          state.deadlines.find((x) => x.key === step.deadline) ?? refuse(REFUSAL.notFound, `no deadline ${step.deadline} on ${state.id}`);
        if (deadline.metAt) refuse(REFUSAL.stage, `${deadline.label} is already met`);
        if (deadline.key === 'containment' || deadline.key.startsWith('regulatory:'))
          refuse(REFUSAL.rule, 'regulatory and containment clocks cannot be extended');
        if (deadline.extensions?.some((e) => e.status === 'pending'))
          refuse(REFUSAL.stage, 'an extension of this due date already awaits approval');
        if (Date.parse(step.newDueAt) <= Date.parse(deadline.dueAt))
          refuse(REFUSAL.invalid, 'newDueAt: an extension moves the due date later');
      },
    },
  );

  setUpdate(
    msg.cancelDeviation,
    async (arg) => {
      const step = parseStep(steps.cancelDeviationSchema, arg);
      const fromStage = state.stage;
      d.flags.cancelling = true;
      const signature = await signoffs.ledger(null, step.signature as Signature);
      state.cancellation = { by: step.by, at: signature.signedAt, justification: step.justification, fromStage, signature };
      for (const t of state.tasks) if (t.status === 'open') t.status = 'cancelled';
      d.changed();
      return { ...d.stepResult(), task: `${state.id}.cancel`, signature };
    },
    {
      validator: (arg) => {
        const step = parseStep(steps.cancelDeviationSchema, arg);
        if (state.cancellation || d.flags.cancelling) refuse(REFUSAL.stage, 'the deviation is already being cancelled');
        if (signoffs.deciding()) refuse(REFUSAL.stage, 'a signature is being recorded; try again in a moment');
        if (step.signature.login !== step.by) refuse(REFUSAL.invalid, 'the signature belongs to another person');
        if (step.signature.meaning !== 'approved') refuse(REFUSAL.invalid, 'a cancellation is signed with the meaning "approved"');
        if (!CANCELLATION_ROLES.some((r) => step.signature.roles.includes(r)))
          refuse(REFUSAL.duties, 'a cancellation needs a QA lead or the head of QA');
        inStage('detection', 'containment', 'investigation', 'capa', 'change_control', 'effectiveness_check');
      },
    },
  );
}
