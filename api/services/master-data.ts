import type { Queryable } from '../../db/pool';
import type { BatchInput, ProductInput } from '../../domain/master-data';
import type { BatchRow } from '../../reconciliation/batches';
import { notFound } from '../problem';

/**
 * Serialization master data as the API writes it, and the reconciliation reports it reads back.
 * The same master data sent again is accepted; different master data under a known key is not.
 */

/** Inserts the product: 'created', 'same' (sent before, identical), or 'conflict' (the GTIN holds other data). */
export async function upsertProduct(db: Queryable, p: ProductInput): Promise<'created' | 'same' | 'conflict'> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO products (gtin, name, units_per_bundle, units_per_case, cases_per_pallet, aggregation_required)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (gtin) DO UPDATE SET gtin = products.gtin
       WHERE (products.name, products.units_per_bundle, products.units_per_case, products.cases_per_pallet, products.aggregation_required)
             IS NOT DISTINCT FROM (EXCLUDED.name, EXCLUDED.units_per_bundle, EXCLUDED.units_per_case, EXCLUDED.cases_per_pallet, EXCLUDED.aggregation_required)
     RETURNING (xmax = 0) AS inserted`,
    [p.gtin, p.name, p.unitsPerBundle ?? null, p.unitsPerCase, p.casesPerPallet, p.aggregationRequired],
  );
  if (!rows[0]) return 'conflict';
  return rows[0].inserted ? 'created' : 'same';
}

/**
 * Inserts the batch: a batch created earlier from a commissioning event gets its master data; an
 * existing master-data batch is not overwritten ('conflict' when the data differs).
 */
export async function upsertBatch(db: Queryable, b: BatchInput): Promise<'created' | 'same' | 'conflict'> {
  const { rows } = await db.query<{ id: string; inserted: boolean }>(
    `INSERT INTO batches (gtin, lot, expiry, line, planned_quantity, status, source)
     VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'planned'), 'master_data')
     ON CONFLICT (gtin, lot) DO UPDATE SET expiry = EXCLUDED.expiry, line = EXCLUDED.line,
       planned_quantity = EXCLUDED.planned_quantity, source = 'master_data',
       status = COALESCE($6, batches.status)
       WHERE batches.source = 'epcis'
          OR (batches.expiry, batches.line, batches.planned_quantity) IS NOT DISTINCT FROM (EXCLUDED.expiry, EXCLUDED.line, EXCLUDED.planned_quantity)
     RETURNING id, (xmax = 0) AS inserted`,
    [b.gtin, b.lot, b.expiry, b.line, b.plannedQuantity, b.status ?? null],
  );
  if (!rows[0]) return 'conflict';
  return rows[0].inserted ? 'created' : 'same';
}

/** Discrepancies listed in an answer; the counts always cover all of them. */
const LISTED_DISCREPANCIES = 10_000;

/** A stored reconciliation report as the API gives it: its summary and (up to 10,000 of) its discrepancies. */
export async function storedReport(db: Queryable, reportId: string) {
  const { rows: reports } = await db.query<{ summary: Record<string, unknown>; deviation_id: string | null }>(
    'SELECT summary, deviation_id FROM reconciliation_reports WHERE id = $1',
    [reportId],
  );
  const report = reports[0];
  if (!report) throw notFound(`No reconciliation report ${reportId}.`);
  const { rows } = await db.query(
    `SELECT category, kind, sgtin, gtin, serial, ssccs, detail FROM reconciliation_discrepancies WHERE report_id = $1 ORDER BY seq LIMIT $2`,
    [reportId, LISTED_DISCREPANCIES],
  );
  return {
    ...report.summary,
    deviationId: report.deviation_id,
    discrepancyList: rows,
    discrepancyListTruncated: rows.length === LISTED_DISCREPANCIES,
  };
}

/** The newest report stored for the batch (run through the API or by a deviation's workflow), if any. */
export async function latestReportId(db: Queryable, batch: BatchRow): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM reconciliation_reports WHERE lot = $1 AND gtin = $2 AND batch_id = $3
      ORDER BY generated_at DESC, length(id) DESC, id DESC LIMIT 1`,
    [batch.lot, batch.gtin, batch.id],
  );
  return rows[0]?.id ?? null;
}
