import type { Pool } from '../db/pool';

export interface BatchRow {
  id: string;
  gtin: string;
  lot: string;
  expiry: string | null;
  line: string | null;
  planned_quantity: number | null;
  status: string;
}

export type BatchLookup = { found: BatchRow } | { missing: true } | { ambiguous: string[] };

/** Batches are addressed by lot; `gtin` settles it where two products share a lot number. */
export async function findBatch(pool: Pick<Pool, 'query'>, lot: string, gtin?: string | null): Promise<BatchLookup> {
  const { rows } = await pool.query<BatchRow>(
    `SELECT id, gtin, lot, to_char(expiry, 'YYYY-MM-DD') AS expiry, line, planned_quantity, status
       FROM batches WHERE lot = $1 AND ($2::text IS NULL OR gtin = $2) ORDER BY gtin`,
    [lot, gtin ?? null],
  );
  if (rows.length === 0) return { missing: true };
  if (rows.length > 1) return { ambiguous: rows.map((r) => r.gtin) };
  return { found: rows[0]! };
}
