import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { z } from 'zod';
import type * as steps from '../domain/lifecycle';
import type { ChangeControlRecord, DeviationState } from './types';

/**
 * Every message a deviation understands, shared by the workflow and the API. Human input enters
 * only through Updates; each has a validator, so a refused step leaves no trace in history.
 */
export type Step<S extends z.ZodType> = z.input<S> & { by: string };

export const getStateQuery = defineQuery<DeviationState>('getState');

export const addEvidence = defineUpdate<DeviationState, [Step<typeof steps.addEvidenceSchema>]>('addEvidence');
export const addContribution = defineUpdate<DeviationState, [Step<typeof steps.addContributionSchema>]>('addContribution');
export const recordRootCauseAnalysis = defineUpdate<DeviationState, [Step<typeof steps.recordRootCauseAnalysisSchema>]>('recordRootCauseAnalysis');
export const recordRiskAssessment = defineUpdate<DeviationState, [Step<typeof steps.recordRiskAssessmentSchema>]>('recordRiskAssessment');
export const reportSuspectProduct = defineUpdate<DeviationState, [Step<typeof steps.reportSuspectProductSchema>]>('reportSuspectProduct');
export const recordRegulatoryNotification = defineUpdate<DeviationState, [Step<typeof steps.recordRegulatoryNotificationSchema>]>('recordRegulatoryNotification');
export const submitInvestigationReport = defineUpdate<DeviationState, [Step<typeof steps.submitInvestigationReportSchema>]>('submitInvestigationReport');
export const addCapaAction = defineUpdate<DeviationState, [Step<typeof steps.addCapaActionSchema>]>('addCapaAction');
export const completeCapaAction = defineUpdate<DeviationState, [Step<typeof steps.completeCapaActionSchema>]>('completeCapaAction');
export const cancelCapaAction = defineUpdate<DeviationState, [Step<typeof steps.cancelCapaActionSchema>]>('cancelCapaAction');
export const decideEffectiveness = defineUpdate<DeviationState, [Step<typeof steps.decideEffectivenessSchema>]>('decideEffectiveness');
export const recordDisposition = defineUpdate<DeviationState, [Step<typeof steps.recordDispositionSchema>]>('recordDisposition');
/** Sign-off tasks: every gate of the lifecycle is passed by an electronic signature. */
export const signTask = defineUpdate<DeviationState, [Step<typeof steps.signTaskSchema>]>('signTask');
export const rejectTask = defineUpdate<DeviationState, [Step<typeof steps.rejectTaskSchema>]>('rejectTask');
export const requestExtension = defineUpdate<DeviationState, [Step<typeof steps.requestExtensionSchema>]>('requestExtension');
export const cancelDeviation = defineUpdate<DeviationState, [Step<typeof steps.cancelDeviationSchema>]>('cancelDeviation');

/** Change control child workflow. */
export const getChangeControlQuery = defineQuery<ChangeControlRecord>('getChangeControl');
export const recordImpactAssessment = defineUpdate<ChangeControlRecord, [Step<typeof steps.impactAssessmentSchema>]>('recordImpactAssessment');
export const approveChangeControl = defineUpdate<ChangeControlRecord, [Step<typeof steps.signChangeControlSchema>]>('approveChangeControl');
export const recordImplementation = defineUpdate<ChangeControlRecord, [Step<typeof steps.recordImplementationSchema>]>('recordImplementation');
export const verifyChangeControl = defineUpdate<ChangeControlRecord, [Step<typeof steps.signChangeControlSchema>]>('verifyChangeControl');

/** Error types an Update validator raises; the API maps them to HTTP statuses. */
export const REFUSAL = {
  stage: 'StageConflict', // 409: the current stage does not allow the step
  rule: 'RuleViolation', // 409: a rule of the process forbids it (e.g. no corrective action)
  invalid: 'InvalidInput', // 400: the payload is malformed
  notFound: 'NotFound', // 404: an unknown action, lot or change control
  duties: 'SeparationOfDuties', // 403: the same person may not do both
} as const;
