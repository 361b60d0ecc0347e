import { storableCopy } from '../domain/text';
import type { Queryable } from '../db/pool';

/** Kept in step with the CHECK on security_log.event (migrations 0200, 1000) and GET /security-log's filter. */
export const SECURITY_EVENTS = [
  'login_failed',
  'signature_reauth_failed',
  'signing_locked',
  'password_change_failed',
  /** A login or a client address locked after repeated failed password checks (detail.scope says which). */
  'login_locked',
  /** An attempt refused without checking the password, because of a lock (or checks already under way). */
  'login_throttled',
] as const;
export type SecurityEvent = (typeof SECURITY_EVENTS)[number];

/** A typed login is kept for spotting guessing, but bounded so nobody can fill the log with megabytes. */
const MAX_LOGGED_TEXT = 320;

/**
 * What the log keeps of text somebody typed: bounded, then made storable. The order matters:
 * cutting after the copy could split a surrogate pair and bring back the lone half.
 */
function loggable(text: string): string {
  return storableCopy(text.slice(0, MAX_LOGGED_TEXT));
}

/** The detail with every string storable, so a hostile login or key never makes the insert fail. */
function storableDetail(value: unknown): unknown {
  if (typeof value === 'string') return loggable(value);
  if (Array.isArray(value)) return value.map(storableDetail);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [loggable(key), storableDetail(inner)]));
  }
  return value;
}

/**
 * Appends one security event. The table refuses UPDATE and DELETE; what goes in stays. Never pass
 * a password or token in `detail`. Text from the client is stored as a storable copy (U+FFFD for
 * what PostgreSQL cannot hold), so recording a refusal of unstorable input cannot fail in turn.
 */
export async function recordSecurityEvent(
  db: Queryable,
  event: SecurityEvent,
  who: { userId?: string | null; login?: string | null; remoteAddress?: string | null },
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query(`INSERT INTO security_log (event, user_id, login, remote_address, detail) VALUES ($1, $2, $3, $4, $5)`, [
    event,
    who.userId ?? null,
    who.login === undefined || who.login === null ? null : loggable(who.login),
    who.remoteAddress === undefined || who.remoteAddress === null ? null : loggable(who.remoteAddress),
    JSON.stringify(storableDetail(detail)),
  ]);
}

export interface SecurityLogFilter {
  event?: SecurityEvent;
  userId?: string;
  /** Entries older than this id (paging back in time). */
  beforeId?: number;
  limit: number;
}

/** Entries of the log, newest first (GET /security-log). */
export async function listSecurityEvents(db: Queryable, f: SecurityLogFilter): Promise<unknown[]> {
  const { rows } = await db.query(
    `SELECT id::int AS id, at, event, user_id AS "userId", login, remote_address AS "remoteAddress", detail
       FROM security_log
      WHERE ($1::text IS NULL OR event = $1)
        AND ($2::uuid IS NULL OR user_id = $2)
        AND ($3::bigint IS NULL OR id < $3)
      ORDER BY id DESC
      LIMIT $4`,
    [f.event ?? null, f.userId ?? null, f.beforeId ?? null, f.limit],
  );
  return rows;
}
