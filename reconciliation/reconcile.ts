import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Client, type ClientBase } from 'pg';
import type { Pool } from '../db/pool';
import { DISCREPANCY_CATEGORIES, type DiscrepancyCategory, type ReconciliationSummary } from '../domain/reconciliation-summary';
import { findBatch } from './batches';

/**
 * Reconciliation of one batch (DESIGN §4), in set-based SQL over the captured events: the batch is
 * never loaded into Node. Definitions, per distinct SGTIN commissioned in the batch (an ObjectEvent
 * ADD whose ilmd names the lot), ignoring events retracted by an error declaration:
 *
 * Balance — each unit lands in exactly one bucket, the first that applies:
 *   destroyed   an ObjectEvent DELETE with bizStep destroying or disposition destroyed
 *   sampled     an event with bizStep sampling
 *   rejected    any other ObjectEvent DELETE (decommissioning at the line)
 *   packed      it currently has a parent (AggregationEvent ADD not undone by a DELETE); for a product
 *               that does not require aggregation, also a unit observed after commissioning (shipped loose)
 *   unaccounted everything else: nothing happened after commissioning, or (aggregation required) it
 *               was observed but never packed
 *
 * Discrepancies — one per finding, with its identifiers:
 *   duplicate_serial   commissioned more than once in the batch, or also commissioned in another batch
 *   aggregation_error  child_two_parents: a unit currently in two packages;
 *                      foreign_child: a package of this batch holding a unit commissioned in another batch or GTIN;
 *                      case_count: a package of this batch's units whose child count is not the packing level;
 *                      unaggregated: aggregation required, observed after commissioning but never packed
 *   missing_report     released (packed or observed) but absent from every repository report of the
 *                      batch; when the batch has no report at all, one finding for the whole batch
 *   lost_packaging     a unit in a package of this batch that was never commissioned anywhere
 *   unaccounted        commissioned and then nothing at all
 * A package belongs to the batch whose units are at least half of its children.
 */

export interface ReconcileInput {
  lot: string;
  gtin?: string | null;
  deviationId?: string;
}

export interface ReconcileOptions {
  /** Called between steps (the activity heartbeats with it). */
  progress?: (step: string) => void;
}

const EMPTY_COUNTS = (): Record<DiscrepancyCategory, number> =>
  Object.fromEntries(DISCREPANCY_CATEGORIES.map((c) => [c, 0])) as Record<DiscrepancyCategory, number>;

export class AmbiguousBatchError extends Error {
  constructor(
    readonly lot: string,
    readonly gtins: string[],
  ) {
    super(`lot ${lot} exists for several products (${gtins.join(', ')}); name the GTIN`);
  }
}

const COMMISSIONING = `x.kind = 'sgtin' AND x.event_type = 'ObjectEvent' AND x.action = 'ADD'`;

export async function reconcileBatch(pool: Pool, input: ReconcileInput, opts: ReconcileOptions = {}): Promise<ReconciliationSummary> {
  const step = opts.progress ?? (() => undefined);
  const lookup = await findBatch(pool, input.lot, input.gtin);
  if ('ambiguous' in lookup) throw new AmbiguousBatchError(input.lot, lookup.ambiguous);
  await refreshStatistics(pool);
  // A connection of its own, not one from the pool: temp_buffers (memory for temporary tables, 8 MB
  // by default) can only be set before a session first touches a temporary table, and pooled
  // connections have (capture stages into them). With the default, every million-row step spills.
  const base = pool.options;
  const client = new Client({
    ...base,
    application_name: `${base.application_name ?? 'gxp'}:reconciliation`,
    options: `${base.options ?? ''} -c temp_buffers=${TEMP_BUFFERS}`.trim(),
  });
  await client.connect();
  try {
    // One snapshot for every step, so the balance and the findings describe the same data.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    // Hash joins over a million rows want more than the default 4 MB.
    await client.query(`SET LOCAL work_mem = '256MB'`);
    // Every step joins sets of up to a million rows: hash joins, never nested loops, even when the
    // statistics of freshly captured tables still say "empty" (autovacuum has not analysed them yet).
    await client.query('SET LOCAL enable_nestloop = off');
    const result = await run(client, input, 'found' in lookup ? lookup.found : null, step);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Room for the temporary tables of a million-unit batch (≈ 250 MB at 1 M units) in memory. */
const TEMP_BUFFERS = '768MB';

/**
 * Capture adds up to a million rows per batch, faster than autovacuum analyses them; plans made on
 * "the table is empty" statistics turn a one-second reconciliation into minutes. Analyse the event
 * tables when more than a tenth of their rows changed since the last analysis (about 0.3 s at a
 * million units; a no-op otherwise).
 */
async function refreshStatistics(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_stat_user_tables
      WHERE schemaname = current_schema() AND relname IN ('epcis_event_epcs', 'epcis_events', 'repository_report_serials')
        AND n_mod_since_analyze > 1000 AND n_mod_since_analyze > 0.1 * GREATEST(n_live_tup - n_mod_since_analyze, 0)`,
  );
  for (const r of rows) await pool.query(`ANALYZE ${r.relname}`);
}

async function run(
  client: ClientBase,
  input: ReconcileInput,
  batch: { id: string; gtin: string; lot: string } | null,
  step: (s: string) => void,
): Promise<ReconciliationSummary> {
  const lot = input.lot;
  const gtin = batch?.gtin ?? input.gtin ?? null;
  const q = (sql: string, params: unknown[] = []) => client.query(sql, params);
  const { rows: productRows } = await client.query<{ units_per_case: number; units_per_bundle: number | null; aggregation_required: boolean }>(
    'SELECT units_per_case, units_per_bundle, aggregation_required FROM products WHERE gtin = $1',
    [gtin],
  );
  const product = productRows[0] ?? null;
  const aggregationRequired = product?.aggregation_required ?? false;
  const { rows: retractedRows } = await client.query<{ id: string }>('SELECT id FROM epcis_events WHERE retracted');
  const retracted = retractedRows.map((r) => r.id);
  const live = `NOT (x.event_pk = ANY ($3::bigint[]))`;
  const base = [gtin, lot, retracted];

  step('units');
  // One pass over the GTIN's own unit rows (role epc: ObjectEvents and the like) gives, per serial,
  // its commissioning in this batch and everything that happened to it apart from packing. The
  // distinct count of commissioning events is refined below for the few serials seen more than once.
  await q(
    `CREATE TEMP TABLE r_units ON COMMIT DROP AS
     SELECT x.serial,
            count(*) FILTER (WHERE x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2)::int AS n_comm,
            min(x.epc) FILTER (WHERE x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2) AS epc,
            COALESCE(bool_or(x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot IS DISTINCT FROM $2), false) AS other_batch,
            COALESCE(bool_or(x.action IS DISTINCT FROM 'ADD' AND x.event_type = 'ObjectEvent' AND x.action = 'DELETE' AND (x.biz_step = 'destroying' OR x.disposition = 'destroyed')), false) AS destroyed,
            COALESCE(bool_or(x.action IS DISTINCT FROM 'ADD' AND x.biz_step = 'sampling'), false) AS sampled,
            COALESCE(bool_or(x.event_type = 'ObjectEvent' AND x.action = 'DELETE'), false) AS removed,
            COALESCE(bool_or(x.action IS DISTINCT FROM 'ADD'), false) AS observed
       FROM epcis_event_epcs x
      WHERE x.kind = 'sgtin' AND x.role = 'epc' AND x.gtin = $1 AND ${live}
      GROUP BY x.serial
     HAVING count(*) FILTER (WHERE x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2) > 0`,
    base,
  );
  await q(
    `UPDATE r_units u SET n_comm = d.n
       FROM (SELECT x.serial, count(DISTINCT x.event_pk)::int AS n
               FROM epcis_event_epcs x JOIN r_units m ON m.serial = x.serial AND m.n_comm > 1
              WHERE ${COMMISSIONING} AND x.gtin = $1 AND x.lot = $2 AND ${live}
              GROUP BY x.serial) d
      WHERE d.serial = u.serial`,
    base,
  );
  await q('ANALYZE r_units');

  step('aggregation');
  // Packages emptied whole (an AggregationEvent DELETE naming the parent without children).
  await q(
    `CREATE TEMP TABLE r_clears ON COMMIT DROP AS
     SELECT x.sscc AS parent, max(x.event_time) AS t
       FROM epcis_event_epcs x
      WHERE x.role = 'parent' AND x.event_type = 'AggregationEvent' AND x.action = 'DELETE' AND x.sscc IS NOT NULL AND ${live.replace('$3', '$1')}
        AND NOT EXISTS (SELECT 1 FROM epcis_event_epcs c WHERE c.event_pk = x.event_pk AND c.role = 'child')
      GROUP BY x.sscc`,
    [retracted],
  );
  await q('ANALYZE r_clears');
  // Current (unit, package) edges of every package holding one of the batch's units, whatever the
  // child's GTIN or batch: the latest ADD after any DELETE of the edge and any emptying of the package.
  // (A package whose edges to the batch's units are all undone holds none of them: it is not the
  // batch's, and the findings below never look at it.)
  await q(
    `CREATE TEMP TABLE r_edges ON COMMIT DROP AS
     SELECT e.gtin, e.serial, e.parent, e.epc, (e.gtin = $1 AND u.serial IS NOT NULL) AS in_batch
       FROM (SELECT x.gtin, x.serial, x.parent, min(x.epc) AS epc,
                    max(x.event_time) FILTER (WHERE x.action = 'ADD') AS added,
                    max(x.event_time) FILTER (WHERE x.action = 'DELETE') AS deleted
               FROM epcis_event_epcs x
              WHERE x.role = 'child' AND x.kind = 'sgtin' AND x.event_type = 'AggregationEvent' AND x.parent IS NOT NULL AND ${live}
                AND x.parent IN (SELECT y.parent FROM epcis_event_epcs y
                                  WHERE y.role = 'child' AND y.kind = 'sgtin' AND y.event_type = 'AggregationEvent' AND y.parent IS NOT NULL
                                    AND y.gtin = $1 AND y.serial IN (SELECT serial FROM r_units))
              GROUP BY x.gtin, x.serial, x.parent) e
       LEFT JOIN r_clears c ON c.parent = e.parent
       LEFT JOIN r_units u ON e.gtin = $1 AND u.serial = e.serial
      WHERE e.added > GREATEST(COALESCE(e.deleted, '-infinity'), COALESCE(c.t, '-infinity')) AND $2::text IS NOT NULL`,
    base,
  );
  await q(
    `CREATE TEMP TABLE r_pkg ON COMMIT DROP AS
     SELECT parent, count(*)::int AS children, count(*) FILTER (WHERE in_batch)::int AS in_batch
       FROM r_edges GROUP BY parent`,
  );
  // Per unit of the batch: how many packages it is in now.
  await q(
    `CREATE TEMP TABLE r_fate ON COMMIT DROP AS
     SELECT u.serial, u.epc, (u.destroyed OR u.sampled OR u.removed) AS removed, u.destroyed, u.sampled, u.removed AS rejected,
            COALESCE(p.n, 0) AS packages, u.observed
       FROM r_units u
       LEFT JOIN (SELECT serial, count(*)::int AS n FROM r_edges WHERE in_batch GROUP BY serial) p ON p.serial = u.serial`,
  );

  step('balance');
  const { rows: balanceRows } = await client.query<Record<string, number>>(
    `SELECT count(*)::int AS commissioned,
            count(*) FILTER (WHERE fate = 'packed')::int AS packed,
            count(*) FILTER (WHERE fate = 'rejected')::int AS rejected,
            count(*) FILTER (WHERE fate = 'sampled')::int AS sampled,
            count(*) FILTER (WHERE fate = 'destroyed')::int AS destroyed,
            count(*) FILTER (WHERE fate = 'unaccounted')::int AS unaccounted
       FROM (SELECT CASE WHEN destroyed THEN 'destroyed' WHEN sampled THEN 'sampled' WHEN rejected THEN 'rejected'
                         WHEN packages > 0 THEN 'packed'
                         WHEN NOT $1::boolean AND observed THEN 'packed'
                         ELSE 'unaccounted' END AS fate
               FROM r_fate) t`,
    [aggregationRequired],
  );
  const balance = balanceRows[0] as ReconciliationSummary['balance'];

  step('discrepancies');
  await q(
    `CREATE TEMP TABLE r_disc (category text, kind text, sgtin text, gtin char(14), serial text, ssccs text[], detail text) ON COMMIT DROP`,
  );
  // duplicate serial
  await q(
    `INSERT INTO r_disc
     SELECT 'duplicate_serial', 'duplicate_serial', u.epc, $1, u.serial, NULL,
            concat_ws('; ',
              CASE WHEN u.n_comm > 1 THEN 'commissioned ' || u.n_comm || ' times in this batch' END,
              CASE WHEN u.other_batch THEN 'also commissioned in batch ' ||
                (SELECT string_agg(DISTINCT COALESCE(x.lot, '(no lot)'), ', ' ORDER BY COALESCE(x.lot, '(no lot)'))
                   FROM epcis_event_epcs x
                  WHERE ${COMMISSIONING} AND x.gtin = $1 AND x.serial = u.serial AND x.lot IS DISTINCT FROM $2 AND ${live}) END)
       FROM r_units u
      WHERE u.n_comm > 1 OR u.other_batch`,
    base,
  );
  // aggregation: a unit in two packages
  await q(
    `INSERT INTO r_disc
     SELECT 'aggregation_error', 'child_two_parents', min(e.epc), $1, e.serial, array_agg(e.parent ORDER BY e.parent),
            'in ' || count(*) || ' packages at once'
       FROM r_edges e JOIN r_fate f ON f.serial = e.serial AND f.packages > 1
      WHERE e.in_batch AND $2::text IS NOT NULL GROUP BY e.serial`,
    [gtin, lot],
  );
  // aggregation: a package of this batch holding another batch's unit; lost packaging: a unit nobody commissioned
  await q(
    `INSERT INTO r_disc
     SELECT CASE WHEN c.foreign_unit THEN 'aggregation_error' ELSE 'lost_packaging' END,
            CASE WHEN c.foreign_unit THEN 'foreign_child' ELSE 'lost_packaging' END,
            c.epc, c.gtin, c.serial, ARRAY[c.parent],
            CASE WHEN c.foreign_unit THEN 'package of batch ' || $2 || ' holds a unit of another batch or GTIN'
                 ELSE 'in a package of this batch but never commissioned' END
       FROM (SELECT e.*, (SELECT true FROM epcis_event_epcs x
                             WHERE ${COMMISSIONING} AND x.gtin = e.gtin AND x.serial = e.serial AND ${live} LIMIT 1) IS NOT NULL AS foreign_unit
               FROM r_edges e WHERE NOT e.in_batch) c
       JOIN r_pkg p ON p.parent = c.parent
      WHERE p.in_batch * 2 >= p.children AND $1::text IS NOT NULL`,
    base,
  );
  if (product) {
    // aggregation: a package of this batch's units whose child count is not its packing level
    await q(
      `INSERT INTO r_disc
       SELECT 'aggregation_error', 'case_count', NULL, $1, NULL, ARRAY[p.parent],
              'holds ' || p.children || ' units; the packing level is ' || $2::int
         FROM r_pkg p
        WHERE p.in_batch * 2 >= p.children AND p.children <> $2::int AND p.children IS DISTINCT FROM $3::int`,
      [gtin, product.units_per_case, product.units_per_bundle],
    );
  }
  // per-unit findings from the facts: not aggregated, unaccounted, missing report
  const { rows: reportRows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM repository_reports WHERE batch_id = $1', [batch?.id ?? null]);
  const hasReport = (reportRows[0]?.n ?? 0) > 0;
  await q(
    `INSERT INTO r_disc
     SELECT 'aggregation_error', 'unaggregated', epc, $1, serial, NULL, 'observed after commissioning but never packed; the product requires aggregation'
       FROM r_fate WHERE $2::boolean AND NOT removed AND packages = 0 AND observed`,
    [gtin, aggregationRequired],
  );
  await q(
    `INSERT INTO r_disc
     SELECT 'unaccounted', 'unaccounted', epc, $1, serial, NULL, 'commissioned and then nothing'
       FROM r_fate WHERE NOT removed AND packages = 0 AND NOT observed`,
    [gtin],
  );
  if (hasReport) {
    await q(
      `INSERT INTO r_disc
       SELECT 'missing_report', 'missing_report', f.epc, $1, f.serial, NULL, 'released but absent from every repository report of the batch'
         FROM r_fate f
        WHERE NOT f.removed AND (f.packages > 0 OR f.observed)
          AND NOT EXISTS (SELECT 1 FROM repository_report_serials r WHERE r.batch_id = $2 AND r.serial = f.serial)`,
      [gtin, batch?.id ?? null],
    );
  } else {
    await q(
      `INSERT INTO r_disc
       SELECT 'missing_report', 'no_report', NULL, $1, NULL, NULL, n || ' released units and no repository report for the batch'
         FROM (SELECT count(*) AS n FROM r_fate WHERE NOT removed AND (packages > 0 OR observed)) t WHERE n > 0`,
      [gtin],
    );
  }

  step('report');
  const { rows: countRows } = await client.query<{ category: DiscrepancyCategory; n: number }>(
    'SELECT category, count(*)::int AS n FROM r_disc GROUP BY category',
  );
  const discrepancies = EMPTY_COUNTS();
  for (const r of countRows) discrepancies[r.category] = r.n;
  // The findings' digest, computed where they are, in a fixed order.
  const order = 'category, kind, gtin NULLS FIRST, serial NULLS FIRST, ssccs NULLS FIRST, detail';
  const { rows: digestRows } = await client.query<{ digest: string | null }>(
    `SELECT encode(sha256(convert_to(COALESCE(string_agg(concat_ws('|', category, kind, gtin, serial, array_to_string(ssccs, ','), detail), E'\\n' ORDER BY ${order}), ''), 'UTF8')), 'hex') AS digest
       FROM r_disc`,
  );
  const content = {
    lot,
    gtin,
    balance,
    discrepancies,
    rules: { aggregationRequired, unitsPerCase: product?.units_per_case ?? null, hasRepositoryReport: hasReport },
    findingsSha256: digestRows[0]?.digest ?? '',
  };
  const contentHash = createHash('sha256').update(canonicalize(content) ?? '').digest('hex');
  const { rows: idRows } = await client.query<{ n: string; generated_at: Date }>(`SELECT nextval('reconciliation_report_seq')::text AS n, now() AS generated_at`);
  const reportId = `RR-${idRows[0]!.n.padStart(6, '0')}`;
  const generatedAt = idRows[0]!.generated_at.toISOString();
  const unknownBatch = batch === null && balance.commissioned === 0;
  const summary: ReconciliationSummary = { reportId, contentHash, lot, gtin, generatedAt, balance, discrepancies, unknownBatch };
  await q(
    `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary, deviation_id, generated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [reportId, batch?.id ?? null, lot, gtin, contentHash, JSON.stringify({ ...summary, rules: content.rules, findingsSha256: content.findingsSha256 }), input.deviationId ?? null, generatedAt],
  );
  await q(
    `INSERT INTO reconciliation_discrepancies (report_id, seq, category, kind, sgtin, gtin, serial, ssccs, detail)
     SELECT $1, row_number() OVER (ORDER BY ${order}), category, kind, sgtin, gtin, serial, ssccs, detail FROM r_disc`,
    [reportId],
  );
  return summary;
}
