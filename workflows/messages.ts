import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { z } from 'zod';
import type * as steps from '../domain/lifecycle';
import type { ChangeControlRecord, DeviationState, HoldBreachNotice, MonitoringSignalRecord, Signature, Stage } from './types';

/**
 * Every message a deviation understands, shared by the workflow and the API. Human input enters
 * only through Updates; each has a validator, so a refused step leaves no trace in history.
 */
export type Step<S extends z.ZodType> = z.input<S> & { by: string; roles?: string[] };

/**
 * What an accepted step answers. An Update's result is stored in history with the step, so it
 * carries what the caller needs (where the deviation stands), never the whole state: returning
 * the state made every step add the whole record to history again.
 */
export interface StepResult {
  id: string;
  stage: Stage;
  version: number;
}
/** A signature or rejection answers with the signature as stored (with its ledger hash). */
export interface SignatureResult extends StepResult {
  task: string;
  signature: Signature;
}

export const getStateQuery = defineQuery<DeviationState>('getState');

export const addEvidence = defineUpdate<StepResult, [Step<typeof steps.addEvidenceSchema>]>('addEvidence');
export const addContribution = defineUpdate<StepResult, [Step<typeof steps.addContributionSchema>]>('addContribution');
export const recordRootCauseAnalysis = defineUpdate<StepResult, [Step<typeof steps.recordRootCauseAnalysisSchema>]>(
  'recordRootCauseAnalysis',
);
export const recordRiskAssessment = defineUpdate<StepResult, [Step<typeof steps.recordRiskAssessmentSchema>]>('recordRiskAssessment');
export const reportSuspectProduct = defineUpdate<StepResult, [Step<typeof steps.reportSuspectProductSchema>]>('reportSuspectProduct');
export const recordRegulatoryNotification = defineUpdate<StepResult, [Step<typeof steps.recordRegulatoryNotificationSchema>]>(
  'recordRegulatoryNotification',
);
export const submitInvestigationReport = defineUpdate<StepResult, [Step<typeof steps.submitInvestigationReportSchema>]>(
  'submitInvestigationReport',
);
export const addCapaAction = defineUpdate<StepResult, [Step<typeof steps.addCapaActionSchema>]>('addCapaAction');
export const completeCapaAction = defineUpdate<StepResult, [Step<typeof steps.completeCapaActionSchema>]>('completeCapaAction');
export const cancelCapaAction = defineUpdate<StepResult, [Step<typeof steps.cancelCapaActionSchema>]>('cancelCapaAction');
export const decideEffectiveness = defineUpdate<StepResult, [Step<typeof steps.decideEffectivenessSchema>]>('decideEffectiveness');
export const recordDisposition = defineUpdate<StepResult, [Step<typeof steps.recordDispositionSchema>]>('recordDisposition');
/** Sign-off tasks: every gate of the lifecycle is passed by an electronic signature. */
export const signTask = defineUpdate<SignatureResult, [Step<typeof steps.signTaskSchema>]>('signTask');
export const rejectTask = defineUpdate<SignatureResult, [Step<typeof steps.rejectTaskSchema>]>('rejectTask');
export const requestExtension = defineUpdate<StepResult, [Step<typeof steps.requestExtensionSchema>]>('requestExtension');
export const cancelDeviation = defineUpdate<SignatureResult, [Step<typeof steps.cancelDeviationSchema>]>('cancelDeviation');

/**
 * Capture found a shipping or receiving event for product of a batch this deviation holds. A
 * Signal, not an Update: no person asks for it and nothing may refuse it (the event happened); it
 * arrives at least once, and the workflow keeps each breach once, by its ID.
 */
export const holdBreachesSignal = defineSignal<[HoldBreachNotice]>('holdBreaches');

/**
 * A line monitor found a signal on a batch of this deviation's line and symptom while it is open:
 * a recurrence, linked here instead of opening another deviation. A Signal (a workflow cannot send
 * an Update); the monitor may send it again after a restart, and the workflow keeps each signal
 * once, by its key.
 */
export const monitoringSignal = defineSignal<[MonitoringSignalRecord]>('monitoringSignal');

/**
 * The line monitor (workflows/line-monitor.ts), one per watched line: a batch's point was recorded
 * (completed or reconciled). By reference: the batch's ID, the point itself stays in batch_metrics.
 * Whoever records a point sends it with signal-with-start, which starts the line's monitor at its
 * first point.
 */
export interface BatchPointNotice {
  batchId: string;
}
export const batchPointSignal = defineSignal<[BatchPointNotice]>('batchPoint');
export const lineMonitorWorkflowId = (line: string): string => `monitor-${line}`;

/** Change control child workflow. */
export const getChangeControlQuery = defineQuery<ChangeControlRecord>('getChangeControl');
export const recordImpactAssessment = defineUpdate<ChangeControlRecord, [Step<typeof steps.impactAssessmentSchema>]>(
  'recordImpactAssessment',
);
export const approveChangeControl = defineUpdate<ChangeControlRecord, [Step<typeof steps.signChangeControlSchema>]>('approveChangeControl');
export const recordImplementation = defineUpdate<ChangeControlRecord, [Step<typeof steps.recordImplementationSchema>]>(
  'recordImplementation',
);
export const verifyChangeControl = defineUpdate<ChangeControlRecord, [Step<typeof steps.signChangeControlSchema>]>('verifyChangeControl');

/** Error types an Update validator raises; the API maps them to HTTP statuses. */
export const REFUSAL = {
  stage: 'StageConflict', // 409: the current stage does not allow the step
  rule: 'RuleViolation', // 409: a rule of the process forbids it (e.g. no corrective action)
  invalid: 'InvalidInput', // 400: the payload is malformed
  notFound: 'NotFound', // 404: an unknown action, lot or change control
  duties: 'SeparationOfDuties', // 403: the same person may not do both
} as const;
