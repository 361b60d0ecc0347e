import type { Request, Router } from 'express';
import { z } from 'zod';
import { DEVIATION_ID_PATTERN, packagingLineSchema } from '../../domain/deviation';
import { MONITORED_METRIC_IDS, type MonitoredMetric } from '../../domain/monitoring/metrics';
import { READER_ROLES, type Role } from '../../domain/roles';
import { SPC_CHART_KINDS, SPC_MEASURES, SPC_RULE_IDS, spcBaselineSchema, spcRulesSchema } from '../../domain/spc';
import { lineText } from '../../domain/text';
import { chartSvg } from '../../monitoring/chart-svg';
import { CHART_STATUSES, chartDetail, listCharts } from '../../monitoring/charts';
import { currentUser } from '../auth';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { bodyOf, declaredRoutes, queryOf, type RouteSpec } from '../route';
import { approveBaselineBodySchema, changeRulesBodySchema, signBaselineApproval, signRulesChange } from '../services/spc';

export const listChartsQuerySchema = z
  .object({
    line: packagingLineSchema.optional(),
    gtin: z
      .string()
      .regex(/^\d{14}$/, 'a GTIN-14')
      .optional(),
    metric: z.enum(MONITORED_METRIC_IDS as [MonitoredMetric, ...MonitoredMetric[]]).optional(),
    status: z.enum(CHART_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(2000).default(500),
  })
  .strict();

const metricSchema = z.enum(MONITORED_METRIC_IDS as [MonitoredMetric, ...MonitoredMetric[]]);
const batchPointSchema = z.object({ index: z.number().int(), batchId: z.string(), lot: z.string() }).strict();

/**
 * GET /spc/charts/:id's answer (monitoring/charts.ts ChartDetail), for the OpenAPI document; the
 * route's handler is type-checked against it, so the two cannot drift apart.
 */
export const chartDetailResponseSchema = z
  .object({
    id: z.string(),
    line: z.string(),
    gtin: z.string().nullable(),
    metric: metricSchema,
    label: z.string(),
    measure: z.enum(SPC_MEASURES),
    kind: z.enum(SPC_CHART_KINDS).nullable(),
    status: z.enum(CHART_STATUSES),
    rules: spcRulesSchema,
    pointCount: z.number().int(),
    lastPointAt: z.iso.datetime().nullable(),
    approval: z
      .object({
        baseline: spcBaselineSchema,
        batches: z.array(z.string()),
        approvedAt: z.iso.datetime(),
        approvedBy: z.object({ login: z.string(), printedName: z.string() }).strict(),
        ledgerId: z.string(),
      })
      .strict()
      .nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    phase: z.enum(['I', 'II']),
    provisional: z.boolean(),
    limitsFrom: spcBaselineSchema.nullable(),
    limitsProblem: z.string().nullable(),
    points: z.array(
      z
        .object({
          index: z.number().int(),
          batchId: z.string(),
          lot: z.string(),
          gtin: z.string(),
          recordedAt: z.iso.datetime(),
          reportId: z.string(),
          contentHash: z.string(),
          n: z.number(),
          count: z.number(),
          value: z.number().nullable(),
          centre: z.number().nullable(),
          lcl: z.number().nullable(),
          ucl: z.number().nullable(),
          z: z.number().nullable(),
          inBaseline: z.boolean(),
        })
        .strict(),
    ),
    violations: z.array(
      z
        .object({
          rule: z.enum(SPC_RULE_IDS),
          ruleNumber: z.number().int(),
          description: z.string(),
          side: z.enum(['above', 'below']),
          index: z.number().int(),
          batchId: z.string(),
          lot: z.string(),
          points: z.array(batchPointSchema),
          /** The deviation the line's monitor opened for the violation or linked it to; null when it raised none. */
          deviationId: z.string().regex(DEVIATION_ID_PATTERN).nullable(),
        })
        .strict(),
    ),
    changes: z.array(
      z
        .object({
          id: z.string(),
          seq: z.number().int(),
          kind: z.enum(['baseline_approved', 'rules_changed']),
          signer: z.object({ login: z.string(), printedName: z.string() }).strict(),
          meaning: z.string(),
          reason: z.string().nullable(),
          recordHash: z.string(),
          ledgerId: z.string(),
          before: z.unknown(),
          after: z.unknown(),
          changedAt: z.iso.datetime(),
        })
        .strict(),
    ),
  })
  .strict();

/**
 * Who signs a chart's baseline and its rule changes: the people who approve quality records (QA
 * approvers and the head of QA), as at the deviation's QA gates.
 */
export const SPC_CHANGE_ROLES = ['qa_approver', 'qa_head'] as const satisfies readonly Role[];

export const SPC_ROUTES = {
  list: {
    method: 'get',
    path: '/spc/charts',
    summary: 'Control charts: per line and per line × product, one per charted metric',
    roles: READER_ROLES,
    query: listChartsQuerySchema,
  },
  get: {
    method: 'get',
    path: '/spc/charts/:id',
    summary: "A control chart: its points with limits and z, its rules' violations (phase II) or its provisional picture (phase I)",
    roles: READER_ROLES,
    response: chartDetailResponseSchema,
  },
  svg: {
    method: 'get',
    path: '/spc/charts/:id/svg',
    summary: 'A control chart drawn as SVG',
    roles: READER_ROLES,
    produces: 'image/svg+xml',
  },
  approveBaseline: {
    method: 'post',
    path: '/spc/charts/:id/baseline',
    summary: "Approve the chart's baseline (signed: meaning, login and password again); it is frozen and phase II begins",
    roles: SPC_CHANGE_ROLES,
    body: approveBaselineBodySchema,
  },
  changeRules: {
    method: 'post',
    path: '/spc/charts/:id/rules',
    summary: "Change the chart's rules (signed: meaning, reason, login and password again)",
    roles: SPC_CHANGE_ROLES,
    body: changeRulesBodySchema,
  },
} satisfies Record<string, RouteSpec>;

/** The chart named in the path; an ID no chart could have is simply not found. */
function chartIdParam(req: Request): string {
  const parsed = lineText(120).safeParse(String(req.params.id));
  if (!parsed.success) throw notFound(`No control chart ${String(req.params.id).slice(0, 120)}.`);
  return parsed.data;
}

/** Statistical process control of the packaging lines: the charts, and their signed changes. */
export function spcRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(SPC_ROUTES.list, async (req, res) => {
    const q = queryOf(SPC_ROUTES.list, req);
    res.json({ items: await listCharts(ctx.pool, q) });
  });

  routes.add(SPC_ROUTES.get, async (req, res) => {
    const id = chartIdParam(req);
    const detail = await chartDetail(ctx.pool, id);
    if (!detail) throw notFound(`No control chart ${id}.`);
    res.json(detail satisfies z.output<typeof chartDetailResponseSchema>);
  });

  routes.add(SPC_ROUTES.svg, async (req, res) => {
    const id = chartIdParam(req);
    const detail = await chartDetail(ctx.pool, id);
    if (!detail) throw notFound(`No control chart ${id}.`);
    res.type('image/svg+xml').send(chartSvg(detail));
  });

  routes.add(SPC_ROUTES.approveBaseline, async (req, res) => {
    const id = chartIdParam(req);
    const body = bodyOf(SPC_ROUTES.approveBaseline, req.body ?? {});
    res.status(201).json(await signBaselineApproval(ctx, currentUser(req), id, body, req.ip));
  });

  routes.add(SPC_ROUTES.changeRules, async (req, res) => {
    const id = chartIdParam(req);
    const body = bodyOf(SPC_ROUTES.changeRules, req.body ?? {});
    res.status(201).json(await signRulesChange(ctx, currentUser(req), id, body, req.ip));
  });

  return routes.router;
}
