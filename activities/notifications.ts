import type { Pool } from '../db/pool';
import type { NotificationActivities } from './types';

export function createNotificationActivities(pool: Pool): NotificationActivities {
  return {
    /** Writes to the outbox; the dedupe key makes a retried activity one notification. */
    async notify({ dedupeKey, deviationId, kind, recipients, subject, body }) {
      await pool.query(
        `INSERT INTO notifications (dedupe_key, deviation_id, kind, recipients, subject, body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (dedupe_key) DO NOTHING`,
        [dedupeKey, deviationId, kind, recipients, subject, JSON.stringify(body ?? {})],
      );
    },
  };
}
