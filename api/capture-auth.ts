import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { authenticate, checksRoles, requireRole } from './auth';
import type { ApiContext } from './context';
import { CAPTURE_ROLES, type Role } from '../domain/roles';

/**
 * Who may capture EPCIS events: the shared CAPTURE_API_KEY from configuration (line systems that
 * predate user accounts; unset it once each has an integration key of its own), or a signed-in
 * caller — an API key or session — holding a capture role, integration or production (or one of
 * `roles` where given: the readers of what capture produced). One middleware, so the shared key
 * can be retired by deleting its branch.
 */
export function requireCaptureAccess(ctx: Pick<ApiContext, 'pool' | 'config'>, ...roles: Role[]): RequestHandler {
  const shared = ctx.config.CAPTURE_API_KEY ? Buffer.from(ctx.config.CAPTURE_API_KEY) : null;
  const signedIn = authenticate(ctx);
  const allowed = roles.length ? roles : [...CAPTURE_ROLES];
  const integration = requireRole(...allowed);
  const check: RequestHandler = (req, res, next) => {
    const key = req.get('X-API-Key');
    if (shared && key !== undefined && req.get('Authorization') === undefined) {
      const given = Buffer.from(key.trim());
      if (given.length === shared.length && timingSafeEqual(given, shared)) {
        req.user = {
          id: 'capture-api-key',
          login: 'api-key:capture',
          printedName: 'Configured capture key',
          roles: ['integration'],
          kind: 'api_key',
        };
        return next();
      }
    }
    return signedIn(req, res, (err?: unknown) => (err ? next(err) : integration(req, res, next)));
  };
  // (the shared key stands for an integration client, which every capture route lets in)
  return checksRoles(check, allowed);
}
