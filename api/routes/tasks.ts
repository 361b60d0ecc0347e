import type { Router } from 'express';
import { z } from 'zod';
import { lineText } from '../../domain/text';
import { READER_ROLES, USER_ROLES } from '../../domain/roles';
import { GATES } from '../../workflows/types';
import { currentUser } from '../auth';
import type { ApiContext } from '../context';
import { bodyOf, declaredRoutes, queryOf, type RouteSpec } from '../route';
import { listTasks } from '../services/read-model';
import { rejectBodySchema, signBodySchema } from '../services/signing';
import { findTask, rejectTask, signTask } from '../services/tasks';

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

/** Who signs (and rejects): every person's role but the read-only auditor and the administrator. */
const SIGNERS = USER_ROLES.filter((r) => r !== 'auditor' && r !== 'admin');

export const TASK_ROUTES = {
  inbox: { method: 'get', path: '/tasks', summary: "The caller's sign-off inbox", roles: READER_ROLES, query: inboxQuerySchema },
  get: { method: 'get', path: '/tasks/:id', summary: 'One sign-off task', roles: READER_ROLES },
  sign: {
    method: 'post',
    path: '/tasks/:id/sign',
    summary: 'Sign: meaning, comment, login and password again',
    roles: SIGNERS,
    body: signBodySchema,
  },
  reject: {
    method: 'post',
    path: '/tasks/:id/reject',
    summary: 'Reject with a reason (signed); the gate goes back for rework',
    roles: SIGNERS,
    body: rejectBodySchema,
  },
} satisfies Record<string, RouteSpec>;

/** Sign-off tasks: the caller's inbox, and signing or rejecting with re-authentication. */
export function taskRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(TASK_ROUTES.inbox, async (req, res) => {
    const q = queryOf(TASK_ROUTES.inbox, req);
    const user = currentUser(req);
    const everything = q.scope === 'all' && user.roles.some((r) => r === 'qa_head' || r === 'auditor');
    const items = await listTasks(ctx.pool, {
      status: q.status,
      everything,
      roles: user.roles,
      gate: q.gate,
      deviation: q.deviation,
      overdue: q.overdue === undefined ? undefined : q.overdue === 'true',
      limit: q.limit,
    });
    res.json({ items });
  });

  routes.add(TASK_ROUTES.get, async (req, res) => {
    const { state, task } = await findTask(ctx, String(req.params.id));
    res.json({ ...task, id: `${state.id}.${task.id}`, deviationId: state.id });
  });

  routes.add(TASK_ROUTES.sign, async (req, res) => {
    const body = bodyOf(TASK_ROUTES.sign, req.body ?? {});
    const result = await signTask(ctx, currentUser(req), String(req.params.id), body, req.ip);
    res.status(201).json({ task: String(req.params.id), signature: result.signature, stage: result.stage });
  });

  routes.add(TASK_ROUTES.reject, async (req, res) => {
    const body = bodyOf(TASK_ROUTES.reject, req.body ?? {});
    const result = await rejectTask(ctx, currentUser(req), String(req.params.id), body, req.ip);
    res.status(201).json({ task: String(req.params.id), signature: result.signature, stage: result.stage });
  });

  return routes.router;
}
