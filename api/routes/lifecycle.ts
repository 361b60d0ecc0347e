import { Router, type Request } from 'express';
import { z } from 'zod';
import type { UpdateDefinition } from '@temporalio/common';
import { DEVIATION_ID_PATTERN } from '../../domain/deviation';
import * as steps from '../../domain/lifecycle';
import * as msg from '../../workflows/messages';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { executeStep } from '../services/steps';
import { queryState } from '../services/deviations';
import { parseOr400 } from '../validate';

/** Until users and signatures exist, the body says who completed the step. */
const withActor = <S extends z.ZodObject>(schema: S) => schema.extend({ by: steps.actorSchema });

interface StepRoute {
  path: string;
  schema: z.ZodType;
  update: UpdateDefinition<unknown, [never]>;
  /** Path parameters merged into the payload (e.g. the action ID). */
  params?: (req: Request) => Record<string, string>;
}

const actionParam = (req: Request) => ({ actionId: String(req.params.actionId) });

const STEP_ROUTES: StepRoute[] = [
  { path: 'containment/confirm', schema: steps.confirmContainmentSchema, update: msg.confirmContainment },
  { path: 'evidence', schema: steps.addEvidenceSchema, update: msg.addEvidence },
  { path: 'contributions', schema: steps.addContributionSchema, update: msg.addContribution },
  { path: 'root-cause-analyses', schema: steps.recordRootCauseAnalysisSchema, update: msg.recordRootCauseAnalysis },
  { path: 'risk-assessment', schema: steps.recordRiskAssessmentSchema, update: msg.recordRiskAssessment },
  { path: 'suspect-product', schema: steps.reportSuspectProductSchema, update: msg.reportSuspectProduct },
  { path: 'regulatory-notifications', schema: steps.recordRegulatoryNotificationSchema, update: msg.recordRegulatoryNotification },
  { path: 'investigation/report', schema: steps.submitInvestigationReportSchema, update: msg.submitInvestigationReport },
  { path: 'investigation/approve', schema: steps.approveSchema, update: msg.approveInvestigation },
  { path: 'investigation/reject', schema: steps.rejectSchema, update: msg.rejectInvestigation },
  { path: 'capa/actions', schema: steps.addCapaActionSchema, update: msg.addCapaAction },
  { path: 'capa/approve', schema: steps.approveSchema, update: msg.approveCapaPlan },
  { path: 'capa/actions/:actionId/complete', schema: steps.completeCapaActionSchema, update: msg.completeCapaAction, params: actionParam },
  { path: 'capa/actions/:actionId/cancel', schema: steps.cancelCapaActionSchema, update: msg.cancelCapaAction, params: actionParam },
  { path: 'effectiveness/decide', schema: steps.decideEffectivenessSchema, update: msg.decideEffectiveness },
  { path: 'effectiveness/verify', schema: steps.approveSchema, update: msg.verifyEffectiveness },
  { path: 'dispositions', schema: steps.recordDispositionSchema, update: msg.recordDisposition },
  { path: 'closure/approve', schema: steps.approveSchema, update: msg.approveClosure },
  { path: 'cancel', schema: steps.cancelDeviationSchema, update: msg.cancelDeviation },
] as unknown as StepRoute[];

const CHANGE_CONTROL_ROUTES: StepRoute[] = [
  { path: 'impact-assessment', schema: steps.impactAssessmentSchema, update: msg.recordImpactAssessment },
  { path: 'approve', schema: steps.approveSchema, update: msg.approveChangeControl },
  { path: 'implementation', schema: steps.recordImplementationSchema, update: msg.recordImplementation },
  { path: 'verify', schema: steps.approveSchema, update: msg.verifyChangeControl },
] as unknown as StepRoute[];

function deviationId(raw: unknown): string {
  const id = String(raw);
  if (!DEVIATION_ID_PATTERN.test(id)) throw notFound(`No deviation ${id}.`);
  return id;
}

function changeControlId(raw: unknown): string {
  const id = String(raw);
  if (!/^CC\d{1,4}$/.test(id)) throw notFound(`No change control ${id}.`);
  return id;
}

/** Every lifecycle step: POST /deviations/:id/<step>, an Update with a validator behind each. */
export function lifecycleRoutes(ctx: ApiContext): Router {
  const router = Router();

  for (const route of STEP_ROUTES) {
    router.post(`/deviations/:id/${route.path}`, async (req, res) => {
      const id = deviationId(req.params.id);
      const body = { ...(req.body ?? {}), ...(route.params?.(req) ?? {}) };
      const step = parseOr400(withActor(route.schema as z.ZodObject), body);
      await executeStep(ctx, id, route.update, step as never);
      const state = await queryState(ctx, id);
      res.json({ id, stage: state.stage, deviation: state });
    });
  }

  for (const route of CHANGE_CONTROL_ROUTES) {
    router.post(`/deviations/:id/change-controls/:cc/${route.path}`, async (req, res) => {
      const workflowId = `${deviationId(req.params.id)}-${changeControlId(req.params.cc)}`;
      const step = parseOr400(withActor(route.schema as z.ZodObject), req.body ?? {});
      const record = await executeStep(ctx, workflowId, route.update, step as never);
      res.json(record);
    });
  }

  router.get('/deviations/:id/change-controls/:cc', async (req, res) => {
    const workflowId = `${deviationId(req.params.id)}-${changeControlId(req.params.cc)}`;
    try {
      res.json(await ctx.temporal.workflow.getHandle(workflowId).query(msg.getChangeControlQuery));
    } catch {
      throw notFound(`No change control ${workflowId}.`);
    }
  });

  return router;
}
