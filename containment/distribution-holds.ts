import type { AuditEntry } from '../audit/trail';
import type { PoolClient } from '../db/pool';

export interface PlacedHold {
  lot: string;
  holdId: string;
  placedAt: string;
}

/**
 * A deviation's distribution holds on its batches, placed in the caller's transaction, or found
 * where they were placed before (by the API when it opened the deviation, or by an earlier attempt
 * of the workflow's activity): one hold per deviation and lot, whoever comes first. Answers every
 * lot's hold, in the order given, and the audit-trail rows of the holds this call placed (none for
 * holds found), for the caller to append in the same transaction.
 */
export async function placeDistributionHolds(
  client: PoolClient,
  { deviationId, lots, reason, placedBy }: { deviationId: string; lots: readonly string[]; reason: string; placedBy: string },
): Promise<{ holds: PlacedHold[]; audits: AuditEntry[] }> {
  type HoldRow = { id: string; lot: string; placed_at: Date };
  const { rows: placed } = await client.query<HoldRow>(
    `INSERT INTO holds (deviation_id, lot, reason, placed_by)
     SELECT $1, lot, $3, $4 FROM unnest($2::text[]) WITH ORDINALITY AS w(lot, n) ORDER BY n
     ON CONFLICT (deviation_id, lot) DO NOTHING
     RETURNING id::text, lot, placed_at`,
    [deviationId, lots, reason, placedBy],
  );
  const placedNow = new Set(placed.map((r) => r.lot));
  const elsewhere = lots.filter((lot) => !placedNow.has(lot));
  // A statement of its own: a hold committed by a concurrent transaction while the INSERT waited on it
  // is visible only to a snapshot taken after.
  const found = elsewhere.length
    ? (
        await client.query<HoldRow>('SELECT id::text, lot, placed_at FROM holds WHERE deviation_id = $1 AND lot = ANY($2::text[])', [
          deviationId,
          elsewhere,
        ])
      ).rows
    : [];
  const byLot = new Map([...placed, ...found].map((r) => [r.lot, r]));
  const rows = lots.map((lot) => {
    const row = byLot.get(lot);
    if (!row) throw new Error(`no hold on batch ${lot} for ${deviationId}`);
    return { ...row, placed_now: placedNow.has(lot) };
  });
  const holds = rows.map((r) => ({ lot: r.lot, holdId: `H${r.id}`, placedAt: r.placed_at.toISOString() }));
  const audits = rows.filter((r) => r.placed_now).map((r) => holdPlacedAudit(r, { deviationId, reason, placedBy }));
  return { holds, audits };
}

/** The audit-trail row of a hold just placed. */
export function holdPlacedAudit(
  hold: { id: string; lot: string; placed_at: Date },
  { deviationId, reason, placedBy }: { deviationId: string; reason: string; placedBy: string },
): AuditEntry {
  return {
    actor: placedBy,
    action: 'hold.placed',
    entityType: 'batch',
    entityId: hold.lot,
    deviationId,
    after: { holdId: `H${hold.id}`, lot: hold.lot },
    reason,
    at: hold.placed_at,
  };
}
