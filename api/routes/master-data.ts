import { Readable } from 'node:stream';
import type { Request, Router } from 'express';
import { z } from 'zod';
import { auditApiCalls } from '../../audit/middleware';
import { batchSchema, gtinSchema, lotSchema, productSchema, repositoryReportSchema } from '../../domain/master-data';
import { READ_ONLY_ROLES, READER_ROLES, type Role } from '../../domain/roles';
import { findBatch, type BatchRow } from '../../reconciliation/batches';
import { reconcileBatch } from '../../reconciliation/reconcile';
import { storeRepositoryReport } from '../../reconciliation/repository-report';
import type { ApiContext } from '../context';
import { badRequest, conflict, HttpProblem, notFound } from '../problem';
import { bodyOf, declaredRoutes, queryOf, type RouteSpec } from '../route';
import {
  batchDocuments,
  completeBatch,
  latestReportId,
  storedReport,
  tellLineMonitor,
  upsertBatch,
  upsertProduct,
} from '../services/master-data';
import { receiveStreamedUpload, type StreamedUpload } from '../streamed-body';

const batchQuerySchema = z.object({ gtin: gtinSchema.optional() }).strict();
const batchDocumentsQuerySchema = batchQuerySchema
  .extend({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/** The lot named in the path, as a GS1 lot (a NUL or any other control character is refused, 400). */
function lotParam(req: Request): string {
  const parsed = lotSchema.safeParse(String(req.params.lot));
  if (!parsed.success)
    throw badRequest(
      'The lot in the path is invalid.',
      parsed.error.issues.map((i) => ({ path: 'lot', message: i.message })),
    );
  return parsed.data;
}

/**
 * Who may run a reconciliation, which stores a report: every reader role except the read-only
 * ones (an auditor reads the stored reports), and machine clients.
 */
const RECONCILIATION_RUNNERS: Role[] = [...READER_ROLES.filter((r) => !(READ_ONLY_ROLES as readonly string[]).includes(r)), 'integration'];

const reconciliationUrl = (batch: BatchRow) => `/batches/${encodeURIComponent(batch.lot)}/reconciliation?gtin=${batch.gtin}`;

async function batchOr4xx(ctx: ApiContext, lot: string, gtin?: string): Promise<BatchRow> {
  const r = await findBatch(ctx.pool, lot, gtin);
  if ('missing' in r) throw notFound(`No batch with lot ${lot}${gtin ? ` and GTIN ${gtin}` : ''}.`);
  if ('ambiguous' in r) throw conflict(`Lot ${lot} exists for several products; name one with ?gtin=.`, { gtins: r.ambiguous });
  return r.found;
}

// Master data and repository reports come from the machine clients that capture (not from line
// operators: a batch's status and what the repository acknowledged decide findings about their work).
// The reconciliation report is read by people (every reader role) and by the machine clients.
export const MASTER_DATA_ROUTES = {
  products: {
    method: 'post',
    path: '/products',
    summary: 'Product master data',
    access: 'capture',
    roles: ['integration'],
    body: productSchema,
  },
  batches: { method: 'post', path: '/batches', summary: 'Batch master data', access: 'capture', roles: ['integration'], body: batchSchema },
  repositoryReports: {
    method: 'post',
    path: '/batches/:lot/repository-reports',
    summary: 'What EMVS / the DSCSA partner acknowledged',
    access: 'capture',
    roles: ['integration'],
    // (streamed, not parsed whole: reconciliation/repository-report.ts checks it against this schema as it arrives)
    body: repositoryReportSchema,
    query: batchQuerySchema,
  },
  complete: {
    method: 'post',
    path: '/batches/:lot/complete',
    summary:
      "End of batch from the line system: marks the batch completed (the first completion counts), reconciles it and tells its line's monitoring (200: when it completed, the report's ID, the monitor)",
    access: 'capture',
    roles: ['integration'],
    query: batchQuerySchema,
  },
  runReconciliation: {
    method: 'post',
    path: '/batches/:lot/reconciliation',
    summary: "Run a batch reconciliation and store its report (201, the report); the line's monitoring judges the new point",
    access: 'capture',
    roles: RECONCILIATION_RUNNERS,
    query: batchQuerySchema,
  },
  reconciliation: {
    method: 'get',
    path: '/batches/:lot/reconciliation',
    summary: 'The latest stored reconciliation report of a batch (404 naming the POST when none)',
    access: 'capture',
    roles: [...READER_ROLES, 'integration'],
    query: batchQuerySchema,
  },
  documents: {
    method: 'get',
    path: '/batches/:lot/documents',
    summary:
      'The EPCIS documents captured for a batch (events naming its lot, or retracting such events), newest first: one page and the total',
    access: 'capture',
    roles: [...READER_ROLES, 'integration'],
    query: batchDocumentsQuerySchema,
  },
} satisfies Record<string, RouteSpec>;

/** Serialization master data (products, batches) and batch reconciliation. */
export function masterDataRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(MASTER_DATA_ROUTES.products, async (req, res) => {
    const p = bodyOf(MASTER_DATA_ROUTES.products, req.body);
    const stored = await upsertProduct(ctx.pool, p);
    // The same product sent again is accepted (200); different master data under a known GTIN is a conflict.
    if (stored === 'conflict') throw conflict(`Product ${p.gtin} exists with different master data.`);
    res
      .status(stored === 'created' ? 201 : 200)
      .location(`/products/${p.gtin}`)
      .json(p);
  });

  routes.add(MASTER_DATA_ROUTES.batches, async (req, res) => {
    const b = bodyOf(MASTER_DATA_ROUTES.batches, req.body);
    const stored = await upsertBatch(ctx.pool, b);
    if (stored === 'conflict') throw conflict(`Batch ${b.lot} of ${b.gtin} exists with different master data.`);
    res
      .status(stored === 'created' ? 201 : 200)
      .location(`/batches/${encodeURIComponent(b.lot)}?gtin=${b.gtin}`)
      .json({ ...b, status: b.status ?? 'planned' });
  });

  /**
   * The line system's end of batch. Completing again is harmless: the completion time stays the
   * first, the batch is reconciled again (its point keeps its place in the series) and the monitor
   * finds the signals it claimed before.
   */
  routes.add(MASTER_DATA_ROUTES.complete, async (req, res) => {
    const lot = lotParam(req);
    const q = queryOf(MASTER_DATA_ROUTES.complete, req);
    const batch = await batchOr4xx(ctx, lot, q.gtin);
    const completedAt = await completeBatch(ctx.pool, batch);
    const summary = await reconcileBatch(ctx.pool, { lot: batch.lot, gtin: batch.gtin });
    const monitor = await tellLineMonitor(ctx, batch, summary.reportId);
    res
      .status(200)
      .location(reconciliationUrl(batch))
      .json({ lot: batch.lot, gtin: batch.gtin, line: batch.line, completedAt, reportId: summary.reportId, monitor });
  });

  /** Runs a reconciliation of the batch now and stores its report (201, the report); the new point goes to the line's monitor. */
  routes.add(MASTER_DATA_ROUTES.runReconciliation, async (req, res) => {
    const lot = lotParam(req);
    const q = queryOf(MASTER_DATA_ROUTES.runReconciliation, req);
    const batch = await batchOr4xx(ctx, lot, q.gtin);
    const summary = await reconcileBatch(ctx.pool, { lot: batch.lot, gtin: batch.gtin });
    await tellLineMonitor(ctx, batch, summary.reportId);
    res
      .status(201)
      .location(reconciliationUrl(batch))
      .json(await storedReport(ctx.pool, summary.reportId));
  });

  /** The latest stored report of the batch; reading it runs nothing and stores nothing. */
  routes.add(MASTER_DATA_ROUTES.reconciliation, async (req, res) => {
    const lot = lotParam(req);
    const q = queryOf(MASTER_DATA_ROUTES.reconciliation, req);
    const batch = await batchOr4xx(ctx, lot, q.gtin);
    const reportId = await latestReportId(ctx.pool, batch);
    if (!reportId) {
      const run = `POST ${reconciliationUrl(batch)}`;
      throw new HttpProblem(
        404,
        'Not Found',
        `Batch ${batch.lot} (GTIN ${batch.gtin}) has not been reconciled yet; run a reconciliation with ${run}.`,
        { run },
      );
    }
    res.json(await storedReport(ctx.pool, reportId));
  });

  routes.add(MASTER_DATA_ROUTES.documents, async (req, res) => {
    const lot = lotParam(req);
    const q = queryOf(MASTER_DATA_ROUTES.documents, req);
    const batch = await batchOr4xx(ctx, lot, q.gtin);
    const { items, total } = await batchDocuments(ctx.pool, batch, { limit: q.limit, offset: q.offset });
    res.json({ lot: batch.lot, gtin: batch.gtin, items, total, limit: q.limit, offset: q.offset });
  });

  return routes.router;
}

/** How a repository report is refused. */
const REPORT_UPLOAD: StreamedUpload = {
  accepts: (type) => type === 'application/json' || /^application\/[\w.+-]*\+json$/.test(type),
  unsupportedMediaType: 'Send the report as application/json.',
  tooLarge: (limit) =>
    new HttpProblem(413, 'Payload Too Large', `The report exceeds the limit of ${limit} bytes; send it in several reports.`),
  malformed: (err) =>
    badRequest(`The request body is invalid: ${err.message} (byte ${err.offset}).`, [{ path: '(body)', message: err.message }]),
  collided: 'The report collided with another transaction under way and was rolled back; nothing was stored. Send the same report again.',
};

/**
 * POST /batches/:lot/repository-reports streams its body (up to millions of serials) straight into
 * PostgreSQL, so this router is mounted before the JSON body parser (like EPCIS capture).
 */
export function repositoryReportRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);
  const audit = auditApiCalls(ctx);

  // Authenticated before a byte of the body is read; a connection is taken once its first bytes
  // have arrived, and a body that stalls is dropped (408) with nothing stored (api/streamed-body.ts).
  routes.add(MASTER_DATA_ROUTES.repositoryReports, audit, async (req, res) => {
    const lot = lotParam(req);
    const q = queryOf(MASTER_DATA_ROUTES.repositoryReports, req);
    const r = await receiveStreamedUpload(ctx, req, res, REPORT_UPLOAD, (body) =>
      storeRepositoryReport(ctx.pool, Readable.from(body), { lot, gtin: q.gtin, maxBytes: ctx.config.MAX_BODY_BYTES }),
    );
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

  return routes.router;
}
