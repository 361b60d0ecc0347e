import { appendAudit, appendAuditRows, type AuditEntry } from '../audit/trail';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
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
 * hold it placed (or disposed) before and returns it.
 */
/**
 * Places the hold in the caller's transaction, or finds the one placed before; with the audit-trail
 * row a new hold needs (null for one found).
 */
async function insertHold(
  client: PoolClient,
  { deviationId, lot, reason, placedBy }: { deviationId: string; lot: string; reason: string; placedBy: string },
): Promise<{ holdId: string; placedAt: string; audit: AuditEntry | null }> {
  const inserted = await client.query<HoldRow>(
    `INSERT INTO holds (deviation_id, lot, reason, placed_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (deviation_id, lot) DO NOTHING
     RETURNING id, placed_at`,
    [deviationId, lot, reason, placedBy],
  );
  const row =
    inserted.rows[0] ??
    (await client.query<HoldRow>('SELECT id, placed_at FROM holds WHERE deviation_id = $1 AND lot = $2', [deviationId, lot])).rows[0]!;
  const audit: AuditEntry | null = inserted.rowCount
    ? {
        actor: placedBy,
        action: 'hold.placed',
        entityType: 'batch',
        entityId: lot,
        deviationId,
        after: { holdId: `H${row.id}`, lot },
        reason,
        at: row.placed_at,
      }
    : null;
  return { holdId: `H${row.id}`, placedAt: row.placed_at.toISOString(), audit };
}

export function createHoldActivities(pool: Pool): HoldActivities {
  return {
    async placeHold(input) {
      return withTransaction(pool, async (client) => {
        const { audit, ...hold } = await insertHold(client, input);
        if (audit) await appendAudit(client, audit);
        return hold;
      });
    },

    async placeHoldsAndAlert({ deviationId, lots, reason, placedBy, alert }) {
      return withTransaction(pool, async (client) => {
        const holds: Array<{ lot: string; holdId: string; placedAt: string }> = [];
        const audits: AuditEntry[] = [];
        for (const lot of lots) {
          const { audit, ...hold } = await insertHold(client, { deviationId, lot, reason, placedBy });
          holds.push({ lot, ...hold });
          if (audit) audits.push(audit);
        }
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
