import { Router } from 'express';
import { z } from 'zod';
import { lineText } from '../../domain/text';
import { READER_ROLES, USER_ROLES } from '../../domain/roles';
import { GATES } from '../../workflows/types';
import { authenticate, currentUser, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { rejectBodySchema, signBodySchema } from '../services/signing';
import { findTask, rejectTask, signTask } from '../services/tasks';
import { parseOr400 } from '../validate';

export const inboxQuerySchema = z
  .object({
    status: z.enum(['open', 'signed', 'rejected', 'cancelled']).default('open'),
    gate: z.enum(GATES).optional(),
    deviation: lineText(40).optional(),
    overdue: z.enum(['true', 'false']).optional(),
    /** `mine` (default): tasks for the caller's roles; `all`: every task (QA head, auditor). */
    scope: z.enum(['mine', 'all']).default('mine'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

/** Sign-off tasks: the caller's inbox, and signing or rejecting with re-authentication. */
export function taskRoutes(ctx: ApiContext): Router {
  const router = Router();
  const auth = authenticate(ctx);
  const signers = USER_ROLES.filter((r) => r !== 'auditor' && r !== 'admin');

  router.get('/tasks', auth, requireRole(...READER_ROLES), async (req, res) => {
    const q = parseOr400(inboxQuerySchema, req.query, 'query string');
    const user = currentUser(req);
    const everything = q.scope === 'all' && user.roles.some((r) => r === 'qa_head' || r === 'auditor');
    const { rows } = await ctx.pool.query(
      `SELECT t.id, t.deviation_id AS "deviationId", t.gate, t.title, t.roles, t.meaning,
              t.signatures_required AS "signaturesRequired", t.signatures, t.status,
              t.overdue OR (t.status = 'open' AND t.due_at < now()) AS overdue,
              t.created_at AS "createdAt", t.due_at AS "dueAt", d.title AS "deviationTitle", d.severity
         FROM signoff_tasks t JOIN deviations d ON d.id = t.deviation_id
        WHERE t.status = $1
          AND ($2::boolean OR t.roles && $3::text[])
          AND ($4::text IS NULL OR t.gate = $4)
          AND ($5::text IS NULL OR t.deviation_id = $5)
          AND ($6::boolean IS NULL OR (t.overdue OR (t.status = 'open' AND t.due_at < now())) = $6)
        ORDER BY t.due_at, t.id
        LIMIT $7`,
      [q.status, everything, user.roles, q.gate ?? null, q.deviation ?? null, q.overdue === undefined ? null : q.overdue === 'true', q.limit],
    );
    res.json({ items: rows });
  });

  router.get('/tasks/:id', auth, requireRole(...READER_ROLES), async (req, res) => {
    const { state, task } = await findTask(ctx, String(req.params.id));
    res.json({ ...task, id: `${state.id}.${task.id}`, deviationId: state.id });
  });

  router.post('/tasks/:id/sign', auth, requireRole(...signers), async (req, res) => {
    const body = parseOr400(signBodySchema, req.body ?? {});
    const result = await signTask(ctx, currentUser(req), String(req.params.id), body, req.ip);
    res.status(201).json({ task: String(req.params.id), signature: result.signature, stage: result.stage });
  });

  router.post('/tasks/:id/reject', auth, requireRole(...signers), async (req, res) => {
    const body = parseOr400(rejectBodySchema, req.body ?? {});
    const result = await rejectTask(ctx, currentUser(req), String(req.params.id), body, req.ip);
    res.status(201).json({ task: String(req.params.id), signature: result.signature, stage: result.stage });
  });

  return router;
}
