import { appendAudit, type AuditEntry } from '../audit/trail';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import type { NotificationActivities, OutboxNotification } from '../workflows/activity-contracts';

/**
 * Writes the notification into the outbox in the caller's transaction; the audit-trail row it
 * needs, or null when the dedupe key was there already (a retry: nothing written, nothing to audit).
 */
export async function queueNotification(client: PoolClient, n: OutboxNotification): Promise<AuditEntry | null> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO notifications (dedupe_key, deviation_id, kind, recipients, subject, body)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (dedupe_key) DO NOTHING
     RETURNING id`,
    [n.dedupeKey, n.deviationId, n.kind, n.recipients, n.subject, JSON.stringify(n.body ?? {})],
  );
  if (!rows[0]) return null;
  return {
    actor: 'system',
    action: 'notification.queued',
    entityType: 'notification',
    entityId: rows[0].id,
    deviationId: n.deviationId,
    after: { kind: n.kind, recipients: n.recipients, subject: n.subject },
  };
}

export function createNotificationActivities(pool: Pool): NotificationActivities {
  return {
    /** Writes to the outbox (and the audit trail) once; the dedupe key makes a retry a no-op. */
    async notify(notification) {
      await withTransaction(pool, async (client) => {
        const audit = await queueNotification(client, notification);
        if (audit) await appendAudit(client, audit);
      });
    },
  };
}
