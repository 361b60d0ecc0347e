import type { Router } from 'express';
import { z } from 'zod';
import { requestRowFor } from '../../audit/middleware';
import { lineText } from '../../domain/text';
import { DEVIATION_ID_PATTERN, SEVERITIES, deviationSearchSchema, openDeviationSchema, packagingLineSchema } from '../../domain/deviation';
import { STAGES } from '../../workflows/types';
import type { ApiContext } from '../context';
import { currentUser } from '../auth';
import { READER_ROLES } from '../../domain/roles';
import { notFound } from '../problem';
import { bodyOf, declaredRoutes, queryOf, type RouteSpec } from '../route';
import { openDeviation, queryState } from '../services/deviations';
import { listDeviations } from '../services/read-model';
import { parseOr400 } from '../validate';

export const idempotencyKeySchema = lineText(200).optional();

/** The answer to opening a deviation: 201 when this request opened it, 200 when its Idempotency-Key had. */
export const openedDeviationSchema = z.object({
  id: z.string(),
  stage: z.enum(STAGES),
  /** Distribution holds in place as the answer left: one per batch, placed before answering (empty if that failed: the workflow places them). */
  holds: z.array(z.object({ lot: z.string(), holdId: z.string(), placedAt: z.string() })),
});

export const listDeviationsQuerySchema = z
  .object({
    stage: z.enum(STAGES).optional(),
    severity: z.enum(SEVERITIES).optional(),
    batch: lineText(20).optional(),
    line: packagingLineSchema.optional(),
    q: deviationSearchSchema.optional(),
    overdue: z.enum(['true', 'false']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

function deviationId(raw: string): string {
  if (!DEVIATION_ID_PATTERN.test(raw)) throw notFound(`No deviation ${raw}.`);
  return raw;
}

export const DEVIATION_ROUTES = {
  // QA leads open deviations; monitoring opens them too, through an integration API key.
  open: {
    method: 'post',
    path: '/deviations',
    summary: 'Open a deviation (Idempotency-Key header optional)',
    roles: ['qa_lead', 'integration'],
    body: openDeviationSchema,
    response: openedDeviationSchema,
  },
  list: {
    method: 'get',
    path: '/deviations',
    summary: 'List deviations from the read model, newest first: one page and the total matching the filters',
    roles: READER_ROLES,
    query: listDeviationsQuerySchema,
  },
  get: {
    method: 'get',
    path: '/deviations/:id',
    summary: 'A deviation: stage, deadlines, holds, tasks, rounds, signatures',
    roles: READER_ROLES,
  },
} satisfies Record<string, RouteSpec>;

export function deviationRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(DEVIATION_ROUTES.open, async (req, res) => {
    const user = currentUser(req);
    const body = bodyOf(DEVIATION_ROUTES.open, req.body);
    if (user.kind === 'user') body.reportedBy = user.login;
    else if (!body.reportedBy) body.reportedBy = user.login;
    const key = parseOr400(idempotencyKeySchema, req.get('Idempotency-Key'), 'Idempotency-Key header');
    // A deviation opened here answers 201 at its own address; that request's audit row goes with its holds.
    const result = await openDeviation(ctx, body, key, (id) => requestRowFor(req, { status: 201, location: `/deviations/${id}` }));
    res
      .status(result.created ? 201 : 200)
      .location(`/deviations/${result.id}`)
      .json({ id: result.id, stage: result.stage, holds: result.holds });
  });

  routes.add(DEVIATION_ROUTES.get, async (req, res) => {
    const state = await queryState(ctx, deviationId(String(req.params.id)));
    res.json({ id: state.id, stage: state.stage, deviation: state });
  });

  routes.add(DEVIATION_ROUTES.list, async (req, res) => {
    const q = queryOf(DEVIATION_ROUTES.list, req);
    const { items, total } = await listDeviations(ctx.pool, {
      stage: q.stage,
      severity: q.severity,
      batch: q.batch,
      line: q.line,
      text: q.q,
      overdue: q.overdue === undefined ? undefined : q.overdue === 'true',
      limit: q.limit,
      offset: q.offset,
    });
    res.json({ items, total, limit: q.limit, offset: q.offset });
  });

  return routes.router;
}
