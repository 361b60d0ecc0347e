import type { PoolClient, Queryable } from '../db/pool';
import type { AlertCause, AlertFramework, AlertedPack, OwnPackData } from '../domain/emvs';

/**
 * What the company's own serialization data says of a pack an EMVS alert or a DSCSA verification
 * names (domain/emvs.ts judges it): the unit as capture keeps it (serialized_items: commissioned how
 * often, in which batch, its latest status), the batch the pack names, whether the repository
 * acknowledged the serial (repository reports of its batch, target EMVS), and the holds on the batch.
 * Each read uses a key: a unit by serial and GTIN, a reported serial by batch and serial.
 */
export async function readOwnPackData(db: Queryable, pack: AlertedPack, framework: AlertFramework): Promise<OwnPackData> {
  const { rows: units } = await db.query<{
    commissionings: number;
    batch_id: string | null;
    status: string;
    status_at: Date | null;
    lot: string | null;
    expiry: string | null;
    line: string | null;
  }>(
    `SELECT si.commissionings, si.batch_id::text, si.status, NULLIF(si.status_at, '-infinity') AS status_at,
            b.lot, to_char(b.expiry, 'YYYY-MM-DD') AS expiry, b.line
       FROM serialized_items si LEFT JOIN batches b ON b.id = si.batch_id
      WHERE si.serial = $2 AND si.gtin = $1`,
    [pack.gtin, pack.serial],
  );
  const { rows: batches } = await db.query<{ id: string; expiry: string | null; line: string | null }>(
    `SELECT id::text, to_char(expiry, 'YYYY-MM-DD') AS expiry, line FROM batches WHERE gtin = $1 AND lot = $2`,
    [pack.gtin, pack.lot],
  );
  const { rows: known } = await db.query<{ known: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM products WHERE gtin = $1) OR EXISTS (SELECT 1 FROM batches WHERE gtin = $1) AS known`,
    [pack.gtin],
  );
  const u = units[0];
  const unit = u
    ? {
        commissionings: Number(u.commissionings),
        batchId: u.batch_id,
        lot: u.lot,
        expiry: u.expiry,
        line: u.line,
        status: u.status,
        statusAt: u.status_at?.toISOString() ?? null,
      }
    : null;
  let uploaded: boolean | null = null;
  if (framework === 'eu_fmd' && unit && unit.commissionings > 0 && unit.batchId !== null) {
    const { rows } = await db.query<{ uploaded: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM repository_report_serials s JOIN repository_reports r ON r.id = s.report_id
                       WHERE s.batch_id = $1 AND s.serial = $2 AND r.target = 'EMVS') AS uploaded`,
      [unit.batchId, pack.serial],
    );
    uploaded = rows[0]!.uploaded;
  }
  const lots = [...new Set([pack.lot, ...(unit?.lot ? [unit.lot] : [])])];
  const { rows: holds } = await db.query<{ deviation_id: string }>(
    `SELECT DISTINCT deviation_id FROM holds WHERE disposition IS NULL AND lot = ANY($1::text[]) ORDER BY deviation_id LIMIT 20`,
    [lots],
  );
  return {
    productKnown: known[0]!.known || unit !== null,
    batch: batches[0] ?? null,
    unit,
    uploaded,
    holds: holds.map((h) => h.deviation_id),
  };
}

/**
 * The deviation a new alert (or negative verification) of this product, batch and cause is a
 * recurrence of: the first one such alerts opened that is still open (in the read model, or not
 * there yet) and that no link has found closed before.
 */
export async function openAlertDeviation(client: PoolClient, gtin: string, lot: string, cause: AlertCause): Promise<string | null> {
  const { rows } = await client.query<{ deviation_id: string }>(
    `SELECT s.deviation_id FROM monitoring_signals s
      WHERE s.kind IN ('emvs_alert', 'dscsa_verification') AND s.disposition = 'opened'
        AND s.gtin = $1 AND s.lot = $2 AND s.metric = $3
        AND NOT EXISTS (SELECT 1 FROM deviations d WHERE d.id = s.deviation_id AND d.status <> 'open')
        AND NOT EXISTS (SELECT 1 FROM monitoring_signals u WHERE u.unreachable = s.deviation_id)
      ORDER BY s.claimed_at, s.deviation_id LIMIT 1`,
    [gtin, lot, cause],
  );
  return rows[0]?.deviation_id ?? null;
}
