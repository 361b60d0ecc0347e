import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Request, RequestHandler, Response } from 'express';
import type { Pool } from '../db/pool';
import { appendAudit } from './trail';

const CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEVIATION_IN_PATH = /\/deviations\/(DEV-\d{4}-\d{6})(?:[/?]|$)/;
/** Fields in which users give their reason, in the order they are looked for. */
const REASON_FIELDS = ['reason', 'justification', 'rationale', 'comment'] as const;

function actorOf(req: Request): string {
  // req.user is set by the authentication middleware when the route uses it.
  const login = (req as Request & { user?: { login?: unknown } }).user?.login;
  return typeof login === 'string' && login ? login : 'anonymous';
}

function reasonOf(body: unknown): string | null {
  if (!body || typeof body !== 'object') return null;
  for (const field of REASON_FIELDS) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === 'string' && value.trim()) return value.slice(0, 5000);
  }
  return null;
}

/** SHA-256 of the canonical JSON body: proves what was sent without copying passwords into the trail. */
function bodyHash(body: unknown): string | null {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return null;
  return createHash('sha256').update(canonicalize(body) ?? '').digest('hex');
}

/**
 * Appends one audit row for every API call that changed something (POST/PUT/PATCH/DELETE answered
 * below 400). The row is written before the response is released, so a client that saw success
 * can count on its audit row; if the append fails the response still goes out (the change has
 * happened) and the failure is logged as an error for operations to act on.
 */
export function auditApiCalls(pool: Pool, log: { error: (obj: object, msg: string) => void }): RequestHandler {
  return (req, res, next) => {
    if (!CHANGING_METHODS.has(req.method)) return next();
    const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let ending = false;
    res.end = ((...args: unknown[]) => {
      if (ending || res.statusCode >= 400) return end(...args);
      ending = true;
      const location = res.getHeader('location');
      const deviationId = DEVIATION_IN_PATH.exec(path)?.[1] ?? (typeof location === 'string' ? DEVIATION_IN_PATH.exec(location)?.[1] : undefined) ?? null;
      appendAudit(pool, {
        actor: actorOf(req),
        action: `${req.method} ${req.route?.path ? String(req.baseUrl ?? '') + String(req.route.path) : path}`,
        entityType: 'api_call',
        entityId: path,
        deviationId,
        reason: reasonOf(req.body),
        details: { method: req.method, path, status: res.statusCode, bodySha256: bodyHash(req.body), ...(typeof location === 'string' ? { location } : {}) },
      })
        .catch((err: unknown) => log.error({ err: String(err), method: req.method, path }, 'audit trail append failed'))
        .finally(() => end(...args));
      return res;
    }) as Response['end'];
    next();
  };
}
