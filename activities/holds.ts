import type { Pool } from '../db/pool';
import type { HoldActivities } from './types';

export function createHoldActivities(pool: Pool): HoldActivities {
  return {
    /** One hold per deviation and batch: a retry finds the hold it placed before and returns it. */
    async placeHold({ deviationId, lot, reason, placedBy }) {
      const { rows } = await pool.query<{ id: string; placed_at: Date }>(
        `INSERT INTO holds (deviation_id, lot, reason, placed_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (deviation_id, lot) DO UPDATE SET deviation_id = holds.deviation_id
         RETURNING id, placed_at`,
        [deviationId, lot, reason, placedBy],
      );
      const row = rows[0]!;
      return { holdId: `H${row.id}`, placedAt: row.placed_at.toISOString() };
    },

    /** Releases or rejects a held batch; the first disposition stands, a retry returns it unchanged. */
    async disposeHold({ deviationId, lot, disposition, by, reason }) {
      const { rows } = await pool.query<{ id: string; disposed_at: Date }>(
        `UPDATE holds
            SET disposition = COALESCE(disposition, $3),
                disposed_at = COALESCE(disposed_at, now()),
                disposed_by = COALESCE(disposed_by, $4),
                disposition_reason = COALESCE(disposition_reason, $5)
          WHERE deviation_id = $1 AND lot = $2
          RETURNING id, disposed_at`,
        [deviationId, lot, disposition, by, reason],
      );
      const row = rows[0];
      if (!row) throw new Error(`no hold on batch ${lot} for ${deviationId}`);
      return { holdId: `H${row.id}`, disposedAt: row.disposed_at.toISOString() };
    },
  };
}
