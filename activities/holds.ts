import { appendAudit, appendAuditRows } from '../audit/trail';
import { placeDistributionHolds } from '../containment/distribution-holds';
import { withTransaction, type Pool } from '../db/pool';
import type { HoldActivities } from '../workflows/activity-contracts';
import { queueNotification } from './notifications';

interface HoldRow {
  id: string;
  placed_at: Date;
  disposition: string | null;
  disposed_at: Date | null;
}

/**
 * Holds placed and lifted by containment and closure. Each side effect and its audit-trail row
 * commit together, and only the attempt that made the change writes either: a retry finds the
 * hold it placed (or disposed) before and returns it, as it finds one the API placed when it opened
 * the deviation.
 */
export function createHoldActivities(pool: Pool): HoldActivities {
  return {
    async placeHold({ lot, ...rest }) {
      return withTransaction(pool, async (client) => {
        const { holds, audits } = await placeDistributionHolds(client, { ...rest, lots: [lot] });
        await appendAuditRows(client, audits);
        return { holdId: holds[0]!.holdId, placedAt: holds[0]!.placedAt };
      });
    },

    async placeHoldsAndAlert({ deviationId, lots, reason, placedBy, alert }) {
      return withTransaction(pool, async (client) => {
        const { holds, audits } = await placeDistributionHolds(client, { deviationId, lots, reason, placedBy });
        const queued = await queueNotification(client, alert);
        if (queued) audits.push(queued);
        await appendAuditRows(client, audits);
        return holds;
      });
    },

    /** The first disposition stands; a retry returns it unchanged. */
    async disposeHold({ deviationId, lot, disposition, by, reason }) {
      return withTransaction(pool, async (client) => {
        const updated = await client.query<HoldRow>(
          `UPDATE holds SET disposition = $3, disposed_at = now(), disposed_by = $4, disposition_reason = $5
            WHERE deviation_id = $1 AND lot = $2 AND disposition IS NULL
            RETURNING id, disposed_at`,
          [deviationId, lot, disposition, by, reason],
        );
        const row =
          updated.rows[0] ??
          (await client.query<HoldRow>('SELECT id, disposed_at FROM holds WHERE deviation_id = $1 AND lot = $2', [deviationId, lot]))
            .rows[0];
        if (!row) throw new Error(`no hold on batch ${lot} for ${deviationId}`);
        if (updated.rowCount) {
          await appendAudit(client, {
            actor: by,
            action: disposition === 'release' ? 'hold.released' : 'hold.rejected',
            entityType: 'batch',
            entityId: lot,
            deviationId,
            before: { holdId: `H${row.id}`, status: 'on_hold' },
            after: { holdId: `H${row.id}`, disposition },
            reason,
            at: row.disposed_at!,
          });
        }
        return { holdId: `H${row.id}`, disposedAt: row.disposed_at!.toISOString() };
      });
    },
  };
}
