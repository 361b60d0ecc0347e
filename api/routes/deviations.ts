import { Router } from 'express';
import { z } from 'zod';
import { lineText } from '../../domain/text';
import { DEVIATION_ID_PATTERN, SEVERITIES, openDeviationSchema } from '../../domain/deviation';
import { STAGES } from '../../workflows/types';
import type { ApiContext } from '../context';
import { authenticate, currentUser, requireRole } from '../auth';
import { READER_ROLES } from '../../domain/roles';
import { notFound } from '../problem';
import { openDeviation, queryState } from '../services/deviations';
import { parseOr400 } from '../validate';

export const idempotencyKeySchema = lineText(200).optional();

export const listDeviationsQuerySchema = z
  .object({
    stage: z.enum(STAGES).optional(),
    severity: z.enum(SEVERITIES).optional(),
    batch: lineText(20).optional(),
    overdue: z.enum(['true', 'false']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

function deviationId(raw: string): string {
  if (!DEVIATION_ID_PATTERN.test(raw)) throw notFound(`No deviation ${raw}.`);
  return raw;
}

export function deviationRoutes(ctx: ApiContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  // QA leads open deviations; monitoring opens them too, through an integration API key.
  router.post('/deviations', auth, requireRole('qa_lead', 'integration'), async (req, res) => {
    const user = currentUser(req);
    const body = parseOr400(openDeviationSchema, req.body);
    if (user.kind === 'user') body.reportedBy = user.login;
    else if (!body.reportedBy) body.reportedBy = user.login;
    const key = parseOr400(idempotencyKeySchema, req.get('Idempotency-Key'), 'Idempotency-Key header');
    const result = await openDeviation(ctx, body, key);
    res
      .status(result.created ? 201 : 200)
      .location(`/deviations/${result.id}`)
      .json({ id: result.id, stage: result.stage });
  });

  router.get('/deviations/:id', auth, requireRole(...READER_ROLES), async (req, res) => {
    const state = await queryState(ctx, deviationId(String(req.params.id)));
    res.json({ id: state.id, stage: state.stage, deviation: state });
  });

  router.get('/deviations', auth, requireRole(...READER_ROLES), async (req, res) => {
    const q = parseOr400(listDeviationsQuerySchema, req.query, 'query string');
    const { rows } = await ctx.pool.query(
      `SELECT id, title, symptom, severity, stage, status, batches, reported_by AS "reportedBy",
              detected_at AS "detectedAt", updated_at AS "updatedAt", sla_breached AS "slaBreached",
              next_due_at AS "nextDueAt", overdue, lines, gtins, summary
         FROM deviations
        WHERE ($1::text IS NULL OR stage = $1)
          AND ($2::text IS NULL OR severity = $2)
          AND ($3::text IS NULL OR $3 = ANY (batches))
          AND ($6::boolean IS NULL OR overdue = $6)
        ORDER BY detected_at DESC, id DESC
        LIMIT $4 OFFSET $5`,
      [q.stage ?? null, q.severity ?? null, q.batch ?? null, q.limit, q.offset, q.overdue === undefined ? null : q.overdue === 'true'],
    );
    res.json({ items: rows, limit: q.limit, offset: q.offset });
  });

  return router;
}
