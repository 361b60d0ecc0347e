import type { Request, Router } from 'express';
import type { z } from 'zod';
import type { UpdateDefinition } from '@temporalio/common';
import { DEVIATION_ID_PATTERN } from '../../domain/deviation';
import * as steps from '../../domain/lifecycle';
import { CANCELLATION_ROLES, READER_ROLES, type Role } from '../../domain/roles';
import type { TaskSignatureMeaning } from '../../domain/signatures';
import * as msg from '../../workflows/messages';
import { currentUser, type AuthenticatedUser } from '../auth';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { bodyOf, declaredRoutes, type RouteSpec } from '../route';
import { queryState } from '../services/deviations';
import { buildSignature, cancelBodySchema, signChangeControlBodySchema } from '../services/signing';
import { changeControlRecord, executeStep } from '../services/steps';
import { cancelDeviation } from '../services/tasks';
import { parseOr400 } from '../validate';

/** Who took a step, as the Update's payload names them. */
interface Actor {
  by: string;
  roles?: string[];
}

interface StepCall {
  ctx: ApiContext;
  req: Request;
  user: AuthenticatedUser;
  deviationId: string;
  /** The workflow the Update goes to: the deviation's, or its change control's. */
  workflowId: string;
}

/**
 * A lifecycle step that records work: an Update with a validator behind each; the caller's login is
 * the actor. Gates are passed only by electronic signature, through /tasks (api/routes/tasks.ts).
 */
interface StepRoute {
  /** Below /deviations/:id/ (a deviation's step) or /deviations/:id/change-controls/:cc/. */
  path: string;
  roles: readonly Role[];
  /** The request body's schema. */
  body: z.ZodType;
  /** Path parameters merged into the body (e.g. the action ID). */
  params?: (req: Request) => Record<string, string>;
  /** Validates the body and sends the step as its Update; the Update's answer. */
  send(call: StepCall, body: unknown): Promise<unknown>;
}

/**
 * A deviation's step: the body, validated, with the caller (login and roles) as the actor. The
 * schema's output must be an input the Update takes (its validator parses it again), and the
 * compiler checks the schema and the Update belong together.
 */
function deviationStep<O extends I, I, R>(
  path: string,
  schema: z.ZodType<O, I>,
  update: UpdateDefinition<R, [I & Actor]>,
  roles: readonly Role[],
  params?: (req: Request) => Record<string, string>,
): StepRoute {
  return {
    path,
    roles,
    body: schema,
    params,
    send: ({ ctx, workflowId, user }, body) =>
      executeStep(ctx, workflowId, update, { ...parseOr400(schema, body), by: user.login, roles: [...user.roles] }),
  };
}

/** A change control's step: the body, validated, with the caller's login as the actor. */
function changeControlStep<O extends I, I, R>(
  path: string,
  schema: z.ZodType<O, I>,
  update: UpdateDefinition<R, [I & Actor]>,
  roles: readonly Role[],
): StepRoute {
  return {
    path,
    roles,
    body: schema,
    send: ({ ctx, workflowId, user }, body) => executeStep(ctx, workflowId, update, { ...parseOr400(schema, body), by: user.login }),
  };
}

/** A change control's approval or verification: an electronic signature over the change control's record. */
function signedChangeControlStep<R>(
  path: string,
  update: UpdateDefinition<R, [msg.Step<typeof steps.signChangeControlSchema>]>,
  roles: readonly Role[],
  meaning: TaskSignatureMeaning,
): StepRoute {
  return {
    path,
    roles,
    body: signChangeControlBodySchema,
    send: async ({ ctx, req, user, deviationId, workflowId }, body) => {
      const { login, password, comment } = parseOr400(signChangeControlBodySchema, body);
      const record = await changeControlRecord(ctx, workflowId);
      const signature = await buildSignature(
        ctx,
        user,
        { login, password },
        meaning,
        record,
        { taskId: `${workflowId}.${path}`, deviationId },
        req.ip,
        comment,
      );
      return executeStep(ctx, workflowId, update, { by: user.login, ...(comment ? { comment } : {}), signature });
    },
  };
}

const actionParam = (req: Request) => ({ actionId: String(req.params.actionId) });
const INVESTIGATION: Role[] = ['investigator', 'qa_lead'];
const FUNCTIONS: Role[] = ['investigator', 'qa_lead', 'production', 'it', 'validation', 'qa_approver'];
const CAPA: Role[] = ['capa_owner', 'qa_lead', 'investigator'];
const ACTION_OWNERS: Role[] = ['capa_owner', 'qa_lead', 'production', 'it', 'validation'];
const QA_DECIDERS: Role[] = ['qa_approver', 'qa_head'];
const CHANGE_CONTROL_SIGNERS: Role[] = ['qa_approver', 'qa_head', 'validation'];

/** A deviation's steps: path (below /deviations/:id/), body schema, Update, roles. */
const STEP_ROUTES: StepRoute[] = [
  deviationStep('evidence', steps.addEvidenceSchema, msg.addEvidence, INVESTIGATION),
  deviationStep('contributions', steps.addContributionSchema, msg.addContribution, FUNCTIONS),
  deviationStep('root-cause-analyses', steps.recordRootCauseAnalysisSchema, msg.recordRootCauseAnalysis, INVESTIGATION),
  deviationStep('risk-assessment', steps.recordRiskAssessmentSchema, msg.recordRiskAssessment, INVESTIGATION),
  deviationStep('suspect-product', steps.reportSuspectProductSchema, msg.reportSuspectProduct, [...INVESTIGATION, 'qa_head']),
  deviationStep('regulatory-notifications', steps.recordRegulatoryNotificationSchema, msg.recordRegulatoryNotification, [
    'qa_lead',
    'qa_head',
  ]),
  deviationStep('investigation/report', steps.submitInvestigationReportSchema, msg.submitInvestigationReport, INVESTIGATION),
  deviationStep('capa/actions', steps.addCapaActionSchema, msg.addCapaAction, CAPA),
  deviationStep('capa/actions/:actionId/complete', steps.completeCapaActionSchema, msg.completeCapaAction, ACTION_OWNERS, actionParam),
  deviationStep(
    'capa/actions/:actionId/cancel',
    steps.cancelCapaActionSchema,
    msg.cancelCapaAction,
    ['capa_owner', 'qa_lead'],
    actionParam,
  ),
  deviationStep('effectiveness/decide', steps.decideEffectivenessSchema, msg.decideEffectiveness, QA_DECIDERS),
  deviationStep('dispositions', steps.recordDispositionSchema, msg.recordDisposition, QA_DECIDERS),
  deviationStep('extensions', steps.requestExtensionSchema, msg.requestExtension, [...FUNCTIONS, 'capa_owner']),
];

/** A change control's steps (below /deviations/:id/change-controls/:cc/). */
const CHANGE_CONTROL_ROUTES: StepRoute[] = [
  changeControlStep('impact-assessment', steps.impactAssessmentSchema, msg.recordImpactAssessment, ['validation', 'it']),
  signedChangeControlStep('approve', msg.approveChangeControl, CHANGE_CONTROL_SIGNERS, 'approved'),
  changeControlStep('implementation', steps.recordImplementationSchema, msg.recordImplementation, [
    'production',
    'it',
    'validation',
    'capa_owner',
  ]),
  signedChangeControlStep('verify', msg.verifyChangeControl, CHANGE_CONTROL_SIGNERS, 'verified'),
];

const stepRoute = (step: StepRoute) => ({
  step,
  spec: {
    method: 'post',
    path: `/deviations/:id/${step.path}`,
    summary: `Lifecycle step: ${step.path}`,
    roles: step.roles,
    body: step.body,
  } satisfies RouteSpec,
});
const changeControlRoute = (step: StepRoute) => ({
  step,
  spec: {
    method: 'post',
    path: `/deviations/:id/change-controls/:cc/${step.path}`,
    summary: `Change control: ${step.path}`,
    roles: step.roles,
    body: step.body,
  } satisfies RouteSpec,
});
const DECLARED_STEPS = STEP_ROUTES.map(stepRoute);
const DECLARED_CHANGE_CONTROL_STEPS = CHANGE_CONTROL_ROUTES.map(changeControlRoute);

const CANCEL_ROUTE = {
  method: 'post',
  path: '/deviations/:id/cancel',
  summary: 'Cancel with a justification and an electronic signature',
  roles: CANCELLATION_ROLES,
  body: cancelBodySchema,
} satisfies RouteSpec;
const CHANGE_CONTROL_READ_ROUTE = {
  method: 'get',
  path: '/deviations/:id/change-controls/:cc',
  summary: 'A change control',
  roles: READER_ROLES,
} satisfies RouteSpec;

/** Every lifecycle route, in the order the router registers them. */
export const LIFECYCLE_ROUTES: RouteSpec[] = [
  ...DECLARED_STEPS.map((r) => r.spec),
  CANCEL_ROUTE,
  ...DECLARED_CHANGE_CONTROL_STEPS.map((r) => r.spec),
  CHANGE_CONTROL_READ_ROUTE,
];

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
  const routes = declaredRoutes(ctx);

  for (const { step, spec } of DECLARED_STEPS) {
    routes.add(spec, async (req, res) => {
      const id = deviationId(req.params.id);
      const body = { ...(req.body ?? {}), ...(step.params?.(req) ?? {}) };
      await step.send({ ctx, req, user: currentUser(req), deviationId: id, workflowId: id }, body);
      const state = await queryState(ctx, id);
      res.json({ id, stage: state.stage, deviation: state });
    });
  }

  routes.add(CANCEL_ROUTE, async (req, res) => {
    const id = deviationId(req.params.id);
    const body = bodyOf(CANCEL_ROUTE, req.body ?? {});
    await cancelDeviation(ctx, currentUser(req), id, body, req.ip);
    const state = await queryState(ctx, id);
    res.json({ id, stage: state.stage, deviation: state });
  });

  for (const { step, spec } of DECLARED_CHANGE_CONTROL_STEPS) {
    routes.add(spec, async (req, res) => {
      const id = deviationId(req.params.id);
      const workflowId = `${id}-${changeControlId(req.params.cc)}`;
      res.json(await step.send({ ctx, req, user: currentUser(req), deviationId: id, workflowId }, req.body ?? {}));
    });
  }

  routes.add(CHANGE_CONTROL_READ_ROUTE, async (req, res) => {
    res.json(await changeControlRecord(ctx, `${deviationId(req.params.id)}-${changeControlId(req.params.cc)}`));
  });

  return routes.router;
}
