import { Router } from 'express';
import { z } from 'zod';
import { batchSchema, gtinSchema, productSchema, repositoryReportSchema } from '../../domain/master-data';
import { withTransaction } from '../../db/pool';
import { findBatch, type BatchRow } from '../../reconciliation/batches';
import { reconcileBatch } from '../../reconciliation/reconcile';
import { requireCaptureAccess } from '../capture-auth';
import type { ApiContext } from '../context';
import { badRequest, conflict, notFound } from '../problem';
import { parseOr400 } from '../validate';

const batchQuerySchema = z.object({ gtin: gtinSchema.optional() }).strict();

async function batchOr4xx(ctx: ApiContext, lot: string, gtin?: string): Promise<BatchRow> {
  const r = await findBatch(ctx.pool, lot, gtin);
  if ('missing' in r) throw notFound(`No batch with lot ${lot}${gtin ? ` and GTIN ${gtin}` : ''}.`);
  if ('ambiguous' in r) throw conflict(`Lot ${lot} exists for several products; name one with ?gtin=.`, { gtins: r.ambiguous });
  return r.found;
}

/** Serialization master data (products, batches), repository reports and batch reconciliation. */
export function masterDataRoutes(ctx: ApiContext): Router {
  const router = Router();
  // Master data and repository reports come from the same machine clients as EPCIS capture.
  const access = requireCaptureAccess(ctx);

  router.post('/products', access, async (req, res) => {
    const p = parseOr400(productSchema, req.body);
    const { rows } = await ctx.pool.query<{ inserted: boolean }>(
      `INSERT INTO products (gtin, name, units_per_bundle, units_per_case, cases_per_pallet, aggregation_required)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (gtin) DO UPDATE SET gtin = products.gtin
         WHERE (products.name, products.units_per_bundle, products.units_per_case, products.cases_per_pallet, products.aggregation_required)
               IS NOT DISTINCT FROM (EXCLUDED.name, EXCLUDED.units_per_bundle, EXCLUDED.units_per_case, EXCLUDED.cases_per_pallet, EXCLUDED.aggregation_required)
       RETURNING (xmax = 0) AS inserted`,
      [p.gtin, p.name, p.unitsPerBundle ?? null, p.unitsPerCase, p.casesPerPallet, p.aggregationRequired],
    );
    // The same product sent again is accepted (200); different master data under a known GTIN is a conflict.
    if (!rows[0]) throw conflict(`Product ${p.gtin} exists with different master data.`);
    res.status(rows[0].inserted ? 201 : 200).location(`/products/${p.gtin}`).json(p);
  });

  router.post('/batches', access, async (req, res) => {
    const b = parseOr400(batchSchema, req.body);
    // A batch created earlier from a commissioning event gets its master data; an existing
    // master-data batch is not overwritten.
    const { rows } = await ctx.pool.query<{ id: string; inserted: boolean }>(
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
    if (!rows[0]) throw conflict(`Batch ${b.lot} of ${b.gtin} exists with different master data.`);
    res
      .status(rows[0].inserted ? 201 : 200)
      .location(`/batches/${encodeURIComponent(b.lot)}?gtin=${b.gtin}`)
      .json({ ...b, status: b.status ?? 'planned' });
  });

  router.post('/batches/:lot/repository-reports', access, async (req, res) => {
    const q = parseOr400(batchQuerySchema, req.query, 'query string');
    const r = parseOr400(repositoryReportSchema, req.body);
    if (r.lot !== undefined && r.lot !== String(req.params.lot)) throw badRequest('The report names another lot than the path.', [{ path: 'lot', message: `must be ${String(req.params.lot)}` }]);
    const batch = await batchOr4xx(ctx, String(req.params.lot), q.gtin ?? r.gtin);
    const wrong = r.serials.findIndex((s) => s.gtin !== null && s.gtin !== batch.gtin);
    if (wrong >= 0) throw badRequest('A reported SGTIN is of another product.', [{ path: `serials.${wrong}`, message: `GTIN is not ${batch.gtin}` }]);
    const reportId = await withTransaction(ctx.pool, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO repository_reports (batch_id, target, reported_at, serial_count) VALUES ($1, $2, $3, $4) RETURNING id`,
        [batch.id, r.target, r.reportedAt, r.serials.length],
      );
      const id = rows[0]!.id;
      // In slices, so a million-serial report is not one giant parameter.
      for (let i = 0; i < r.serials.length; i += 50_000) {
        await client.query(
          `INSERT INTO repository_report_serials (report_id, batch_id, serial)
           SELECT $1, $2, s FROM unnest($3::text[]) AS s ON CONFLICT DO NOTHING`,
          [id, batch.id, r.serials.slice(i, i + 50_000).map((s) => s.serial)],
        );
      }
      return id;
    });
    res
      .status(201)
      .location(`/batches/${encodeURIComponent(batch.lot)}/repository-reports/R${reportId}`)
      .json({ id: `R${reportId}`, lot: batch.lot, gtin: batch.gtin, target: r.target, reportedAt: r.reportedAt, serials: r.serials.length });
  });

  router.get('/batches/:lot/reconciliation', async (req, res) => {
    const q = parseOr400(batchQuerySchema, req.query, 'query string');
    const batch = await batchOr4xx(ctx, String(req.params.lot), q.gtin);
    const summary = await reconcileBatch(ctx.pool, { lot: batch.lot, gtin: batch.gtin });
    const { rows } = await ctx.pool.query(
      `SELECT category, kind, sgtin, gtin, serial, ssccs, detail FROM reconciliation_discrepancies WHERE report_id = $1 ORDER BY seq LIMIT 10000`,
      [summary.reportId],
    );
    res.json({ ...summary, discrepancyList: rows, discrepancyListTruncated: rows.length === 10000 });
  });

  return router;
}
