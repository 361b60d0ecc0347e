import { Router } from 'express';
import { z } from 'zod';
import { createSession, revokeSession } from '../../auth/sessions';
import { checkCredentials, getUser } from '../../auth/users';
import { loginRequestSchema } from '../../domain/users';
import { authenticate, currentUser, requireRole, unauthorized } from '../auth';
import type { ApiContext } from '../context';
import { badRequest } from '../problem';
import { parseOr400 } from '../validate';

const securityLogQuerySchema = z
  .object({
    event: z.enum(['login_failed', 'signature_reauth_failed', 'signing_locked', 'password_change_failed']).optional(),
    userId: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    beforeId: z.coerce.number().int().min(1).optional(),
  })
  .strict();

/** Sign-in, sign-out, who am I; and the security log for those who review it. */
export function authRoutes(ctx: ApiContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.post('/auth/login', async (req, res) => {
    const body = parseOr400(loginRequestSchema, req.body);
    const user = await checkCredentials(ctx.pool, body.login, body.password, req.ip);
    // One answer for an unknown login, a wrong password and a deactivated account.
    if (!user) throw unauthorized('The login or password is not correct.');
    const session = await createSession(
      ctx.pool,
      user.id,
      { idleMinutes: ctx.config.SESSION_IDLE_MINUTES, maxHours: ctx.config.SESSION_MAX_HOURS },
      req.ip,
    );
    res.status(200).set('Cache-Control', 'no-store').json({ ...session, user });
  });

  router.post('/auth/logout', auth, async (req, res) => {
    if (!req.sessionId) throw badRequest('API keys have no session to end; an administrator revokes a key.');
    await revokeSession(ctx.pool, req.sessionId);
    res.status(204).end();
  });

  router.get('/me', auth, async (req, res) => {
    const caller = currentUser(req);
    if (caller.kind === 'api_key') return void res.json(caller);
    const user = await getUser(ctx.pool, caller.id);
    res.json({ ...user, kind: caller.kind });
  });

  router.get('/security-log', auth, requireRole('admin', 'auditor', 'qa_head'), async (req, res) => {
    const q = parseOr400(securityLogQuerySchema, req.query, 'query string');
    const { rows } = await ctx.pool.query(
      `SELECT id::int AS id, at, event, user_id AS "userId", login, remote_address AS "remoteAddress", detail
         FROM security_log
        WHERE ($1::text IS NULL OR event = $1)
          AND ($2::uuid IS NULL OR user_id = $2)
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC
        LIMIT $4`,
      [q.event ?? null, q.userId ?? null, q.beforeId ?? null, q.limit],
    );
    res.json({ items: rows, limit: q.limit });
  });

  return router;
}
