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

function refuse(res: Response, next: NextFunction, problem: HttpProblem): void {
  if (problem.status === 401) res.set('WWW-Authenticate', 'Bearer realm="gxp-deviation-engine"');
  next(problem);
}

/**
 * Identifies the caller from `Authorization: Bearer <session token>` or `X-API-Key: <key>` and sets
 * `req.user`; anything else, an expired, idle, revoked or unknown credential, answers 401. The
 * answer never says which of these it was.
 */
export function authenticate(ctx: Pick<ApiContext, 'pool' | 'config'>): RequestHandler {
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
    const { sessionId, ...user } = session;
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
  return (req, res, next) => {
    if (!req.user) return refuse(res, next, unauthorized());
    if (!hasAnyRole(req.user.roles, roles)) {
      return refuse(res, next, forbidden(`This needs one of the roles: ${roles.join(', ')}.`));
    }
    return next();
  };
}

/** The signed-in caller, for handlers behind authenticate(); a 401 if the route forgot it. */
export function currentUser(req: Request): AuthenticatedUser {
  if (!req.user) throw unauthorized();
  return req.user;
}
