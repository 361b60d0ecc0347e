import { createHmac, randomBytes } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Request, RequestHandler, Response } from 'express';
import type { Pool } from '../db/pool';
import type { AppConfig } from '../lib/config';
import { groupedAuditAppends } from './grouped-appends';
import type { AuditEntry } from './trail';

const CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEVIATION_IN_PATH = /\/deviations\/(DEV-\d{4}-\d{6,})(?:[/?]|$)/;
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

/** Fields that carry a secret (compared without case), dropped at any depth before the body is digested. */
const SECRET_FIELDS = new Set(['password', 'currentpassword', 'newpassword', 'token', 'apikey', 'key', 'secret', 'signaturetoken']);

/**
 * The body without its secrets. Recursion is bounded: the JSON body parser refuses bodies nested
 * deeper than 64 levels, and the streamed routes leave req.body unset.
 */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([field]) => !SECRET_FIELDS.has(field.toLowerCase()))
      .map(([field, v]) => [field, withoutSecrets(v)]),
  );
}

/**
 * HMAC-SHA-256 of the canonical JSON body, secrets removed: proves what was sent without letting a
 * reader of the trail confirm a guessed password (a plain hash of a body holding one would).
 */
export function bodyHmac(body: unknown, key: Buffer): string | null {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return null;
  return createHmac('sha256', key)
    .update(canonicalize(withoutSecrets(body)) ?? '')
    .digest('hex');
}

let processKey: Buffer | undefined;

/** The configured key, or (development, tests, a production that forgot it) one drawn for this process. */
export function auditHmacKey(config: Pick<AppConfig, 'AUDIT_HMAC_KEY'>): Buffer {
  if (config.AUDIT_HMAC_KEY) return Buffer.from(config.AUDIT_HMAC_KEY, 'utf8');
  processKey ??= randomBytes(32);
  return processKey;
}

export interface AuditMiddlewareContext {
  pool: Pool;
  log: { error: (obj: object, msg: string) => void };
  config: Pick<AppConfig, 'AUDIT_HMAC_KEY'>;
}

/** What is known of the request before its handler runs (and so before anything is changed). */
interface Before {
  path: string;
  reason: string | null;
  bodyHmac: string | null;
}

/** The request's row, for the answer it is given (its status, and the Location it points to). */
function entryFor(req: Request, before: Before, answer: { status: number; location?: unknown }): AuditEntry {
  const { path } = before;
  const location = typeof answer.location === 'string' ? answer.location : undefined;
  const deviationId = DEVIATION_IN_PATH.exec(path)?.[1] ?? (location ? DEVIATION_IN_PATH.exec(location)?.[1] : undefined) ?? null;
  return {
    actor: actorOf(req),
    action: `${req.method} ${req.route?.path ? String(req.baseUrl ?? '') + String(req.route.path) : path}`,
    entityType: 'api_call',
    entityId: path,
    deviationId,
    reason: before.reason,
    details: {
      method: req.method,
      path,
      status: answer.status,
      bodyHmac: before.bodyHmac,
      ...(location ? { location } : {}),
    },
  };
}

/** The audited requests in flight, and whether a handler's own transaction has written the row. */
const auditedRequests = new WeakMap<Request, { before: Before; written: boolean }>();

/** The request's row, for a handler to write in its own transaction (see requestRowFor). */
export interface RequestRow {
  entry: AuditEntry;
  /** To be called once the transaction holding `entry` has committed: the row is then not appended again. */
  written(): void;
}

/**
 * The request's api_call row as it will read once the answer leaves with `answer`, for a handler
 * that writes its change in one transaction to write the row in that same transaction: the change
 * and its record commit together, and the request takes one turn of the chain's lock instead of two.
 * Null when the request is not audited (a read, or a route outside the middleware); then nothing
 * changes. Until `written()` is called the middleware appends the row itself as usual, so a
 * transaction that rolls back leaves the request's record to it.
 */
export function requestRowFor(req: Request, answer: { status: number; location: string }): RequestRow | null {
  const audited = auditedRequests.get(req);
  if (!audited || audited.written) return null;
  return { entry: entryFor(req, audited.before, answer), written: () => void (audited.written = true) };
}

/**
 * Appends one audit row for every API call that changed something (POST/PUT/PATCH/DELETE answered
 * below 400). The row is written before the response is released, so a client that saw success
 * can count on its audit row; if the append fails the response still goes out (the change has
 * happened) and the failure is logged as an error for operations to act on. Whatever could fail
 * on the body (its digest) is done before the handler runs: a request that cannot be audited is
 * refused before it changes anything, and nothing is left to throw inside res.end.
 */
export function auditApiCalls(ctx: AuditMiddlewareContext): RequestHandler {
  const { pool, log } = ctx;
  const key = auditHmacKey(ctx.config);
  // Concurrent requests' rows share one turn of the chain's lock (audit/grouped-appends.ts).
  const append = groupedAuditAppends(pool);
  return (req, res, next) => {
    if (!CHANGING_METHODS.has(req.method)) return next();
    let before: Before;
    try {
      before = { path: req.originalUrl.split('?')[0] ?? req.originalUrl, reason: reasonOf(req.body), bodyHmac: bodyHmac(req.body, key) };
    } catch (err) {
      return next(err);
    }
    const audited = { before, written: false };
    auditedRequests.set(req, audited);
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let ending = false;
    res.end = ((...args: unknown[]) => {
      if (ending || res.statusCode >= 400 || audited.written) return end(...args);
      ending = true;
      let entry: AuditEntry;
      try {
        entry = entryFor(req, before, { status: res.statusCode, location: res.getHeader('location') });
      } catch (err) {
        log.error({ err: String(err), method: req.method, path: before.path }, 'audit trail entry could not be built');
        return end(...args);
      }
      append(entry)
        .catch((err: unknown) => log.error({ err: String(err), method: req.method, path: before.path }, 'audit trail append failed'))
        .finally(() => end(...args));
      return res;
    }) as Response['end'];
    next();
  };
}
