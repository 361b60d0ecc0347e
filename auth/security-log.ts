import type { Queryable } from './types';

export type SecurityEvent = 'login_failed' | 'signature_reauth_failed' | 'signing_locked' | 'password_change_failed';

/**
 * Appends one security event. The table refuses UPDATE and DELETE; what goes in stays. Never pass
 * a password or token in `detail`.
 */
export async function recordSecurityEvent(
  db: Queryable,
  event: SecurityEvent,
  who: { userId?: string | null; login?: string | null; remoteAddress?: string | null },
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    `INSERT INTO security_log (event, user_id, login, remote_address, detail) VALUES ($1, $2, $3, $4, $5)`,
    // A typed login is kept for spotting guessing, but bounded so nobody can fill the log with megabytes.
    [event, who.userId ?? null, who.login?.slice(0, 320) ?? null, who.remoteAddress ?? null, JSON.stringify(detail)],
  );
}
