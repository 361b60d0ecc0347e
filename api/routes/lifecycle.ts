import { Router, type Request } from 'express';
import { z } from 'zod';
import type { UpdateDefinition } from '@temporalio/common';
import { DEVIATION_ID_PATTERN } from '../../domain/deviation';
import * as steps from '../../domain/lifecycle';
import { READER_ROLES, type Role } from '../../domain/roles';
import * as msg from '../../workflows/messages';
import { authenticate, currentUser, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { queryState } from '../services/deviations';
import { buildSignature, cancelBodySchema, signChangeControlBodySchema } from '../services/signing';
import { executeStep } from '../services/steps';
import { cancelDeviation } from '../services/tasks';
import { parseOr400 } from '../validate';

export interface StepRoute {
  path: string;
  schema: z.ZodObject;
  update: UpdateDefinition<unknown, [never]>;
  roles: Role[];
  /** Path parameters merged into the payload (e.g. the action ID). */
  params?: (req: Request) => Record<string, string>;
  /** Steps that are electronic signatures: the body carries login and password, not the payload. */
  signed?: 'approved' | 'verified';
}

const actionParam = (req: Request) => ({ actionId: String(req.params.actionId) });
const INVESTIGATION: Role[] = ['investigator', 'qa_lead'];
const FUNCTIONS: Role[] = ['investigator', 'qa_lead', 'production', 'it', 'validation', 'qa_approver'];
const CAPA: Role[] = ['capa_owner', 'qa_lead', 'investigator'];
const ACTION_OWNERS: Role[] = ['capa_owner', 'qa_lead', 'production', 'it', 'validation'];
const QA_DECIDERS: Role[] = ['qa_approver', 'qa_head'];

/**
 * Lifecycle steps that record work: an Update with a validator behind each; the caller's login is
 * the actor. Gates are passed only by electronic signature, through /tasks (api/routes/tasks.ts).
 */
export const STEP_ROUTES = [
  { path: 'evidence', schema: steps.addEvidenceSchema, update: msg.addEvidence, roles: INVESTIGATION },
  { path: 'contributions', schema: steps.addContributionSchema, update: msg.addContribution, roles: FUNCTIONS },
  { path: 'root-cause-analyses', schema: steps.recordRootCauseAnalysisSchema, update: msg.recordRootCauseAnalysis, roles: INVESTIGATION },
  { path: 'risk-assessment', schema: steps.recordRiskAssessmentSchema, update: msg.recordRiskAssessment, roles: INVESTIGATION },
  { path: 'suspect-product', schema: steps.reportSuspectProductSchema, update: msg.reportSuspectProduct, roles: [...INVESTIGATION, 'qa_head'] },
  { path: 'regulatory-notifications', schema: steps.recordRegulatoryNotificationSchema, update: msg.recordRegulatoryNotification, roles: ['qa_lead', 'qa_head'] },
  { path: 'investigation/report', schema: steps.submitInvestigationReportSchema, update: msg.submitInvestigationReport, roles: INVESTIGATION },
  { path: 'capa/actions', schema: steps.addCapaActionSchema, update: msg.addCapaAction, roles: CAPA },
  { path: 'capa/actions/:actionId/complete', schema: steps.completeCapaActionSchema, update: msg.completeCapaAction, roles: ACTION_OWNERS, params: actionParam },
  { path: 'capa/actions/:actionId/cancel', schema: steps.cancelCapaActionSchema, update: msg.cancelCapaAction, roles: ['capa_owner', 'qa_lead'], params: actionParam },
  { path: 'effectiveness/decide', schema: steps.decideEffectivenessSchema, update: msg.decideEffectiveness, roles: QA_DECIDERS },
  { path: 'dispositions', schema: steps.recordDispositionSchema, update: msg.recordDisposition, roles: QA_DECIDERS },
  { path: 'extensions', schema: steps.requestExtensionSchema, update: msg.requestExtension, roles: [...FUNCTIONS, 'capa_owner'] },
] as unknown as StepRoute[];

export const CHANGE_CONTROL_ROUTES = [
  { path: 'impact-assessment', schema: steps.impactAssessmentSchema, update: msg.recordImpactAssessment, roles: ['validation', 'it'] },
  { path: 'approve', schema: signChangeControlBodySchema, update: msg.approveChangeControl, roles: ['qa_approver', 'qa_head', 'validation'], signed: 'approved' },
  { path: 'implementation', schema: steps.recordImplementationSchema, update: msg.recordImplementation, roles: ['production', 'it', 'validation', 'capa_owner'] },
  { path: 'verify', schema: signChangeControlBodySchema, update: msg.verifyChangeControl, roles: ['qa_approver', 'qa_head', 'validation'], signed: 'verified' },
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

export function lifecycleRoutes(ctx: ApiContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  for (const route of STEP_ROUTES) {
    router.post(`/deviations/:id/${route.path}`, auth, requireRole(...route.roles), async (req, res) => {
      const id = deviationId(req.params.id);
      const body = { ...(req.body ?? {}), ...(route.params?.(req) ?? {}) };
      const step = parseOr400(route.schema, body);
      const user = currentUser(req);
      await executeStep(ctx, id, route.update, { ...step, by: user.login, roles: [...user.roles] } as never);
      const state = await queryState(ctx, id);
      res.json({ id, stage: state.stage, deviation: state });
    });
  }

  router.post('/deviations/:id/cancel', auth, requireRole('qa_lead', 'qa_head'), async (req, res) => {
    const id = deviationId(req.params.id);
    const body = parseOr400(cancelBodySchema, req.body ?? {});
    await cancelDeviation(ctx, currentUser(req), id, body, req.ip);
    const state = await queryState(ctx, id);
    res.json({ id, stage: state.stage, deviation: state });
  });

  for (const route of CHANGE_CONTROL_ROUTES) {
    router.post(`/deviations/:id/change-controls/:cc/${route.path}`, auth, requireRole(...route.roles), async (req, res) => {
      const id = deviationId(req.params.id);
      const workflowId = `${id}-${changeControlId(req.params.cc)}`;
      const user = currentUser(req);
      const body = parseOr400(route.schema, req.body ?? {}) as Record<string, unknown>;
      let payload: Record<string, unknown> = { ...body, by: user.login };
      if (route.signed) {
        const { login, password, comment } = body as { login: string; password: string; comment?: string };
        const record = await changeControlRecord(workflowId);
        const signature = await buildSignature(ctx, user, { login, password }, route.signed, record, { taskId: `${workflowId}.${route.path}`, deviationId: id }, req.ip, comment);
        payload = { by: user.login, ...(comment ? { comment } : {}), signature };
      }
      res.json(await executeStep(ctx, workflowId, route.update, payload as never));
    });
  }

  async function changeControlRecord(workflowId: string) {
    try {
      return await ctx.temporal.workflow.getHandle(workflowId).query(msg.getChangeControlQuery);
    } catch {
      throw notFound(`No change control ${workflowId}.`);
    }
  }

  router.get('/deviations/:id/change-controls/:cc', auth, requireRole(...READER_ROLES), async (req, res) => {
    res.json(await changeControlRecord(`${deviationId(req.params.id)}-${changeControlId(req.params.cc)}`));
  });

  return router;
}
