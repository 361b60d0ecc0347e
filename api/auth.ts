import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveApiKey } from '../auth/api-keys';
import { resolveSession } from '../auth/sessions';
import type { AuthenticatedUser } from '../auth/types';
import { hasAnyRole, type Role } from '../domain/roles';
import type { ApiContext } from './context';
import { HttpProblem } from './problem';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by authenticate(); absent on routes that do not call it. */
      user?: AuthenticatedUser;
      /** The session behind a Bearer token (absent for API keys), for logout and password changes. */
      sessionId?: string;
    }
  }
}

export type { AuthenticatedUser };

export const unauthorized = (detail = 'Sign in first: send a valid session token (Authorization: Bearer …) or an API key (X-API-Key).') =>
  new HttpProblem(401, 'Unauthorized', detail);
export const forbidden = (detail: string) => new HttpProblem(403, 'Forbidden', detail);

/**
 * A throttled or locked sign-in (or current-password check) is answered 429 with Retry-After, not
 * 401: the client learns to wait instead of retrying at once. The answer is the same whichever
 * counter refused (the login or the address) and whether or not the login names anybody, since a
 * login that names nobody is locked just the same; so it tells nothing about which accounts exist.
 */
export function tooManyAttempts(res: Response, retryAfterSeconds: number): HttpProblem {
  res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return new HttpProblem(429, 'Too Many Requests', 'Too many failed attempts: sign-in is locked for a while. Try again later.');
}

function refuse(res: Response, next: NextFunction, problem: HttpProblem): void {
  if (problem.status === 401) res.set('WWW-Authenticate', 'Bearer realm="gxp-deviation-engine"');
  next(problem);
}

/** The one refusal a session whose password must change gets, on every route but the few it may use. */
export const passwordMustChangeFirst = () =>
  forbidden(
    'Your password was reset by an administrator: change it first (POST /users/{your id}/password). Until then only that, GET /me and POST /auth/logout are open.',
  );

export interface AuthenticateOptions {
  /**
   * The routes a session may use while its password must change (after an administrator's
   * reset): its own password change, sign-out and GET /me. Everything else answers 403.
   */
  allowWhilePasswordMustChange?: (req: Request, user: AuthenticatedUser) => boolean;
}

/**
 * Identifies the caller from `Authorization: Bearer <session token>` or `X-API-Key: <key>` and sets
 * `req.user`; anything else, an expired, idle, revoked or unknown credential, answers 401. The
 * answer never says which of these it was. A session whose password must change is refused (403)
 * unless the route allows it, so every route behind authenticate() enforces the change.
 */
export function authenticate(ctx: Pick<ApiContext, 'pool' | 'config'>, opts: AuthenticateOptions = {}): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('Authorization');
    const apiKey = req.get('X-API-Key');
    if (header !== undefined && apiKey !== undefined) return refuse(res, next, unauthorized('Send one credential, not both.'));
    if (apiKey !== undefined) {
      const user = await resolveApiKey(ctx.pool, apiKey.trim());
      if (!user) return refuse(res, next, unauthorized('The API key is not valid.'));
      req.user = user;
      return next();
    }
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return refuse(res, next, unauthorized());
    const session = await resolveSession(ctx.pool, match[1]!, ctx.config.SESSION_IDLE_MINUTES);
    if (!session) return refuse(res, next, unauthorized('The session has expired or is not valid: sign in again.'));
    const { sessionId, passwordMustChange, ...user } = session;
    if (passwordMustChange && !opts.allowWhilePasswordMustChange?.(req, user)) return refuse(res, next, passwordMustChangeFirst());
    req.user = user;
    req.sessionId = sessionId;
    return next();
  };
}

/**
 * Lets the request through when the caller holds at least one of the roles; 401 when nobody is
 * signed in (authenticate() missing or failed), 403 otherwise. Use after authenticate().
 */
export function requireRole(...roles: Role[]): RequestHandler {
  if (roles.length === 0) throw new Error('requireRole needs at least one role');
  const check: RequestHandler = (req, res, next) => {
    if (!req.user) return refuse(res, next, unauthorized());
    if (!hasAnyRole(req.user.roles, roles)) {
      return refuse(res, next, forbidden(`This needs one of the roles: ${roles.join(', ')}.`));
    }
    return next();
  };
  return checksRoles(check, roles);
}

/** The roles each role check lets through, so a test can compare them with the OpenAPI document. */
const ROLE_CHECKS = new WeakMap<object, readonly Role[]>();

/** Records that `handler` lets through exactly the callers holding one of `roles`. */
export function checksRoles<H extends RequestHandler>(handler: H, roles: readonly Role[]): H {
  ROLE_CHECKS.set(handler, [...roles]);
  return handler;
}

/** The roles a middleware made by requireRole (or requireCaptureAccess) lets through; undefined for any other handler. */
export function rolesCheckedBy(handler: unknown): readonly Role[] | undefined {
  return typeof handler === 'function' ? ROLE_CHECKS.get(handler) : undefined;
}

/** The signed-in caller, for handlers behind authenticate(); a 401 if the route forgot it. */
export function currentUser(req: Request): AuthenticatedUser {
  if (!req.user) throw unauthorized();
  return req.user;
}
