/**
 * npm run bench:monitoring — the monitoring of a site's packaging lines: 1,000 reconciled batches
 * on 20 lines, five charted metrics, each batch's point judged as the line's monitor judges it,
 * beside a baseline measured in the same run on the same rows:
 *   product   per batch, in production order (the lines taking turns):
 *             - its point recorded as reconciliation records it: the report row, then batch_metrics
 *               (reconciliation/reconcile.ts recordBatchMetrics), in one transaction;
 *             - the point judged by the line monitor's activity (activities/monitoring.ts
 *               evaluateBatchPoint): the policy's thresholds, the line's and the line × product charts
 *               created or moved to `ready` (monitoring/charts.ts ensureCharts), the rules of every
 *               approved chart evaluated on the point (newViolations), each signal claimed
 *               (monitoring/signals.ts: one deviation per batch and signal, alert, audit row).
 *             Not timed: QA's signed approval of each chart's baseline once it is ready
 *             (monitoring/chart-changes.ts, the password check left out), and writing the batch row.
 *   baseline  one plain SQL aggregate over the same batch_metrics rows: mean and standard deviation
 *             of each metric's rate per line.
 *   memory    this process's peak RSS (the product's modules run in it).
 * The batches' counts come from the SPC domain's own simulation (domain/spc simulateBatches): an
 * in-control process with a 40 % batch-to-batch variation of each rate, except a tripled
 * aggregation error rate on two lines from their 40th batch on, so the rules have something to find.
 * Temporal is not involved: the activity is called directly, and the deviations it would open are
 * claimed but not started.
 *
 * Runs in a database of its own, created and migrated by scripts/migrate.ts (DATABASE_URL), dropped at
 * the end unless BENCH_KEEP_DB=1. Results: bench/results/monitoring-<date and time>.{json,md}.
 *
 * Environment: BENCH_MONITORING_LINES (20), BENCH_MONITORING_BATCHES (1000), BENCH_SEED (1),
 * BENCH_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { createMonitoringActivities } from '../activities/monitoring';
import { createUser } from '../auth/users';
import { createPool, withTransaction, type Pool } from '../db/pool';
import { withCheckDigit } from '../domain/gs1/check-digit';
import type { MonitoredMetric } from '../domain/monitoring/metrics';
import { PRODUCTION_POLICY, type Policy } from '../domain/policy';
import type { ReconciliationSummary } from '../domain/reconciliation-summary';
import { simulateBatches, type SpcMeasure } from '../domain/spc';
import { ChartChangeRefused, approveBaseline, baselineApprovalRecord } from '../monitoring/chart-changes';
import { recordBatchMetrics } from '../reconciliation/reconcile';
import { canonicalRecordHash } from '../signatures';
import { describeCode } from './code-version';
import { describeMachine, type MachineDescription } from './machine';

const root = path.resolve(__dirname, '..');
const LINES = Number(process.env.BENCH_MONITORING_LINES ?? 20);
const BATCHES = Number(process.env.BENCH_MONITORING_BATCHES ?? 1_000);
const SEED = Number(process.env.BENCH_SEED ?? 1);
/** Units commissioned per batch, uniform between these. */
const BATCH_UNITS = { min: 100_000, max: 1_000_000 };
const RATE_CV = 0.4;
/** The lines whose aggregation error rate triples, and from which of their batches (0-based). */
const SHIFTED_LINES = 2;
const SHIFT = { fromLineBatch: 40, factor: 3 };

/**
 * The five charted metrics, with the process's long-run rate of each. Duplicates, lost packages and
 * missing reports are rare (a batch has none or one or two), which is why the production thresholds
 * open a deviation for any at all; aggregation errors and unaccounted units are commoner.
 */
const METRICS: Record<
  'duplicate_serial' | 'aggregation_error' | 'missing_report' | 'lost_packaging' | 'unaccounted',
  { rate: number; measure: SpcMeasure }
> = {
  duplicate_serial: { rate: 5e-7, measure: 'rate' },
  aggregation_error: { rate: 2e-4, measure: 'rate' },
  missing_report: { rate: 1e-6, measure: 'rate' },
  lost_packaging: { rate: 5e-7, measure: 'rate' },
  unaccounted: { rate: 5e-5, measure: 'proportion' },
};
const CHARTED = Object.keys(METRICS) as Array<keyof typeof METRICS & MonitoredMetric>;

/** The production policy, charting the five metrics (production charts four by default: not lost packaging). */
const policy: Policy = { ...PRODUCTION_POLICY, monitoring: { ...PRODUCTION_POLICY.monitoring, chartedMetrics: CHARTED } };

/** The one plain aggregate the product's time is set beside. */
const BASELINE_SQL = `SELECT m.line, v.metric, count(*) AS batches, avg(v.count::float8 / m.commissioned) AS mean_rate,
       stddev_samp(v.count::float8 / m.commissioned) AS sd_rate
  FROM batch_metrics m
 CROSS JOIN LATERAL (VALUES ('duplicate_serial', m.duplicate_serial), ('aggregation_error', m.aggregation_error),
                            ('missing_report', m.missing_report), ('lost_packaging', m.lost_packaging),
                            ('unaccounted', m.unaccounted_units)) AS v (metric, count)
 WHERE m.commissioned > 0
 GROUP BY m.line, v.metric`;

const log = (msg: string) => process.stdout.write(`[bench:monitoring] ${msg}\n`);
const mb = (kib: number) => Math.round(kib / 1024);
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

interface PlannedBatch {
  line: string;
  gtin: string;
  lot: string;
  /** The batch's place among its line's batches, from 0. */
  lineBatch: number;
  units: number;
  counts: Record<(typeof CHARTED)[number], number>;
}

/** One seed per line, batch and metric, so that each draw is its own and the whole run repeats for a BENCH_SEED. */
const seedOf = (line: number, lineBatch: number, metric: number) => (SEED * 1_000_003 + line * 10_007 + lineBatch * 31 + metric) >>> 0;

/** The batches in production order: the lines take turns, each making one product. */
function plan(): PlannedBatch[] {
  return Array.from({ length: BATCHES }, (_, i) => {
    const l = i % LINES;
    const lineBatch = Math.floor(i / LINES);
    const units = simulateBatches({ seed: seedOf(l, lineBatch, 99), points: 1, rate: 1e-6, rateCv: 0, n: BATCH_UNITS })[0]!.n;
    const counts = Object.fromEntries(
      CHARTED.map((metric, m) => {
        const { rate, measure } = METRICS[metric];
        const shifted = metric === 'aggregation_error' && l < SHIFTED_LINES && lineBatch >= SHIFT.fromLineBatch;
        const [sample] = simulateBatches({
          seed: seedOf(l, lineBatch, m),
          points: 1,
          measure,
          rate,
          rateCv: RATE_CV,
          n: { min: units, max: units },
          ...(shifted ? { shift: { from: 0, factor: SHIFT.factor } } : {}),
        });
        return [metric, sample!.count];
      }),
    ) as PlannedBatch['counts'];
    const line = `BL${String(l + 1).padStart(2, '0')}`;
    return {
      line,
      gtin: withCheckDigit(`0950611${String(l + 1).padStart(6, '0')}`),
      lot: `${line}-${String(lineBatch + 1).padStart(4, '0')}`,
      lineBatch,
      units,
      counts,
    };
  });
}

/** What a reconciliation of the planned batch would have summarised (the fates other than unaccounted are small and fixed). */
function summaryOf(b: PlannedBatch, reportId: string, generatedAt: string): ReconciliationSummary {
  const rejected = Math.round(b.units * 5e-4);
  const sampled = Math.round(b.units * 2e-4);
  const destroyed = Math.round(b.units * 1e-4);
  const unaccounted = b.counts.unaccounted;
  return {
    reportId,
    contentHash: randomBytes(32).toString('hex'),
    lot: b.lot,
    gtin: b.gtin,
    generatedAt,
    balance: {
      commissioned: b.units,
      packed: b.units - rejected - sampled - destroyed - unaccounted,
      rejected,
      sampled,
      destroyed,
      unaccounted,
    },
    discrepancies: {
      duplicate_serial: b.counts.duplicate_serial,
      aggregation_error: b.counts.aggregation_error,
      missing_report: b.counts.missing_report,
      lost_packaging: b.counts.lost_packaging,
      unaccounted,
    },
    unknownBatch: false,
  };
}

/** The batch's master data, completed two days ago (so its missing reports are past the grace period and count). */
async function insertBatch(pool: Pool, b: PlannedBatch): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO batches (gtin, lot, line, planned_quantity, status, completed_at)
     VALUES ($1, $2, $3, $4, 'released', now() - interval '2 days') RETURNING id::text`,
    [b.gtin, b.lot, b.line, b.units],
  );
  return rows[0]!.id;
}

/** The point as reconciliation stores it: its report, then its batch_metrics row, in one transaction. */
async function recordPoint(pool: Pool, b: PlannedBatch, batchId: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ n: string; generated_at: Date }>(
      `SELECT nextval('reconciliation_report_seq')::text AS n, now() AS generated_at`,
    );
    const summary = summaryOf(b, `RR-${rows[0]!.n.padStart(6, '0')}`, rows[0]!.generated_at.toISOString());
    await client.query(
      `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary, generated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [summary.reportId, batchId, b.lot, b.gtin, summary.contentHash, JSON.stringify(summary), summary.generatedAt],
    );
    await recordBatchMetrics((sql, params) => client.query(sql, params), batchId, summary);
  });
}

interface Approvals {
  approved: number;
  /** Charts whose baseline QA cannot approve (no defect in it): judged by the thresholds alone. */
  refused: Map<string, string>;
}

/** QA approves, by signature, every chart of the line that is ready (not timed: a person's act, not the monitor's). */
async function approveReadyCharts(
  pool: Pool,
  line: string,
  signer: { id: string; login: string; printedName: string },
  approvals: Approvals,
) {
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM spc_charts WHERE line = $1 AND status = 'ready' ORDER BY id`, [line]);
  for (const { id } of rows) {
    if (approvals.refused.has(id)) continue;
    try {
      const { record } = await baselineApprovalRecord(pool, id, {}, policy.monitoring);
      await approveBaseline(pool, id, {}, policy.monitoring, {
        signerId: signer.id,
        login: signer.login,
        printedName: signer.printedName,
        meaning: 'approved',
        signedAt: new Date().toISOString(),
        recordHash: canonicalRecordHash(record),
        comment: 'Benchmark: the first baseline points of the line, no assignable cause.',
      });
      approvals.approved++;
    } catch (err) {
      if (!(err instanceof ChartChangeRefused)) throw err;
      approvals.refused.set(id, err.message);
    }
  }
}

function migrateWithScript(databaseUrl: string): void {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'migrate.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`scripts/migrate.ts failed (${run.status}): ${run.stderr || run.stdout}`);
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/gxp_bench_monitoring_${Date.now().toString(36)}`;
  const databaseUrl = dbUrl.toString();
  log(`database ${dbUrl.pathname.slice(1)}: migrating with scripts/migrate.ts`);
  migrateWithScript(databaseUrl);
  const pool = createPool(databaseUrl, 4);
  try {
    const machine = await describeMachine(pool);
    log(`machine: ${JSON.stringify(machine)}`);
    const batches = plan();
    const qaHead = await createUser(pool, {
      login: 'bench.qa-head',
      password: `Bench-${randomBytes(18).toString('base64url')}`,
      printedName: 'Benchmark QA Head',
      email: 'qa-head@bench.invalid',
      roles: ['qa_head'],
    });
    const activities = createMonitoringActivities(pool, policy);
    const approvals: Approvals = { approved: 0, refused: new Map() };
    const rssBeforeKiB = process.resourceUsage().maxRSS;

    const recordMs: number[] = [];
    const evaluateMs: number[] = [];
    /** Evaluation time of the points judged while their line's charts were still in phase I, and after. */
    const byPhase = { I: { ms: 0, batches: 0 }, II: { ms: 0, batches: 0 } };
    let signals = 0;
    log(`${batches.length} batches on ${LINES} lines, ${CHARTED.length} charted metrics: ${CHARTED.join(', ')}`);
    for (const [i, b] of batches.entries()) {
      const batchId = await insertBatch(pool, b);
      let t = performance.now();
      await recordPoint(pool, b, batchId);
      recordMs.push(performance.now() - t);
      const { rows: approved } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM spc_charts WHERE line = $1 AND status = 'approved'`,
        [b.line],
      );
      t = performance.now();
      const result = await activities.evaluateBatchPoint({ line: b.line, batchId, at: new Date().toISOString() });
      const ms = performance.now() - t;
      evaluateMs.push(ms);
      const phase = approved[0]!.n > 0 ? byPhase.II : byPhase.I;
      phase.ms += ms;
      phase.batches++;
      signals += result.signals.length;
      await approveReadyCharts(pool, b.line, qaHead, approvals);
      if ((i + 1) % 100 === 0) log(`${i + 1} batches judged`);
    }
    const rssPeakKiB = process.resourceUsage().maxRSS;

    const started = performance.now();
    const aggregate = await pool.query(BASELINE_SQL);
    const baselineMs = performance.now() - started;

    const { rows: claims } = await pool.query<{ kind: string; disposition: string; n: number }>(
      `SELECT kind, disposition, count(*)::int AS n FROM monitoring_signals GROUP BY kind, disposition ORDER BY kind, disposition`,
    );
    const { rows: charts } = await pool.query<{ status: string; kind: string | null; n: number }>(
      `SELECT status, kind, count(*)::int AS n FROM spc_charts GROUP BY status, kind ORDER BY status, kind`,
    );
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    const productMs = sum(recordMs) + sum(evaluateMs);
    const sortedEvaluate = [...evaluateMs].sort((a, b) => a - b);
    const results = {
      date: new Date().toISOString(),
      code: describeCode(root),
      machine,
      workload: {
        batches: batches.length,
        lines: LINES,
        productsPerLine: 1,
        chartedMetrics: CHARTED,
        chartsPerLine: CHARTED.length * 2,
        baselinePoints: policy.monitoring.baselinePoints,
        rates: Object.fromEntries(CHARTED.map((m) => [m, METRICS[m].rate])),
        rateCv: RATE_CV,
        unitsPerBatch: BATCH_UNITS,
        shift: { lines: SHIFTED_LINES, metric: 'aggregation_error', ...SHIFT },
        seed: SEED,
      },
      product: {
        seconds: round(productMs / 1000),
        batchesPerSecond: round(batches.length / (productMs / 1000), 1),
        recordSeconds: round(sum(recordMs) / 1000),
        evaluateSeconds: round(sum(evaluateMs) / 1000),
        evaluateMsPerBatch: {
          mean: round(sum(evaluateMs) / evaluateMs.length, 2),
          p50: round(percentile(sortedEvaluate, 0.5), 2),
          p95: round(percentile(sortedEvaluate, 0.95), 2),
          max: round(sortedEvaluate.at(-1) ?? 0, 2),
          phaseI: { batches: byPhase.I.batches, mean: round(byPhase.I.ms / Math.max(1, byPhase.I.batches), 2) },
          phaseII: { batches: byPhase.II.batches, mean: round(byPhase.II.ms / Math.max(1, byPhase.II.batches), 2) },
        },
        signals,
        claims,
        charts,
        approvals: { approved: approvals.approved, refused: Object.fromEntries(approvals.refused) },
      },
      baseline: { seconds: round(baselineMs / 1000, 4), rows: aggregate.rowCount ?? 0, sql: BASELINE_SQL },
      ratio: round(productMs / baselineMs, 0),
      memory: { peakRssMB: mb(rssPeakKiB), rssBeforeRunMB: mb(rssBeforeKiB) },
    };
    writeResults(results);
  } finally {
    await pool.end();
    if (process.env.BENCH_KEEP_DB !== '1') {
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbUrl.pathname.slice(1)}" WITH (FORCE)`);
      await admin.end();
    }
  }
}

interface Results {
  date: string;
  code: string;
  machine: MachineDescription;
  workload: { batches: number; lines: number; chartedMetrics: string[]; chartsPerLine: number; baselinePoints: number } & Record<
    string,
    unknown
  >;
  product: {
    seconds: number;
    batchesPerSecond: number;
    recordSeconds: number;
    evaluateSeconds: number;
    evaluateMsPerBatch: {
      mean: number;
      p50: number;
      p95: number;
      max: number;
      phaseI: { batches: number; mean: number };
      phaseII: { batches: number; mean: number };
    };
    signals: number;
    claims: Array<{ kind: string; disposition: string; n: number }>;
    charts: Array<{ status: string; kind: string | null; n: number }>;
    approvals: { approved: number; refused: Record<string, string> };
  };
  baseline: { seconds: number; rows: number; sql: string };
  ratio: number;
  memory: { peakRssMB: number; rssBeforeRunMB: number };
}

function writeResults(r: Results): void {
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const name = `monitoring-${r.date.slice(0, 19).replace(/:/g, '')}`;
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
  const p = r.product;
  const e = p.evaluateMsPerBatch;
  const md = `# Monitoring benchmark, ${r.date}

Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB; ${r.machine.os}; Node ${r.machine.node}; ${r.machine.postgres}.

Code: ${r.code}.

Workload: ${r.workload.batches.toLocaleString('en')} batches on ${r.workload.lines} lines (one product each), the lines taking
turns; ${r.workload.chartedMetrics.length} charted metrics (${r.workload.chartedMetrics.join(', ')}), so ${r.workload.chartsPerLine}
charts per line (the line's and the line × product's); the production policy otherwise (thresholds, Western Electric rules,
${r.workload.baselinePoints} baseline points). Each chart's baseline is approved by signature as soon as it is ready (not timed).
Details: ${JSON.stringify(r.workload)}

| measure | product | baseline (same run) | ratio |
| --- | --- | --- | --- |
| ${r.workload.batches.toLocaleString('en')} points recorded and judged | ${p.seconds} s (${p.batchesPerSecond} batches/s): recording ${p.recordSeconds} s, judging ${p.evaluateSeconds} s | one SQL aggregate (mean and standard deviation per line × metric, ${r.baseline.rows} rows) over the same batch_metrics rows: ${r.baseline.seconds} s | ${r.ratio.toLocaleString('en')}× |
| judging one point | mean ${e.mean} ms, median ${e.p50} ms, 95th percentile ${e.p95} ms, max ${e.max} ms; phase I (${e.phaseI.batches} points) ${e.phaseI.mean} ms, with approved charts (${e.phaseII.batches} points) ${e.phaseII.mean} ms | — | — |
| peak RSS of the process | ${r.memory.peakRssMB} MB (${r.memory.rssBeforeRunMB} MB before the first batch) | — | — |

What the monitor found: ${p.signals} signals; claims ${p.claims.map((c) => `${c.kind} ${c.disposition}: ${c.n}`).join(', ')}.
Charts at the end: ${p.charts.map((c) => `${c.status}${c.kind ? ` ${c.kind}` : ''}: ${c.n}`).join(', ')}; baselines approved ${p.approvals.approved}, refused ${Object.keys(p.approvals.refused).length}${Object.keys(p.approvals.refused).length ? ` (${[...new Set(Object.values(p.approvals.refused))].join('; ')})` : ''}.

The ratio says what judging each batch as it comes costs beside reading all the rows once; the monitor
answers per batch, so its figure to watch is the time per point.
Baseline aggregate:

\`\`\`sql
${r.baseline.sql}
\`\`\`
`;
  writeFileSync(path.join(dir, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
  log(`ratio to the plain aggregate: ${r.ratio.toLocaleString('en')}×`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench:monitoring] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
