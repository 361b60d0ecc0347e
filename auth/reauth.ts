import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool } from '../db/pool';
import { USER_ID_PATTERN } from '../domain/users';
import { enqueueNotification } from '../notifications/outbox';
import { burnPasswordCheck, verifyPassword } from './passwords';
import { recordSecurityEvent } from './security-log';
import type { AppConfig } from '../lib/config';
import type { AuthenticatedUser } from './types';

export type ReauthResult =
  | { status: 'ok'; user: AuthenticatedUser }
  /** Wrong password, wrong login, unknown or inactive user: one answer, never which part was wrong. */
  | { status: 'wrong' }
  | { status: 'locked'; lockedUntil: Date };

export interface ReauthOptions {
  /** Failures within `lockMinutes` that lock signing (config SIGNING_MAX_FAILURES). */
  maxFailures?: number;
  /** The counting window and the lock's length (config SIGNING_LOCK_MINUTES). */
  lockMinutes?: number;
  /** When given, the login typed at signing must be the user's too (both components of 11.200(a)(1)). */
  login?: string;
  remoteAddress?: string | null;
  /** Where the attempt happened (task, deviation), recorded with a failure and in the lock notification. */
  context?: { taskId?: string; deviationId?: string };
}

/** The lock policy from configuration: `reauthenticate(pool, id, pw, { ...signingLockPolicy(config), … })`. */
export function signingLockPolicy(
  config: Pick<AppConfig, 'SIGNING_MAX_FAILURES' | 'SIGNING_LOCK_MINUTES'>,
): Pick<ReauthOptions, 'maxFailures' | 'lockMinutes'> {
  return { maxFailures: config.SIGNING_MAX_FAILURES, lockMinutes: config.SIGNING_LOCK_MINUTES };
}

interface SignerRow {
  id: string;
  login: string;
  printed_name: string;
  roles: AuthenticatedUser['roles'];
  active: boolean;
  password_hash: string;
  locked_until: Date | null;
}

const SIGNER_QUERY = `SELECT id, login, printed_name, roles, active, password_hash,
    CASE WHEN signing_locked_until > now() THEN signing_locked_until END AS locked_until
  FROM users WHERE id = $1`;

/**
 * Re-authentication at signing (21 CFR 11.200(a)). Failures go to the security log; after
 * `maxFailures` within `lockMinutes` signing is locked for that user for `lockMinutes` and a
 * security notification is written to the outbox (11.300(d)). Success restarts the count.
 */
export async function reauthenticate(pool: Pool, userId: string, password: string, opts: ReauthOptions = {}): Promise<ReauthResult> {
  const maxFailures = opts.maxFailures ?? 3;
  const lockMinutes = opts.lockMinutes ?? 15;
  const detail = { ...(opts.context ?? {}) };
  const { rows } = USER_ID_PATTERN.test(userId) ? await pool.query<SignerRow>(SIGNER_QUERY, [userId]) : { rows: [] };
  const signer = rows[0];
  if (!signer) {
    await burnPasswordCheck(password);
    await recordSecurityEvent(
      pool,
      'signature_reauth_failed',
      { login: opts.login, remoteAddress: opts.remoteAddress },
      { ...detail, reason: 'unknown_user', userId: String(userId).slice(0, 64) },
    );
    return { status: 'wrong' };
  }
  if (signer.locked_until) {
    // Attempts during a lock are kept for the record but do not count towards the next lock.
    await recordSecurityEvent(
      pool,
      'signature_reauth_failed',
      { userId, login: signer.login, remoteAddress: opts.remoteAddress },
      { ...detail, reason: 'locked', whileLocked: true },
    );
    return { status: 'locked', lockedUntil: signer.locked_until };
  }

  const passwordOk = await verifyPassword(password, signer.password_hash);
  const loginOk = opts.login === undefined || opts.login.trim().toLowerCase() === signer.login;
  if (passwordOk && loginOk && signer.active) {
    const { rows: after } = await pool.query<{ locked: boolean }>(
      `UPDATE users SET signing_failures_reset_at = now() WHERE id = $1
       RETURNING signing_locked_until IS NOT NULL AND signing_locked_until > now() AS locked`,
      [userId],
    );
    // Locked by a concurrent wrong attempt while this one was hashing: the lock wins.
    if (after[0]?.locked) return lockedNow(pool, userId);
    return {
      status: 'ok',
      user: { id: signer.id, login: signer.login, printedName: signer.printed_name, roles: signer.roles, kind: 'user' },
    };
  }

  const reason = !signer.active ? 'inactive_user' : !loginOk ? 'wrong_login' : 'wrong_password';
  return withTransaction(pool, async (client) => {
    // One attempt at a time per user, so N concurrent failures lock once and write one notification.
    const { rows: locked } = await client.query<{ signing_failures_reset_at: Date; locked_until: Date | null }>(
      `SELECT signing_failures_reset_at, CASE WHEN signing_locked_until > now() THEN signing_locked_until END AS locked_until
         FROM users WHERE id = $1 FOR UPDATE`,
      [userId],
    );
    if (locked[0]?.locked_until) {
      await recordSecurityEvent(
        client,
        'signature_reauth_failed',
        { userId, login: signer.login, remoteAddress: opts.remoteAddress },
        { ...detail, reason, whileLocked: true },
      );
      return { status: 'locked', lockedUntil: locked[0].locked_until } as const;
    }
    await recordSecurityEvent(
      client,
      'signature_reauth_failed',
      { userId, login: signer.login, remoteAddress: opts.remoteAddress },
      { ...detail, reason },
    );
    const { rows: counted } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM security_log l, users u
        WHERE u.id = $1 AND l.user_id = u.id AND l.event = 'signature_reauth_failed'
          AND NOT (l.detail ? 'whileLocked')
          AND l.at >= greatest(now() - make_interval(mins => $2), u.signing_failures_reset_at)`,
      [userId, lockMinutes],
    );
    const failures = counted[0]!.n;
    if (failures < maxFailures) return { status: 'wrong' } as const;

    const { rows: lockRows } = await client.query<{ lockedAt: Date; lockedUntil: Date }>(
      `UPDATE users SET signing_locked_until = now() + make_interval(mins => $2), signing_failures_reset_at = now()
        WHERE id = $1 RETURNING now() AS "lockedAt", signing_locked_until AS "lockedUntil"`,
      [userId, lockMinutes],
    );
    const { lockedAt, lockedUntil } = lockRows[0]!;
    await recordSecurityEvent(
      client,
      'signing_locked',
      { userId, login: signer.login, remoteAddress: opts.remoteAddress },
      { ...detail, failures, lockedUntil: lockedUntil.toISOString() },
    );
    await enqueueNotification(client, {
      dedupeKey: `security:signing-locked:${userId}:${lockedAt.toISOString()}`,
      kind: 'security_signing_locked',
      recipients: ['role:admin', 'role:qa_head', signer.login],
      subject: `Signing locked for ${signer.printed_name} (${signer.login}) after ${failures} failed re-authentications`,
      body: {
        userId,
        login: signer.login,
        failures,
        lockedUntil: lockedUntil.toISOString(),
        remoteAddress: opts.remoteAddress ?? null,
        ...detail,
      },
      deviationId: opts.context?.deviationId ?? null,
    });
    return { status: 'locked', lockedUntil } as const;
  });
}

async function lockedNow(pool: Pool, userId: string): Promise<ReauthResult> {
  const { rows } = await pool.query<{ lockedUntil: Date }>(`SELECT signing_locked_until AS "lockedUntil" FROM users WHERE id = $1`, [
    userId,
  ]);
  return { status: 'locked', lockedUntil: rows[0]!.lockedUntil };
}

/**
 * Lifts a signing lock (an administrator, after looking into it), with its `user.signing_unlocked`
 * audit row in the same transaction; false when there is no such user.
 */
export async function unlockSigning(pool: Pool, userId: string, actor = 'system'): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ lockedUntil: Date | null }>(
      `SELECT signing_locked_until AS "lockedUntil" FROM users WHERE id = $1 FOR UPDATE`,
      [userId],
    );
    if (!rows[0]) return false;
    await client.query(`UPDATE users SET signing_locked_until = NULL, signing_failures_reset_at = now() WHERE id = $1`, [userId]);
    await appendAudit(client, {
      actor,
      action: 'user.signing_unlocked',
      entityType: 'user',
      entityId: userId,
      before: { signingLockedUntil: rows[0].lockedUntil },
      after: { signingLockedUntil: null },
    });
    return true;
  });
}
