import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool } from '../db/pool';
import type { NotificationActivities } from '../workflows/activity-contracts';

export function createNotificationActivities(pool: Pool): NotificationActivities {
  return {
    /** Writes to the outbox (and the audit trail) once; the dedupe key makes a retry a no-op. */
    async notify({ dedupeKey, deviationId, kind, recipients, subject, body }) {
      await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO notifications (dedupe_key, deviation_id, kind, recipients, subject, body)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (dedupe_key) DO NOTHING
           RETURNING id`,
          [dedupeKey, deviationId, kind, recipients, subject, JSON.stringify(body ?? {})],
        );
        if (rows[0]) {
          await appendAudit(client, {
            actor: 'system',
            action: 'notification.queued',
            entityType: 'notification',
            entityId: rows[0].id,
            deviationId,
            after: { kind, recipients, subject },
          });
        }
      });
    },
  };
}
