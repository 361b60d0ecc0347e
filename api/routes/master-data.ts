import { Readable } from 'node:stream';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { auditApiCalls } from '../../audit/middleware';
import { batchSchema, gtinSchema, lotSchema, productSchema } from '../../domain/master-data';
import { READ_ONLY_ROLES, READER_ROLES, type Role } from '../../domain/roles';
import { PayloadTooLargeError } from '../../epcis/capture';
import { findBatch, type BatchRow } from '../../reconciliation/batches';
import { reconcileBatch } from '../../reconciliation/reconcile';
import { MalformedBodyError } from '../../lib/json-list-splitter';
import { storeRepositoryReport } from '../../reconciliation/repository-report';
import { requireCaptureAccess } from '../capture-auth';
import type { ApiContext } from '../context';
import { badRequest, conflict, HttpProblem, notFound } from '../problem';
import { streamedBody, streamProblem, takeUploadSlot } from '../streamed-body';
import { parseOr400 } from '../validate';

const batchQuerySchema = z.object({ gtin: gtinSchema.optional() }).strict();

/** The lot named in the path, as a GS1 lot (a NUL or any other control character is refused, 400). */
function lotParam(req: Request): string {
  const parsed = lotSchema.safeParse(String(req.params.lot));
  if (!parsed.success) throw badRequest('The lot in the path is invalid.', parsed.error.issues.map((i) => ({ path: 'lot', message: i.message })));
  return parsed.data;
}

/**
 * Who may run a reconciliation, which stores a report: every reader role except the read-only
 * ones (an auditor reads the stored reports), and machine clients.
 */
const RECONCILIATION_RUNNERS: Role[] = [...READER_ROLES.filter((r) => !(READ_ONLY_ROLES as readonly string[]).includes(r)), 'integration'];

/** Discrepancies listed in an answer; the counts always cover all of them. */
const LISTED_DISCREPANCIES = 10_000;

/** A stored reconciliation report as the API gives it: its summary and (up to 10,000 of) its discrepancies. */
async function storedReport(ctx: ApiContext, reportId: string) {
  const { rows: reports } = await ctx.pool.query<{ summary: Record<string, unknown>; deviation_id: string | null }>(
    'SELECT summary, deviation_id FROM reconciliation_reports WHERE id = $1',
    [reportId],
  );
  const report = reports[0];
  if (!report) throw notFound(`No reconciliation report ${reportId}.`);
  const { rows } = await ctx.pool.query(
    `SELECT category, kind, sgtin, gtin, serial, ssccs, detail FROM reconciliation_discrepancies WHERE report_id = $1 ORDER BY seq LIMIT $2`,
    [reportId, LISTED_DISCREPANCIES],
  );
  return { ...report.summary, deviationId: report.deviation_id, discrepancyList: rows, discrepancyListTruncated: rows.length === LISTED_DISCREPANCIES };
}

/** The newest report stored for the batch (run through the API or by a deviation's workflow), if any. */
async function latestReportId(ctx: ApiContext, batch: BatchRow): Promise<string | null> {
  const { rows } = await ctx.pool.query<{ id: string }>(
    `SELECT id FROM reconciliation_reports WHERE lot = $1 AND gtin = $2 AND batch_id = $3
      ORDER BY generated_at DESC, length(id) DESC, id DESC LIMIT 1`,
    [batch.lot, batch.gtin, batch.id],
  );
  return rows[0]?.id ?? null;
}

const reconciliationUrl = (batch: BatchRow) => `/batches/${encodeURIComponent(batch.lot)}/reconciliation?gtin=${batch.gtin}`;

async function batchOr4xx(ctx: ApiContext, lot: string, gtin?: string): Promise<BatchRow> {
  const r = await findBatch(ctx.pool, lot, gtin);
  if ('missing' in r) throw notFound(`No batch with lot ${lot}${gtin ? ` and GTIN ${gtin}` : ''}.`);
  if ('ambiguous' in r) throw conflict(`Lot ${lot} exists for several products; name one with ?gtin=.`, { gtins: r.ambiguous });
  return r.found;
}

/** Serialization master data (products, batches), repository reports and batch reconciliation. */
export function masterDataRoutes(ctx: ApiContext): Router {
  const router = Router();
  // Master data and repository reports come from the machine clients that capture (not from line
  // operators: a batch's status and what the repository acknowledged decide findings about their work).
  const access = requireCaptureAccess(ctx, 'integration');
  // The reconciliation report is read by people (every reader role) and by the machine clients.
  const readers = requireCaptureAccess(ctx, ...READER_ROLES, 'integration');
  const runners = requireCaptureAccess(ctx, ...RECONCILIATION_RUNNERS);

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

  /** Runs a reconciliation of the batch now and stores its report (201, the report). */
  router.post('/batches/:lot/reconciliation', runners, async (req, res) => {
    const lot = lotParam(req);
    const q = parseOr400(batchQuerySchema, req.query, 'query string');
    const batch = await batchOr4xx(ctx, lot, q.gtin);
    const summary = await reconcileBatch(ctx.pool, { lot: batch.lot, gtin: batch.gtin });
    res.status(201).location(reconciliationUrl(batch)).json(await storedReport(ctx, summary.reportId));
  });

  /** The latest stored report of the batch; reading it runs nothing and stores nothing. */
  router.get('/batches/:lot/reconciliation', readers, async (req, res) => {
    const lot = lotParam(req);
    const q = parseOr400(batchQuerySchema, req.query, 'query string');
    const batch = await batchOr4xx(ctx, lot, q.gtin);
    const reportId = await latestReportId(ctx, batch);
    if (!reportId) {
      const run = `POST ${reconciliationUrl(batch)}`;
      throw new HttpProblem(404, 'Not Found', `Batch ${batch.lot} (GTIN ${batch.gtin}) has not been reconciled yet; run a reconciliation with ${run}.`, { run });
    }
    res.json(await storedReport(ctx, reportId));
  });

  return router;
}

const reportTooLarge = (limit: number) =>
  new HttpProblem(413, 'Payload Too Large', `The report exceeds the limit of ${limit} bytes; send it in several reports.`);

/**
 * POST /batches/:lot/repository-reports streams its body (up to millions of serials) straight into
 * PostgreSQL, so this router is mounted before the JSON body parser (like EPCIS capture).
 */
export function repositoryReportRoutes(ctx: ApiContext): Router {
  const router = Router();
  // (integration only, like master data: what the repository acknowledged removes missing-report findings)
  const access = requireCaptureAccess(ctx, 'integration');
  const audit = auditApiCalls(ctx);

  // Authenticated before a byte of the body is read; a connection is taken once its first bytes
  // have arrived, and a body that stalls is dropped (408) with nothing stored.
  router.post('/batches/:lot/repository-reports', access, audit, async (req, res) => {
    const lot = lotParam(req);
    const q = parseOr400(batchQuerySchema, req.query, 'query string');
    const type = (req.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && !/^application\/[\w.+-]*\+json$/.test(type)) {
      throw new HttpProblem(415, 'Unsupported Media Type', 'Send the report as application/json.');
    }
    const declared = Number(req.get('Content-Length'));
    if (Number.isFinite(declared) && declared > ctx.config.MAX_BODY_BYTES) {
      res.set('Connection', 'close');
      throw reportTooLarge(ctx.config.MAX_BODY_BYTES);
    }
    let r;
    let releaseSlot = () => undefined as void;
    try {
      const body = await streamedBody(req, ctx.config.BODY_STALL_TIMEOUT_MS);
      releaseSlot = takeUploadSlot(ctx, ctx.config.STREAMED_UPLOADS_MAX, res);
      r = await storeRepositoryReport(ctx.pool, Readable.from(body), { lot, gtin: q.gtin, maxBytes: ctx.config.MAX_BODY_BYTES });
    } catch (err) {
      const dropped = streamProblem(err, res);
      if (dropped) throw dropped;
      if (err instanceof PayloadTooLargeError) {
        res.set('Connection', 'close');
        throw reportTooLarge(err.limit);
      }
      if (err instanceof MalformedBodyError) throw badRequest(`The request body is invalid: ${err.message} (byte ${err.offset}).`, [{ path: '(body)', message: err.message }]);
      throw err;
    } finally {
      releaseSlot();
    }
    if (!r.ok) {
      if (r.kind === 'missing') throw notFound(`No batch with lot ${r.lot}${r.gtin ? ` and GTIN ${r.gtin}` : ''}.`);
      if (r.kind === 'ambiguous') throw conflict(`Lot ${r.lot} exists for several products; name one with ?gtin=.`, { gtins: r.gtins });
      throw new HttpProblem(400, 'Bad Request', r.detail, { errors: r.problems, totalProblems: r.totalProblems });
    }
    res
      .status(201)
      .location(`/batches/${encodeURIComponent(r.batch.lot)}/repository-reports/R${r.reportId}`)
      .json({ id: `R${r.reportId}`, lot: r.batch.lot, gtin: r.batch.gtin, target: r.target, reportedAt: r.reportedAt, serials: r.serials });
  });

  return router;
}
