import type { Queryable } from '../../db/pool';
import type { BatchInput, ProductInput } from '../../domain/master-data';
import { captureIdOf } from '../../epcis/capture';
import { isWatchedLine } from '../../monitoring/detection';
import type { BatchRow } from '../../reconciliation/batches';
import { PRODUCTION_POLICY } from '../../domain/policy';
import type { LineMonitorWorkflow } from '../../workflows/line-monitor';
import { batchPointSignal, lineMonitorWorkflowId } from '../../workflows/messages';
import type { ApiContext } from '../context';
import { HttpProblem, notFound } from '../problem';

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

/** Marks the batch completed and answers when it was: the first completion counts, a repeated one keeps it. */
export async function completeBatch(db: Queryable, batch: BatchRow): Promise<Date> {
  const { rows } = await db.query<{ completed_at: Date }>(
    'UPDATE batches SET completed_at = COALESCE(completed_at, now()) WHERE id = $1 RETURNING completed_at',
    [batch.id],
  );
  return rows[0]!.completed_at;
}

/**
 * Tells the batch's line monitor (workflows/line-monitor.ts) that the batch's point was recorded,
 * by reference (the batch's ID); signal-with-start starts the line's monitor at its first point.
 * Answers the monitor's workflow ID, or null for a batch on no watched line. A point is never left
 * unjudged in silence: when Temporal cannot be reached the caller answers 503 (the report is stored;
 * sending the request again records the point again and tells the monitor).
 */
export async function tellLineMonitor(ctx: ApiContext, batch: BatchRow, reportId: string): Promise<string | null> {
  const policy = ctx.policy ?? PRODUCTION_POLICY;
  if (!isWatchedLine(batch.line, policy.monitoring)) return null;
  const workflowId = lineMonitorWorkflowId(batch.line);
  try {
    await ctx.temporal.workflow.signalWithStart<typeof LineMonitorWorkflow, [{ batchId: string }]>('LineMonitorWorkflow', {
      workflowId,
      taskQueue: ctx.config.TEMPORAL_TASK_QUEUE,
      args: [{ line: batch.line }],
      signal: batchPointSignal,
      signalArgs: [{ batchId: String(batch.id) }],
    });
  } catch (err) {
    ctx.log.error({ err: String(err), lot: batch.lot, workflowId }, 'the line monitor could not be told of a batch point');
    throw new HttpProblem(
      503,
      'Service Unavailable',
      `Report ${reportId} is stored, but line ${batch.line}'s monitoring could not be told; send the request again.`,
      { reportId },
    );
  }
  return workflowId;
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

export interface BatchDocument {
  captureId: string;
  capturedAt: Date;
  /** The login (or API key) that sent it. */
  capturedBy: string;
  sha256: string;
  bytes: number;
  /** Events in the document, and how many of them were new (an event sent before is not applied again). */
  events: number;
  newEvents: number;
  /** Its events that name the batch (only events it brought: a repeated event belongs to the document that brought it first). */
  batchEvents: number;
  /** How many of those an error declaration has retracted since. */
  retracted: number;
  /** Its error declarations that retract events of the batch. */
  retractions: number;
}

/**
 * The EPCIS documents captured for a batch, newest first: those that brought events naming the
 * batch (units commissioned into it, the lot of the event's ilmd; or the batch as a class, an
 * LGTIN), and those whose error declarations retract such events. Events that name the batch's
 * units without its lot (packing, shipping) are linked to a batch only through its units, which
 * would mean unnesting every identifier list of the product: they are not searched here. One page,
 * and how many there are, from one statement.
 */
export async function batchDocuments(
  db: Queryable,
  batch: Pick<BatchRow, 'gtin' | 'lot'>,
  page: { limit: number; offset: number },
): Promise<{ items: BatchDocument[]; total: number }> {
  const { rows } = await db.query<{
    total: number;
    id: string | null;
    sha256: string;
    bytes: string;
    event_count: number;
    new_events: number;
    captured_by: string;
    captured_at: Date;
    batch_events: number;
    retracted: number;
    retractions: number;
  }>(
    `WITH batch_events AS MATERIALIZED (
       -- (each arm is read through its partial index on (gtin, lot))
       SELECT x.event_pk FROM epcis_event_identifiers x
        WHERE x.kind = 'sgtin' AND x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.gtin = $1 AND x.lot = $2
       UNION
       SELECT x.event_pk FROM epcis_event_identifiers x WHERE x.kind = 'lgtin' AND x.gtin = $1 AND x.lot = $2
     ), documents AS MATERIALIZED (
       SELECT document_id, sum(brought)::int AS batch_events, sum(retracted)::int AS retracted, sum(retracting)::int AS retractions
         FROM (SELECT e.document_id, 1 AS brought, e.retracted::int AS retracted, 0 AS retracting
                 FROM batch_events b JOIN epcis_events e ON e.id = b.event_pk
               UNION ALL
               SELECT d.document_id, 0, 0, 1
                 FROM batch_events b JOIN epcis_events e ON e.id = b.event_pk
                 JOIN epcis_events d ON d.event_id = e.event_id AND d.is_declaration) concerned
        GROUP BY document_id
     )
     -- (one row even for a page past the end: it carries the count; the verbatim bodies are never read)
     SELECT n.total, d.id, d.sha256, d.bytes, d.event_count, d.new_events, d.captured_by, d.captured_at,
            p.batch_events, p.retracted, p.retractions
       FROM (SELECT count(*)::int AS total FROM documents) n
       LEFT JOIN (SELECT c.*, doc.captured_at FROM documents c JOIN epcis_documents doc ON doc.id = c.document_id
                   ORDER BY doc.captured_at DESC, c.document_id DESC LIMIT $3 OFFSET $4) p ON true
       LEFT JOIN epcis_documents d ON d.id = p.document_id
      ORDER BY p.captured_at DESC, p.document_id DESC`,
    [batch.gtin, batch.lot, page.limit, page.offset],
  );
  return {
    total: rows[0]?.total ?? 0,
    items: rows.flatMap((r) =>
      r.id === null
        ? []
        : [
            {
              captureId: captureIdOf(r.id),
              capturedAt: r.captured_at,
              capturedBy: r.captured_by,
              sha256: r.sha256,
              bytes: Number(r.bytes),
              events: r.event_count,
              newEvents: r.new_events,
              batchEvents: r.batch_events,
              retracted: r.retracted,
              retractions: r.retractions,
            },
          ],
    ),
  };
}
