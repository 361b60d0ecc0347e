import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/trail';
import { sha256Hex } from '../db/hash-chain';
import { withTransaction, type Pool, type Queryable } from '../db/pool';
import type { AuthenticatedUser } from './types';

/** Tokens carry a recognisable prefix so secret scanners can find one pasted where it should not be. */
const TOKEN_PREFIX = 'gxps_';

export { sha256Hex };

export interface SessionLimits {
  idleMinutes: number;
  maxHours: number;
}

export interface NewSession {
  /** Shown once to the client; only its SHA-256 is stored. */
  token: string;
  expiresAt: Date;
  idleTimeoutSeconds: number;
}

export async function createSession(
  db: Queryable,
  userId: string,
  limits: SessionLimits,
  remoteAddress?: string | null,
): Promise<NewSession> {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<{ expiresAt: Date }>(
    `INSERT INTO sessions (token_hash, user_id, expires_at, remote_address)
     VALUES ($1, $2, now() + make_interval(hours => $3), $4)
     RETURNING expires_at AS "expiresAt"`,
    [sha256Hex(token), userId, limits.maxHours, remoteAddress ?? null],
  );
  return { token, expiresAt: rows[0]!.expiresAt, idleTimeoutSeconds: limits.idleMinutes * 60 };
}

export interface ResolvedSession extends AuthenticatedUser {
  sessionId: string;
  /** Set by an administrator's reset: until the user chooses a password, the session may do little else. */
  passwordMustChange: boolean;
}

/**
 * How stale the idle clock may be before a request restarts it. Every authenticated request reads
 * its session; writing it back each time made every request a committed write (a WAL flush), for a
 * clock that counts in minutes. So a session touched less than this long ago is only read, and it
 * may time out up to this much earlier than its last request plus the idle limit.
 */
export const SESSION_TOUCH_INTERVAL_SECONDS = 10;

/**
 * The user behind a token, when the session is neither revoked, past its absolute lifetime, idle
 * for longer than allowed, nor held by a deactivated user; touching it restarts the idle clock (at
 * most every SESSION_TOUCH_INTERVAL_SECONDS). One statement: whether it is live and the touch are
 * decided on the same rows, and a session that went idle is never revived by the touch.
 */
export async function resolveSession(db: Queryable, token: string, idleMinutes: number): Promise<ResolvedSession | null> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
  const { rows } = await db.query<ResolvedSession>(
    `WITH live AS (
       SELECT s.id AS session_id, s.last_seen_at, u.id, u.login, u.printed_name, u.roles, u.password_must_change
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1
          AND u.active
          AND s.revoked_at IS NULL
          AND s.expires_at > now()
          AND s.last_seen_at > now() - make_interval(mins => $2)
     ), touched AS (
       UPDATE sessions s SET last_seen_at = now()
         FROM live
        WHERE s.id = live.session_id
          AND live.last_seen_at < now() - make_interval(secs => $3)
          AND s.revoked_at IS NULL
     )
     SELECT session_id::text AS "sessionId", id, login, printed_name AS "printedName", roles, 'user' AS kind,
            password_must_change AS "passwordMustChange"
       FROM live`,
    [sha256Hex(token), idleMinutes, SESSION_TOUCH_INTERVAL_SECONDS],
  );
  return rows[0] ?? null;
}

/** True when this call ended the session (false when it had ended already). */
export async function revokeSession(db: Queryable, sessionId: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, [sessionId]);
  return (rowCount ?? 0) > 0;
}

/** Sign-out: the session ends and the audit trail says so, in one transaction, or neither happens. */
export async function endSession(pool: Pool, sessionId: string, actor: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (!(await revokeSession(client, sessionId))) return;
    await appendAudit(client, {
      actor,
      action: 'session.revoked',
      entityType: 'session',
      entityId: sessionId,
      details: { reason: 'sign_out' },
    });
  });
}

/** Ends every session of a user (deactivation, password reset), optionally keeping the caller's own. */
export async function revokeUserSessions(db: Queryable, userId: string, exceptSessionId?: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE sessions SET revoked_at = now()
      WHERE user_id = $1 AND revoked_at IS NULL AND ($2::bigint IS NULL OR id <> $2::bigint)`,
    [userId, exceptSessionId ?? null],
  );
  return rowCount ?? 0;
}
