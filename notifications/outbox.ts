import type { Queryable } from '../db/pool';

export interface OutboxNotification {
  /** Makes a retried writer produce one notification, not two. */
  dedupeKey: string;
  kind: string;
  /** Role names (`role:qa_head`) or user logins. */
  recipients: string[];
  subject: string;
  body?: Record<string, unknown>;
  deviationId?: string | null;
}

/** Writes a notification into the outbox (the dispatcher delivers it); false when the key was already there. */
export async function enqueueNotification(db: Queryable, n: OutboxNotification): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO notifications (dedupe_key, deviation_id, kind, recipients, subject, body)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (dedupe_key) DO NOTHING`,
    [n.dedupeKey, n.deviationId ?? null, n.kind, n.recipients, n.subject, JSON.stringify(n.body ?? {})],
  );
  return (rowCount ?? 0) > 0;
}
