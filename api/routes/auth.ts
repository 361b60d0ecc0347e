import type { Request, Router } from 'express';
import { z } from 'zod';
import { listSecurityEvents, recordSecurityEvent, SECURITY_EVENTS } from '../../auth/security-log';
import { createSession, endSession } from '../../auth/sessions';
import { signInPolicy } from '../../auth/sign-in-throttle';
import { getUser, signIn } from '../../auth/users';
import { loginRequestSchema, type LoginRequest } from '../../domain/users';
import { currentUser, tooManyAttempts, unauthorized } from '../auth';
import type { ApiContext } from '../context';
import { badRequest, zodProblems } from '../problem';
import { declaredRoutes, queryOf, type RouteSpec } from '../route';

export const securityLogQuerySchema = z
  .object({
    event: z.enum(SECURITY_EVENTS).optional(),
    userId: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    beforeId: z.coerce.number().int().min(1).optional(),
  })
  .strict();

/** Signing out and asking who one is stay open while the password must change. */
const evenIfPasswordMustChange = () => true;

export const AUTH_ROUTES = {
  login: { method: 'post', path: '/auth/login', summary: 'Sign in: an opaque session token', body: loginRequestSchema, access: 'public' },
  logout: { method: 'post', path: '/auth/logout', summary: 'End the session', allowWhilePasswordMustChange: evenIfPasswordMustChange },
  me: { method: 'get', path: '/me', summary: 'The signed-in user', allowWhilePasswordMustChange: evenIfPasswordMustChange },
  securityLog: {
    method: 'get',
    path: '/security-log',
    summary: 'Failed sign-ins and signatures, lockouts',
    roles: ['admin', 'auditor', 'qa_head'],
    query: securityLogQuerySchema,
  },
} satisfies Record<string, RouteSpec>;

/**
 * The body, or a 400 that is also kept in the security log: a sign-in with unstorable text is a
 * refused sign-in. The log gets a storable copy of the login (auth/security-log.ts), never the password.
 */
async function loginBodyOr400(ctx: ApiContext, req: Request): Promise<LoginRequest> {
  const parsed = AUTH_ROUTES.login.body.safeParse(req.body);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error);
  const typed: unknown = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>).login : undefined;
  await recordSecurityEvent(
    ctx.pool,
    'login_failed',
    { login: typeof typed === 'string' ? typed : null, remoteAddress: req.ip },
    { reason: 'invalid_request', fields: problems.map((p) => p.path) },
  );
  throw badRequest('The request body is invalid.', problems);
}

/** Sign-in, sign-out, who am I; and the security log for those who review it. */
export function authRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  const policy = signInPolicy(ctx.config);

  routes.add(AUTH_ROUTES.login, async (req, res) => {
    const body = await loginBodyOr400(ctx, req);
    const result = await signIn(ctx.pool, body.login, body.password, req.ip, policy);
    if (result.status === 'throttled') throw tooManyAttempts(res, result.retryAfterSeconds);
    // One answer for an unknown login, a wrong password and a deactivated account.
    if (result.status === 'wrong') throw unauthorized('The login or password is not correct.');
    const session = await createSession(
      ctx.pool,
      result.user.id,
      { idleMinutes: ctx.config.SESSION_IDLE_MINUTES, maxHours: ctx.config.SESSION_MAX_HOURS },
      req.ip,
    );
    res
      .status(200)
      .set('Cache-Control', 'no-store')
      .json({ ...session, user: result.user });
  });

  routes.add(AUTH_ROUTES.logout, async (req, res) => {
    if (!req.sessionId) throw badRequest('API keys have no session to end; an administrator revokes a key.');
    await endSession(ctx.pool, req.sessionId, currentUser(req).login);
    res.status(204).end();
  });

  routes.add(AUTH_ROUTES.me, async (req, res) => {
    const caller = currentUser(req);
    if (caller.kind === 'api_key') return void res.json(caller);
    const user = await getUser(ctx.pool, caller.id);
    res.json({ ...user, kind: caller.kind });
  });

  routes.add(AUTH_ROUTES.securityLog, async (req, res) => {
    const q = queryOf(AUTH_ROUTES.securityLog, req);
    res.json({ items: await listSecurityEvents(ctx.pool, q), limit: q.limit });
  });

  return routes.router;
}
