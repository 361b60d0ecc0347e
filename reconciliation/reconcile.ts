import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Client, type ClientBase } from 'pg';
import { ignoreLostConnection, withTransaction, type Pool } from '../db/pool';
import { DISCREPANCY_CATEGORIES, type DiscrepancyCategory, type ReconciliationSummary } from '../domain/reconciliation-summary';
import { findBatch } from './batches';
import { IS_PACKING, LIST_FACTS, UNIT_FACT } from '../db/unit-facts';

/**
 * Reconciliation of one batch, in set-based SQL over the captured events: the batch is
 * never loaded into Node. Definitions, per distinct SGTIN commissioned in the batch (an ObjectEvent
 * ADD whose ilmd names the lot), ignoring events retracted by an error declaration:
 *
 * Balance — each unit lands in exactly one bucket, the first that applies:
 *   destroyed   an ObjectEvent DELETE with bizStep destroying or disposition destroyed
 *   sampled     an event with bizStep sampling (naming the unit, or taking it out of its package)
 *   rejected    any other ObjectEvent DELETE (decommissioning at the line)
 *   packed      it currently has a parent (AggregationEvent ADD not undone by a DELETE); for a product
 *               that does not require aggregation, also a unit observed after commissioning (shipped loose).
 *               A unit whose package was emptied (its children DELETEd, or the parent DELETEd whole) and
 *               not packed again counts as never packed: unaccounted, and unaggregated when observed.
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
 * "Observed after commissioning" is an event other than an ADD naming the unit, at or after its
 * commissioning: an earlier reading does not count. A package belongs to the batch whose units are
 * at least half of its children; a package split half and half belongs to both, and each batch's
 * report names the other's units in it (a mixed case concerns both batches).
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
/** Each element of an identifier list: its key, and the identifier as captured. */
const ELEMENTS = `CROSS JOIN LATERAL unnest(x.keys, x.epcs) AS k(serial, epc_whole)`;
const EPC = `COALESCE(x.epc_prefix || k.serial, k.epc_whole)`;
/**
 * The batch's plain units ($1 GTIN, $2 batch id), read from their summary in serialized_items:
 * commissioned once, in this batch, by events none of which was retracted.
 */
const PLAIN_WHERE = `si.batch_id = $2 AND si.gtin = $1 AND si.commissionings = 1 AND si.facts & ${UNIT_FACT.recheck} = 0`;
/**
 * A unit whose latest event is its commissioning was not observed after it: an observation before
 * it (a reading ahead of the commissioning record) does not make the unit shipped loose or
 * unaggregated.
 */
const OBSERVED_BEFORE = `CASE WHEN si.status = 'commissioned' THEN ${UNIT_FACT.observed} ELSE 0 END`;
const PLAIN_UNITS = `SELECT si.serial, (si.facts & ~(${UNIT_FACT.recheck} | ${OBSERVED_BEFORE})) | ${UNIT_FACT.commissioned} AS f, 1 AS n_comm, si.packings AS n_add,
       si.commissioned_by AS comm_first, si.commissioned_by AS comm_last, si.first_parent AS p_min, si.last_parent AS p_max`;
/** One bit per fact about a unit (r_notable.f, r_units_x.f, serialized_items.facts). */
const F = UNIT_FACT;
/** Where a unit is now: its exact count of packages when it was worked out edge by edge, else from its summary. */
const PACKAGES = `CASE WHEN x.serial IS NOT NULL THEN x.packages WHEN u.n_add = 0 THEN 0 WHEN u.p_min = u.p_max THEN 1 ELSE 2 END`;

export async function reconcileBatch(pool: Pool, input: ReconcileInput, opts: ReconcileOptions = {}): Promise<ReconciliationSummary> {
  const lookup = await findBatch(pool, input.lot, input.gtin);
  if ('ambiguous' in lookup) throw new AmbiguousBatchError(input.lot, lookup.ambiguous);
  if ('missing' in lookup && !input.gtin) return reportNothingToReconcile(pool, input);
  return reconcileByTheSteps(pool, input, 'found' in lookup ? lookup.found : null, opts);
}

/**
 * A lot no batch record names, reconciled without a GTIN (as a deviation's preliminary reconciliation
 * of a lot it was told of), has nothing to reconcile: every step finds the batch's units by its GTIN,
 * and there is none. Such a report is what the steps would store, without their connection of its own,
 * their temporary tables and their seventy statements: under a burst of deviations on lots nobody
 * captured, those cost the database more than the deviations themselves.
 */
async function reportNothingToReconcile(pool: Pool, input: ReconcileInput): Promise<ReconciliationSummary> {
  const zero = { commissioned: 0, packed: 0, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 0 };
  const content: ReportContent = {
    lot: input.lot,
    gtin: null,
    balance: zero,
    discrepancies: EMPTY_COUNTS(),
    rules: { aggregationRequired: false, unitsPerCase: null, hasRepositoryReport: false },
    findingsSha256: NO_FINDINGS_SHA256,
  };
  return withTransaction(pool, (client) => storeReport(client, input, null, content));
}

/** The digest of no findings: SHA-256 of the empty text, as the report step computes it over none. */
const NO_FINDINGS_SHA256 = createHash('sha256').update('').digest('hex');

/** What a report says, hashed to its content hash: the same data gives the same hash, run after run. */
interface ReportContent {
  lot: string;
  gtin: string | null;
  balance: ReconciliationSummary['balance'];
  discrepancies: ReconciliationSummary['discrepancies'];
  rules: { aggregationRequired: boolean; unitsPerCase: number | null; hasRepositoryReport: boolean };
  findingsSha256: string;
}

/** The report stored under the next report number, in the caller's transaction; answers its summary. */
async function storeReport(
  client: ClientBase,
  input: ReconcileInput,
  batch: { id: string } | null,
  content: ReportContent,
): Promise<ReconciliationSummary> {
  const contentHash = createHash('sha256')
    .update(canonicalize(content) ?? '')
    .digest('hex');
  const { rows: idRows } = await client.query<{ n: string; generated_at: Date }>(
    `SELECT nextval('reconciliation_report_seq')::text AS n, now() AS generated_at`,
  );
  const reportId = `RR-${idRows[0]!.n.padStart(6, '0')}`;
  const generatedAt = idRows[0]!.generated_at.toISOString();
  const { lot, gtin, balance, discrepancies } = content;
  const unknownBatch = batch === null && balance.commissioned === 0;
  const summary: ReconciliationSummary = { reportId, contentHash, lot, gtin, generatedAt, balance, discrepancies, unknownBatch };
  await client.query(
    `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary, deviation_id, generated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      reportId,
      batch?.id ?? null,
      lot,
      gtin,
      contentHash,
      JSON.stringify({ ...summary, rules: content.rules, findingsSha256: content.findingsSha256 }),
      input.deviationId ?? null,
      generatedAt,
    ],
  );
  return summary;
}

/**
 * Every step of the reconciliation, whatever the batch (reconcileBatch skips them when there is
 * nothing to reconcile; tests compare the two).
 */
export async function reconcileByTheSteps(
  pool: Pool,
  input: ReconcileInput,
  batch: { id: string; gtin: string; lot: string } | null,
  opts: ReconcileOptions = {},
): Promise<ReconciliationSummary> {
  const step = opts.progress ?? (() => undefined);
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
  client.on('error', ignoreLostConnection);
  await client.connect();
  try {
    // One snapshot for every step, so the balance and the findings describe the same data.
    return await withTransaction(
      client,
      async () => {
        // Hash joins over a million rows want more than the default 4 MB.
        await client.query(`SET LOCAL work_mem = '256MB'`);
        // Every step joins sets of up to a million rows: hash joins, never nested loops, even when the
        // statistics of freshly captured tables still say "empty" (autovacuum has not analysed them yet).
        await client.query('SET LOCAL enable_nestloop = off');
        // Group and join a million serials by hashing them, never by sorting them: a sort compares text
        // under the database's collation, which costs seconds at this size. (The lateral unnest of each
        // identifier list is a nested loop by nature and is planned as one regardless.)
        await client.query('SET LOCAL enable_sort = off');
        await client.query('SET LOCAL enable_mergejoin = off');
        // JIT compilation costs about half a second per statement here and saves less than that.
        await client.query('SET LOCAL jit = off');
        // Each worker of a parallel plan would build its own copy of the million-entry hashes: on two cores, slower.
        await client.query('SET LOCAL max_parallel_workers_per_gather = 0');
        return run(client, input, batch, step);
      },
      { isolation: 'REPEATABLE READ' },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Room for the temporary tables of a million-unit batch (≈ 250 MB at 1 M units) in memory. */
const TEMP_BUFFERS = '768MB';

/**
 * Capture adds up to a million rows per batch, faster than autovacuum analyses them; plans made on
 * "the table is empty" statistics turn a one-second reconciliation into minutes. Analyse the tables
 * reconciliation reads when more than a tenth of their rows changed since the last analysis (a no-op
 * otherwise), from a small sample: the plans need row counts and the spread of a few low-cardinality
 * columns, which a tenth of the default sample gives for a tenth of the time (0.1 s instead of 1.4 s
 * at a million units). These statistics stand until the next tenth of the rows changes (then
 * autovacuum, or the next reconciliation, analyses again); they steer plans, never results.
 */
async function refreshStatistics(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_stat_user_tables
      WHERE schemaname = current_schema() AND relname IN ('epcis_event_identifiers', 'repository_report_serials', 'serialized_items')
        AND n_mod_since_analyze > 1000 AND n_mod_since_analyze > 0.1 * GREATEST(n_live_tup - n_mod_since_analyze, 0)`,
  );
  if (!rows.length) return;
  await withTransaction(pool, async (client) => {
    await client.query('SET LOCAL default_statistics_target = 10');
    for (const r of rows) await client.query(`ANALYZE ${r.relname}`);
  });
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
  const { rows: productRows } = await client.query<{
    units_per_case: number;
    units_per_bundle: number | null;
    aggregation_required: boolean;
  }>('SELECT units_per_case, units_per_bundle, aggregation_required FROM products WHERE gtin = $1', [gtin]);
  const product = productRows[0] ?? null;
  const aggregationRequired = product?.aggregation_required ?? false;
  const { rows: retractedRows } = await client.query<{ id: string }>('SELECT id FROM epcis_events WHERE retracted');
  const retracted = retractedRows.map((r) => r.id);
  const live = `NOT (x.event_pk = ANY ($3::bigint[]))`;
  const base = [gtin, lot, retracted];

  const batchId = batch?.id ?? null;
  const { rows: reportRows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM repository_reports WHERE batch_id = $1', [
    batchId,
  ]);
  const hasReport = (reportRows[0]?.n ?? 0) > 0;

  step('units');
  // Packages emptied whole (an AggregationEvent DELETE naming the parent without children).
  await q(
    `CREATE TEMP TABLE r_clears ON COMMIT DROP AS
     SELECT k.serial AS parent, max(x.event_time) AS t
       FROM epcis_event_identifiers x ${ELEMENTS}
      WHERE x.role = 'parent' AND x.kind = 'sscc' AND x.event_type = 'AggregationEvent' AND x.action = 'DELETE' AND ${live.replace('$3', '$1')}
        AND NOT EXISTS (SELECT 1 FROM epcis_event_identifiers c WHERE c.event_pk = x.event_pk AND c.role = 'child')
      GROUP BY k.serial`,
    [retracted],
  );
  await q('ANALYZE r_clears');
  // The batch's units. Nearly all are read from their summary kept by capture (serialized_items,
  // one row each): commissioned once, in this batch, by events none of which was retracted. The
  // others, commissioned more than once or named by a retracted event, are worked out from the
  // live events.
  await q(
    `CREATE TEMP TABLE r_recheck ON COMMIT DROP AS
     SELECT serial, facts & ${F.recheck} <> 0 AS retracted FROM serialized_items WHERE gtin = $1 AND (commissionings > 1 OR facts & ${F.recheck} <> 0)`,
    [gtin],
  );
  await q('ANALYZE r_recheck');
  // The units worked out from the events go to r_units_x; the plain ones are read where they are.
  await q(
    `CREATE TEMP TABLE r_units_x (serial text, f integer, n_comm integer, n_add integer, comm_first bigint, comm_last bigint,
                                  p_min text, p_max text) ON COMMIT DROP`,
  );
  const { rows: recheck } = await client.query<{ retracted: number; recommissioned: number }>(
    'SELECT count(*) FILTER (WHERE retracted)::int AS retracted, count(*) FILTER (WHERE NOT retracted)::int AS recommissioned FROM r_recheck',
  );
  if ((recheck[0]?.recommissioned ?? 0) > 0) {
    // Commissioned more than once (a duplicate serial): the summary holds for everything but which
    // batches commissioned it. Twice (nearly always): the two events are the first and last the
    // summary names, looked up by key. More often: read from the GTIN's commissioning lists.
    const unitColumns = `u.serial,
              (u.facts & ~${F.recheck}) | ${F.commissioned} | CASE WHEN bool_or(x.lot IS DISTINCT FROM $2) THEN ${F.otherBatch} ELSE 0 END
                | CASE WHEN EXISTS (SELECT 1 FROM repository_report_serials r WHERE r.batch_id = $4 AND r.serial = u.serial) THEN ${F.reported} ELSE 0 END,
              count(*) FILTER (WHERE x.lot = $2)::int, u.packings,
              min(x.event_pk) FILTER (WHERE x.lot = $2), max(x.event_pk) FILTER (WHERE x.lot = $2), u.first_parent, u.last_parent`;
    const perUnit = `GROUP BY u.serial, u.facts, u.packings, u.first_parent, u.last_parent HAVING count(*) FILTER (WHERE x.lot = $2) > 0`;
    const unit = `m.serial, m.facts, m.packings, m.first_parent, m.last_parent`;
    await q(
      `INSERT INTO r_units_x
       SELECT ${unitColumns}
         FROM (SELECT ${unit}, unnest(ARRAY[m.commissioned_by, m.commissioned_last]) AS pk
                 FROM serialized_items m
                WHERE m.gtin = $1 AND m.commissionings = 2 AND m.serial IN (SELECT serial FROM r_recheck WHERE NOT retracted)) u
         JOIN epcis_event_identifiers x ON x.event_pk = u.pk AND u.serial = ANY (x.keys)
        WHERE ${COMMISSIONING} AND x.gtin = $1 AND ${live}
        ${perUnit}
       UNION ALL
       SELECT ${unitColumns}
         FROM (SELECT ${unit} FROM serialized_items m
                WHERE m.gtin = $1 AND m.commissionings > 2 AND m.serial IN (SELECT serial FROM r_recheck WHERE NOT retracted)) u
         JOIN (SELECT x.event_pk, x.lot, k.serial
                 FROM epcis_event_identifiers x ${ELEMENTS}
                WHERE ${COMMISSIONING} AND x.gtin = $1 AND ${live}
                  AND EXISTS (SELECT 1 FROM serialized_items m WHERE m.gtin = $1 AND m.commissionings > 2 AND m.facts & ${F.recheck} = 0)) x
           ON x.serial = u.serial
        ${perUnit}`,
      [...base, batchId],
    );
  }
  if ((recheck[0]?.retracted ?? 0) > 0) {
    // Per serial, from the GTIN's unit lists (commissioning in this batch, or anything else naming
    // the unit itself), its packing lists and the batch's repository reports: the same summary,
    // from the live events.
    await q(
      `INSERT INTO r_units_x
       SELECT s.serial,
              -- observed counts only at or after the unit's commissioning in this batch
              (bit_or(s.f) & ~${F.observed}) | CASE WHEN max(s.seen_at) >= min(s.comm_at) THEN ${F.observed} ELSE 0 END,
              sum(s.c)::int, sum(s.a)::int, min(s.event_pk), max(s.event_pk),
              (min(s.parent COLLATE "C")) COLLATE "default", (max(s.parent COLLATE "C")) COLLATE "default"
         FROM (SELECT k.serial,
                      CASE WHEN x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2 THEN ${F.commissioned}
                           WHEN x.event_type = 'ObjectEvent' AND x.action = 'ADD' THEN ${F.otherBatch}
                           ELSE ${LIST_FACTS('x')} END AS f,
                      CASE WHEN NOT (x.event_type = 'ObjectEvent' AND x.action = 'ADD') AND (${LIST_FACTS('x')}) & ${F.observed} <> 0 THEN x.event_time END AS seen_at,
                      CASE WHEN x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2 THEN x.event_time END AS comm_at,
                      CASE WHEN x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2 THEN 1 ELSE 0 END AS c,
                      CASE WHEN ${IS_PACKING('x')} THEN 1 ELSE 0 END AS a,
                      CASE WHEN x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = $2 THEN x.event_pk END AS event_pk,
                      CASE WHEN ${IS_PACKING('x')} THEN x.parent END AS parent
                 FROM epcis_event_identifiers x ${ELEMENTS}
                WHERE x.kind = 'sgtin' AND x.gtin = $1 AND ${live}
                  AND (x.role = 'epc' OR (x.role = 'child' AND x.event_type = 'AggregationEvent' AND x.parent IS NOT NULL))
                  AND k.serial IN (SELECT serial FROM r_recheck WHERE retracted)
               UNION ALL
               SELECT r.serial, ${F.reported}, NULL, NULL, 0, 0, NULL, NULL
                 FROM repository_report_serials r WHERE r.batch_id = $4 AND r.serial IN (SELECT serial FROM r_recheck WHERE retracted)) s
        GROUP BY s.serial
       HAVING bit_or(s.f) & ${F.commissioned} <> 0`,
      [...base, batchId],
    );
  }
  const { rows: multi } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM r_units_x WHERE n_comm > 2 OR (n_comm = 2 AND comm_first = comm_last)`,
  );
  if ((multi[0]?.n ?? 0) > 0) {
    // A serial listed three times, or twice in one event: count the distinct commissioning events.
    await q(
      `UPDATE r_units_x u SET n_comm = d.n
         FROM (SELECT k.serial, count(DISTINCT x.event_pk)::int AS n
                 FROM epcis_event_identifiers x ${ELEMENTS}
                 JOIN r_units_x m ON m.serial = k.serial AND (m.n_comm > 2 OR (m.n_comm = 2 AND m.comm_first = m.comm_last))
                WHERE ${COMMISSIONING} AND x.gtin = $1 AND x.lot = $2 AND ${live}
                GROUP BY k.serial) d
        WHERE d.serial = u.serial`,
      base,
    );
  }
  await q('ANALYZE r_units_x');
  // The few units that can give a finding or need working out edge by edge, read off the million in
  // one pass: everything below looks at these, except the balance and the packages' counts.
  await q(
    `CREATE TEMP TABLE r_notable ON COMMIT DROP AS
     SELECT u.serial, u.f | CASE WHEN u.reported THEN ${F.reported} ELSE 0 END AS f, u.n_comm, u.n_add, u.comm_first, u.comm_last, u.p_min, u.p_max
       FROM (${PLAIN_UNITS}, si.serial IN (SELECT r.serial FROM repository_report_serials r WHERE r.batch_id = $2) AS reported
               FROM serialized_items si WHERE ${PLAIN_WHERE} OFFSET 0) u
      WHERE NOT u.reported OR u.n_add <> 1 OR u.f & ${F.unpacked | F.destroyed | F.sampled | F.rejected} <> 0 OR u.p_min IN (SELECT parent FROM r_clears)
     UNION ALL
     -- every rechecked unit: the plain count above leaves them out, so the balance counts them here
     SELECT * FROM r_units_x`,
    [gtin, batchId],
  );
  await q('ANALYZE r_notable');
  // Units worked out edge by edge: unpacked at some point, added more than twice, added twice to the
  // same package, or in a package emptied whole.
  await q(
    `CREATE TEMP TABLE r_exact ON COMMIT DROP AS
     SELECT serial FROM r_notable
      WHERE n_add > 0 AND (f & ${F.unpacked} <> 0 OR n_add > 2 OR (n_add = 2 AND p_min = p_max)
                           OR p_min IN (SELECT parent FROM r_clears) OR p_max IN (SELECT parent FROM r_clears))`,
  );
  await q('ANALYZE r_exact');

  step('aggregation');
  // Packages holding plain units of the batch now, with how many; in the same pass, how many plain
  // units there are (for the balance).
  await q(
    `CREATE TEMP TABLE r_plain_scan ON COMMIT DROP AS
     SELECT si.first_parent AS parent,
            count(*) FILTER (WHERE si.packings BETWEEN 1 AND 2 AND si.serial NOT IN (SELECT serial FROM r_exact))::int AS units,
            count(*)::int AS total
       FROM serialized_items si WHERE ${PLAIN_WHERE}
      GROUP BY si.first_parent`,
    [gtin, batchId],
  );
  await q(
    `CREATE TEMP TABLE r_plain ON COMMIT DROP AS
     SELECT parent, sum(units)::int AS units
       FROM (SELECT parent, units FROM r_plain_scan WHERE units > 0
             UNION ALL
             SELECT p_min, 1 FROM r_units_x WHERE n_add BETWEEN 1 AND 2 AND serial NOT IN (SELECT serial FROM r_exact)
             UNION ALL
             -- the second package of a unit in two: such units are notable
             SELECT p_max, 1 FROM r_notable WHERE n_add = 2 AND p_max <> p_min AND serial NOT IN (SELECT serial FROM r_exact)) t
      GROUP BY parent`,
  );
  await q('ANALYZE r_plain');
  // A package is worked out edge by edge when it held anything but those units once each: more
  // identifiers were added than it has plain units (another batch's or GTIN's, a unit nobody
  // commissioned, an exact unit, one added twice), or something was ever taken out of it.
  await q(
    `CREATE TEMP TABLE r_exact_pkg ON COMMIT DROP AS
     SELECT l.parent
       FROM (SELECT x.parent,
                    COALESCE(sum(cardinality(COALESCE(x.keys, x.epcs))) FILTER (WHERE x.action = 'ADD'), 0) AS added,
                    COALESCE(bool_or(x.action IS DISTINCT FROM 'ADD'), false) AS removed
               FROM epcis_event_identifiers x
              WHERE x.role = 'child' AND x.kind = 'sgtin' AND x.event_type = 'AggregationEvent' AND ${live.replace('$3', '$2')}
                AND x.parent IN (SELECT parent FROM r_plain)
              GROUP BY x.parent) l
       JOIN r_plain p ON p.parent = l.parent
      WHERE l.removed OR l.added <> p.units OR l.parent IN (SELECT parent FROM r_clears)
     UNION
     SELECT DISTINCT x.parent
       FROM epcis_event_identifiers x ${ELEMENTS}
      WHERE x.role = 'child' AND x.kind = 'sgtin' AND x.event_type = 'AggregationEvent' AND x.parent IS NOT NULL AND x.gtin = $1 AND ${live.replace('$3', '$2')}
        AND EXISTS (SELECT 1 FROM r_exact) AND k.serial IN (SELECT serial FROM r_exact)`,
    [gtin, retracted],
  );
  await q('ANALYZE r_exact_pkg');
  // Current (unit, package) edges of those packages, whatever the child's GTIN or batch: the latest
  // ADD after any DELETE of the edge and any emptying of the package.
  await q(
    `CREATE TEMP TABLE r_edges ON COMMIT DROP AS
     SELECT e.gtin, e.serial, e.parent, e.epc,
            -- one index probe per edge (there are few): a plain unit of the batch, or a rechecked one
            (e.gtin = $1 AND (COALESCE((SELECT si.batch_id = $4 AND si.commissionings = 1 AND si.facts & ${F.recheck} = 0
                                          FROM serialized_items si WHERE si.gtin = e.gtin AND si.serial = e.serial), false)
                              OR e.serial IN (SELECT serial FROM r_units_x))) AS in_batch
       FROM (SELECT x.gtin, k.serial, x.parent, min(${EPC}) AS epc,
                    max(x.event_time) FILTER (WHERE x.action = 'ADD') AS added,
                    max(x.event_time) FILTER (WHERE x.action = 'DELETE') AS deleted
               FROM epcis_event_identifiers x ${ELEMENTS}
              WHERE x.role = 'child' AND x.kind = 'sgtin' AND x.event_type = 'AggregationEvent' AND ${live}
                AND x.parent IN (SELECT parent FROM r_exact_pkg)
              GROUP BY x.gtin, k.serial, x.parent) e
       LEFT JOIN r_clears c ON c.parent = e.parent
      WHERE e.added > GREATEST(COALESCE(e.deleted, '-infinity'), COALESCE(c.t, '-infinity')) AND $2::text IS NOT NULL`,
    [...base, batchId],
  );
  await q('ANALYZE r_edges');
  // The exact units' packages now.
  await q(
    `CREATE TEMP TABLE r_xfate ON COMMIT DROP AS
     SELECT x.serial, (SELECT count(*)::int FROM r_edges e WHERE e.in_batch AND e.serial = x.serial) AS packages FROM r_exact x`,
  );
  await q('ANALYZE r_xfate');
  // Every package holding units of the batch now: children and the batch's share of them.
  await q(
    `CREATE TEMP TABLE r_pkg ON COMMIT DROP AS
     SELECT parent, units AS children, units AS in_batch FROM r_plain WHERE parent NOT IN (SELECT parent FROM r_exact_pkg)
     UNION ALL
     SELECT parent, count(*)::int, count(*) FILTER (WHERE in_batch)::int FROM r_edges GROUP BY parent HAVING count(*) FILTER (WHERE in_batch) > 0`,
  );

  step('balance');
  const { rows: plainCount } = await client.query<{ n: number }>('SELECT COALESCE(sum(total), 0)::int AS n FROM r_plain_scan');
  const { rows: notablePlain } = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM r_notable WHERE serial NOT IN (SELECT serial FROM r_units_x)',
  );
  const plainNotNotable = (plainCount[0]?.n ?? 0) - (notablePlain[0]?.n ?? 0);
  const { rows: balanceRows } = await client.query<Record<string, number>>(
    // A unit that is not notable is in exactly one package, never removed: packed. Only the notable
    // ones need their fate worked out.
    `SELECT ($2::int + count(*))::int AS commissioned,
            ($2::int + count(*) FILTER (WHERE fate = 'packed'))::int AS packed,
            count(*) FILTER (WHERE fate = 'rejected')::int AS rejected,
            count(*) FILTER (WHERE fate = 'sampled')::int AS sampled,
            count(*) FILTER (WHERE fate = 'destroyed')::int AS destroyed,
            count(*) FILTER (WHERE fate = 'unaccounted')::int AS unaccounted
       FROM (SELECT CASE WHEN u.f & ${F.destroyed} <> 0 THEN 'destroyed' WHEN u.f & ${F.sampled} <> 0 THEN 'sampled'
                         WHEN u.f & ${F.rejected} <> 0 THEN 'rejected'
                         WHEN ${PACKAGES} > 0 THEN 'packed'
                         WHEN NOT $1::boolean AND u.f & ${F.observed} <> 0 THEN 'packed'
                         ELSE 'unaccounted' END AS fate
               FROM r_notable u LEFT JOIN r_xfate x ON x.serial = u.serial) t`,
    [aggregationRequired, plainNotNotable],
  );
  const balance = balanceRows[0] as ReconciliationSummary['balance'];

  step('discrepancies');
  // sgtin is filled in at the end, for the few units with a finding.
  await q(
    `CREATE TEMP TABLE r_disc (category text, kind text, sgtin text, gtin char(14), serial text, ssccs text[], detail text) ON COMMIT DROP`,
  );
  // duplicate serial (the other lots looked up once for all of them, not per unit)
  await q(
    `INSERT INTO r_disc
     SELECT 'duplicate_serial', 'duplicate_serial', NULL, $1, u.serial, NULL,
            concat_ws('; ',
              CASE WHEN u.n_comm > 1 THEN 'commissioned ' || u.n_comm || ' times in this batch' END,
              CASE WHEN u.f & ${F.otherBatch} <> 0 THEN 'also commissioned in batch ' || o.lots END)
       FROM r_notable u
       LEFT JOIN (SELECT k.serial, string_agg(DISTINCT COALESCE(x.lot, '(no lot)'), ', ' ORDER BY COALESCE(x.lot, '(no lot)')) AS lots
                    FROM epcis_event_identifiers x ${ELEMENTS}
                    JOIN r_notable d ON d.serial = k.serial AND d.f & ${F.otherBatch} <> 0
                   WHERE ${COMMISSIONING} AND x.gtin = $1 AND x.lot IS DISTINCT FROM $2 AND ${live}
                   GROUP BY k.serial) o ON o.serial = u.serial
      WHERE u.n_comm > 1 OR u.f & ${F.otherBatch} <> 0`,
    base,
  );
  // aggregation: a unit in two packages
  await q(
    `INSERT INTO r_disc
     SELECT 'aggregation_error', 'child_two_parents', NULL, $1, serial, ssccs, 'in ' || cardinality(ssccs) || ' packages at once'
       FROM (SELECT u.serial, ARRAY[u.p_min, u.p_max] AS ssccs FROM r_notable u
              WHERE u.n_add = 2 AND u.p_min <> u.p_max AND u.serial NOT IN (SELECT serial FROM r_exact)
             UNION ALL
             SELECT e.serial, array_agg(e.parent ORDER BY e.parent COLLATE "C") FROM r_edges e
              WHERE e.in_batch GROUP BY e.serial HAVING count(*) > 1) t
      WHERE $2::text IS NOT NULL`,
    [gtin, lot],
  );
  // aggregation: a package of this batch holding another batch's unit; lost packaging: a unit nobody commissioned
  // (the children whose summary is not trusted are looked up in the live events, all at once)
  await q(
    `CREATE TEMP TABLE r_foreign_recheck ON COMMIT DROP AS
     WITH suspect AS (
       SELECT e.gtin, e.serial FROM r_edges e JOIN serialized_items si ON si.gtin = e.gtin AND si.serial = e.serial
        WHERE NOT e.in_batch AND si.facts & ${F.recheck} <> 0
     )
     SELECT DISTINCT x.gtin, k.serial
       FROM epcis_event_identifiers x ${ELEMENTS}
      WHERE ${COMMISSIONING} AND ${live.replace('$3', '$1')} AND EXISTS (SELECT 1 FROM suspect)
        AND x.gtin IN (SELECT gtin FROM suspect) AND (x.gtin, k.serial) IN (SELECT gtin, serial FROM suspect)`,
    [retracted],
  );
  await q(
    `INSERT INTO r_disc
     SELECT CASE WHEN c.foreign_unit THEN 'aggregation_error' ELSE 'lost_packaging' END,
            CASE WHEN c.foreign_unit THEN 'foreign_child' ELSE 'lost_packaging' END,
            c.epc, c.gtin, c.serial, ARRAY[c.parent],
            CASE WHEN c.foreign_unit THEN 'package of batch ' || $2 || ' holds a unit of another batch or GTIN'
                 ELSE 'in a package of this batch but never commissioned' END
       FROM (SELECT e.*,
                    -- commissioned anywhere: the unit's summary says so, or (when its summary is not
                    -- trusted) a live commissioning event does
                    COALESCE((SELECT si.commissionings > 0 AND si.facts & ${F.recheck} = 0
                                FROM serialized_items si WHERE si.gtin = e.gtin AND si.serial = e.serial), false)
                    OR (e.gtin, e.serial) IN (SELECT gtin, serial FROM r_foreign_recheck) AS foreign_unit
               FROM r_edges e
               JOIN r_pkg p ON p.parent = e.parent AND p.in_batch * 2 >= p.children
              WHERE NOT e.in_batch) c
      WHERE $1::text IS NOT NULL`,
    [gtin, lot],
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
  // per-unit findings from the facts: not aggregated, unaccounted, missing report (the candidates,
  // units neither removed nor both packed and reported, are few; the million are read once)
  await q(
    `INSERT INTO r_disc
     WITH u AS MATERIALIZED (
       SELECT u.serial, ${PACKAGES} AS packages, u.f & ${F.observed} <> 0 AS observed, u.f & ${F.reported} <> 0 AS reported
         FROM r_notable u LEFT JOIN r_xfate x ON x.serial = u.serial
        WHERE u.f & ${F.destroyed | F.sampled | F.rejected} = 0 AND (u.n_add = 0 OR x.serial IS NOT NULL OR u.f & ${F.reported} = 0)
     )
     SELECT 'aggregation_error', 'unaggregated', NULL, $1, serial, NULL::text[], 'observed after commissioning but never packed; the product requires aggregation'
       FROM u WHERE $2::boolean AND packages = 0 AND observed
     UNION ALL
     SELECT 'unaccounted', 'unaccounted', NULL, $1, serial, NULL, 'commissioned and then nothing'
       FROM u WHERE packages = 0 AND NOT observed
     UNION ALL
     SELECT 'missing_report', 'missing_report', NULL, $1, serial, NULL, 'released but absent from every repository report of the batch'
       FROM u WHERE $3::boolean AND (packages > 0 OR observed) AND NOT reported`,
    [gtin, aggregationRequired, hasReport],
  );
  if (!hasReport) {
    await q(
      `INSERT INTO r_disc
       SELECT 'missing_report', 'no_report', NULL, $1, NULL, NULL, n || ' released units and no repository report for the batch'
         FROM (SELECT count(*) AS n
                 FROM r_notable u LEFT JOIN r_xfate x ON x.serial = u.serial
                WHERE u.f & ${F.destroyed | F.sampled | F.rejected} = 0 AND (${PACKAGES} > 0 OR u.f & ${F.observed} <> 0)) t
        WHERE n > 0`,
      [gtin],
    );
  }
  // The SGTIN of each unit with a finding, as its first commissioning event in this batch spelled it.
  await q(
    `UPDATE r_disc d SET sgtin = f.epc
       FROM (SELECT u.serial, min(${EPC}) AS epc
               FROM r_notable u
               JOIN epcis_event_identifiers x ON x.event_pk = u.comm_first
              ${ELEMENTS}
              WHERE u.serial IN (SELECT serial FROM r_disc WHERE sgtin IS NULL AND gtin = $1)
                AND ${COMMISSIONING} AND x.gtin = $1 AND x.lot = $2 AND k.serial = u.serial
              GROUP BY u.serial) f
      WHERE d.sgtin IS NULL AND d.gtin = $1 AND d.serial = f.serial`,
    [gtin, lot],
  );

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
  const content: ReportContent = {
    lot,
    gtin,
    balance,
    discrepancies,
    rules: { aggregationRequired, unitsPerCase: product?.units_per_case ?? null, hasRepositoryReport: hasReport },
    findingsSha256: digestRows[0]?.digest ?? '',
  };
  const summary = await storeReport(client, input, batch, content);
  const { reportId } = summary;
  await q(
    `INSERT INTO reconciliation_discrepancies (report_id, seq, category, kind, sgtin, gtin, serial, ssccs, detail)
     SELECT $1, row_number() OVER (ORDER BY ${order}), category, kind, sgtin, gtin, serial, ssccs, detail FROM r_disc`,
    [reportId],
  );
  if (batch) await recordBatchMetrics(q, batch.id, summary);
  return summary;
}

/**
 * The batch's point in the monitoring series (batch_metrics): the newest report's counts, the
 * batch's first place in the series kept.
 */
export async function recordBatchMetrics(
  q: (sql: string, params: unknown[]) => Promise<unknown>,
  batchId: number | string,
  s: ReconciliationSummary,
): Promise<void> {
  const b = s.balance;
  const d = s.discrepancies;
  await q(
    `INSERT INTO batch_metrics (batch_id, line, gtin, lot, report_id, content_hash, commissioned, packed, rejected, sampled, destroyed,
                                unaccounted_units, duplicate_serial, aggregation_error, missing_report, lost_packaging, unaccounted, recorded_at)
     SELECT b.id, b.line, b.gtin, b.lot, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM batches b WHERE b.id = $1
     ON CONFLICT (batch_id) DO UPDATE SET
       line = EXCLUDED.line, report_id = EXCLUDED.report_id, content_hash = EXCLUDED.content_hash,
       commissioned = EXCLUDED.commissioned, packed = EXCLUDED.packed, rejected = EXCLUDED.rejected, sampled = EXCLUDED.sampled,
       destroyed = EXCLUDED.destroyed, unaccounted_units = EXCLUDED.unaccounted_units, duplicate_serial = EXCLUDED.duplicate_serial,
       aggregation_error = EXCLUDED.aggregation_error, missing_report = EXCLUDED.missing_report, lost_packaging = EXCLUDED.lost_packaging,
       unaccounted = EXCLUDED.unaccounted, recorded_at = EXCLUDED.recorded_at
     WHERE batch_metrics.recorded_at <= EXCLUDED.recorded_at`,
    [
      batchId,
      s.reportId,
      s.contentHash,
      b.commissioned,
      b.packed,
      b.rejected,
      b.sampled,
      b.destroyed,
      b.unaccounted,
      d.duplicate_serial,
      d.aggregation_error,
      d.missing_report,
      d.lost_packaging,
      d.unaccounted,
      s.generatedAt,
    ],
  );
}
