import type { Queryable } from '../db/pool';
import { MONITORED_METRICS, type MonitoredMetric } from '../domain/monitoring/metrics';
import type { MonitoringPolicy } from '../domain/monitoring/policy';
import {
  SPC_RULE_IDS,
  chartPoints,
  computeBaseline,
  describeRule,
  evaluateChart,
  spcBaselineSchema,
  spcRulesSchema,
  type SpcBaseline,
  type SpcChartKind,
  type SpcMeasure,
  type SpcRuleId,
  type SpcRules,
  type SpcSample,
  type SpcSide,
  type SpcViolation,
} from '../domain/spc';

/**
 * The control charts of the packaging lines, on top of batch_metrics (one point per reconciled
 * batch, in the order the batches were first recorded) and the pure SPC math of domain/spc.
 *
 * A chart exists per watched line and charted metric, for the whole line and for each product made
 * on it, from the first point on (ensureCharts). It goes through two phases:
 * - phase I (`collecting`, then `ready` once it has the policy's `baselinePoints` points with units
 *   inspected): its picture is provisional, centre line and limits from the points so far, and no
 *   rule is judged, since there is nothing approved to judge against;
 * - phase II (`approved`): QA signed a baseline (monitoring/chart-changes.ts), which is frozen; every
 *   point is drawn with its own limits from its own n and judged by the chart's rules.
 */

export const CHART_STATUSES = ['collecting', 'ready', 'approved'] as const;
export type ChartStatus = (typeof CHART_STATUSES)[number];

/** `L3.ALL.aggregation_error` (the whole line) or `L3.09506000134352.aggregation_error` (one product on it). */
export function chartIdOf(line: string, gtin: string | null, metric: MonitoredMetric): string {
  return `${line}.${gtin ?? 'ALL'}.${metric}`;
}

export interface ChartSummary {
  id: string;
  line: string;
  /** Null: every product made on the line. */
  gtin: string | null;
  metric: MonitoredMetric;
  label: string;
  measure: SpcMeasure;
  /** Chosen at approval; null before. */
  kind: SpcChartKind | null;
  status: ChartStatus;
  rules: SpcRules;
  /** Points with units inspected (the ones a baseline can use). */
  pointCount: number;
  lastPointAt: string | null;
  approval: {
    baseline: SpcBaseline;
    /** The batches the baseline was computed from, in series order. */
    batches: string[];
    approvedAt: string;
    approvedBy: { login: string; printedName: string };
    /** The approving signature's row in the signature ledger. */
    ledgerId: string;
  } | null;
  createdAt: string;
  updatedAt: string;
}

interface ChartRow {
  id: string;
  line: string;
  gtin: string | null;
  metric: MonitoredMetric;
  measure: SpcMeasure;
  kind: SpcChartKind | null;
  status: ChartStatus;
  rules: unknown;
  baseline: unknown;
  baseline_batches: string[] | null;
  approval_ledger_id: string | null;
  approved_at: Date | null;
  approver_login: string | null;
  approver_name: string | null;
  points: number;
  last_point_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The chart's own points: its line, and its product unless it charts the whole line. */
const SERIES_OF_CHART = `m.line = c.line AND (c.gtin IS NULL OR m.gtin = c.gtin)`;

const SUMMARY_SELECT = `
  SELECT c.id, c.line, c.gtin, c.metric, c.measure, c.kind, c.status, c.rules, c.baseline,
         c.baseline_batches::text[] AS baseline_batches, c.approval_ledger_id::text AS approval_ledger_id, c.approved_at,
         a.signer_login AS approver_login, a.printed_name AS approver_name,
         s.points, s.last_point_at, c.created_at, c.updated_at
    FROM spc_charts c
    LEFT JOIN spc_chart_changes a ON a.ledger_id = c.approval_ledger_id
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE m.commissioned > 0)::int AS points, max(m.first_recorded_at) AS last_point_at
        FROM batch_metrics m WHERE ${SERIES_OF_CHART}) s`;

function summaryOf(row: ChartRow): ChartSummary {
  const approved = row.baseline !== null && row.approved_at !== null && row.approval_ledger_id !== null;
  return {
    id: row.id,
    line: row.line,
    gtin: row.gtin,
    metric: row.metric,
    label: MONITORED_METRICS[row.metric]?.label ?? row.metric,
    measure: row.measure,
    kind: row.kind,
    status: row.status,
    rules: spcRulesSchema.parse(row.rules),
    pointCount: row.points,
    lastPointAt: row.last_point_at?.toISOString() ?? null,
    approval: approved
      ? {
          baseline: spcBaselineSchema.parse(row.baseline),
          batches: row.baseline_batches ?? [],
          approvedAt: row.approved_at!.toISOString(),
          approvedBy: { login: row.approver_login ?? '', printedName: row.approver_name ?? '' },
          ledgerId: row.approval_ledger_id!,
        }
      : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function isWatched(line: string, policy: Pick<MonitoringPolicy, 'lines'>): boolean {
  return policy.lines === 'all' || policy.lines.includes(line);
}

/**
 * The charts a new point belongs to, created when missing: for each charted metric, the line's
 * chart and the line × product chart, each starting with the policy's default rules. A chart still
 * collecting whose points with units inspected reach `baselinePoints` becomes `ready` (QA is asked to
 * approve its baseline). Called by the monitoring workflow's activity for each new point; safe to
 * call again (a retried activity), and concurrently (ON CONFLICT DO NOTHING). A batch without a
 * line, or on a line not watched, is on no chart: [].
 */
export async function ensureCharts(
  db: Queryable,
  point: { line: string | null; gtin: string },
  policy: Pick<MonitoringPolicy, 'lines' | 'chartedMetrics' | 'rules' | 'baselinePoints'>,
): Promise<ChartSummary[]> {
  const { line, gtin } = point;
  if (line === null || !isWatched(line, policy) || policy.chartedMetrics.length === 0) return [];
  const charts = policy.chartedMetrics.flatMap((metric) =>
    [null, gtin].map((g) => ({ id: chartIdOf(line, g, metric), gtin: g, metric, measure: MONITORED_METRICS[metric].measure })),
  );
  const ids = charts.map((c) => c.id);
  await db.query(
    `INSERT INTO spc_charts (id, line, gtin, metric, measure, rules)
     SELECT id, $1, gtin, metric, measure, $6::jsonb
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t (id, gtin, metric, measure)
     ON CONFLICT DO NOTHING`,
    [
      line,
      ids,
      charts.map((c) => c.gtin),
      charts.map((c) => c.metric),
      charts.map((c) => c.measure),
      JSON.stringify(spcRulesSchema.parse(policy.rules)),
    ],
  );
  await db.query(
    `UPDATE spc_charts c SET status = 'ready', updated_at = now()
      WHERE c.id = ANY($1::text[]) AND c.status = 'collecting'
        AND (SELECT count(*) FROM batch_metrics m WHERE ${SERIES_OF_CHART} AND m.commissioned > 0) >= $2`,
    [ids, policy.baselinePoints],
  );
  const { rows } = await db.query<ChartRow>(`${SUMMARY_SELECT} WHERE c.id = ANY($1::text[]) ORDER BY c.gtin NULLS FIRST, c.metric`, [ids]);
  return rows.map(summaryOf);
}

export interface ChartFilter {
  line?: string;
  gtin?: string;
  metric?: MonitoredMetric;
  status?: ChartStatus;
  limit?: number;
}

/** Charts by line, then the whole line before its products, then metric. */
export async function listCharts(db: Queryable, filter: ChartFilter = {}): Promise<ChartSummary[]> {
  const { rows } = await db.query<ChartRow>(
    `${SUMMARY_SELECT}
      WHERE ($1::text IS NULL OR c.line = $1) AND ($2::text IS NULL OR c.gtin = $2)
        AND ($3::text IS NULL OR c.metric = $3) AND ($4::text IS NULL OR c.status = $4)
      ORDER BY c.line, c.gtin NULLS FIRST, c.metric
      LIMIT $5`,
    [filter.line ?? null, filter.gtin ?? null, filter.metric ?? null, filter.status ?? null, filter.limit ?? 500],
  );
  return rows.map(summaryOf);
}

/** One chart's summary; null when there is no such chart. */
export async function findChart(db: Queryable, id: string): Promise<ChartSummary | null> {
  const { rows } = await db.query<ChartRow>(`${SUMMARY_SELECT} WHERE c.id = $1`, [id]);
  return rows[0] ? summaryOf(rows[0]) : null;
}

/** One batch's point, as batch_metrics holds it for the chart's metric. */
export interface SeriesPoint {
  batchId: string;
  lot: string;
  gtin: string;
  /** The batch's place in the series: when its first reconciliation was recorded. */
  recordedAt: string;
  reportId: string;
  contentHash: string;
  /** Units inspected: the batch's commissioned units. */
  n: number;
  /** The metric's count in the batch. */
  count: number;
}

interface SeriesRow {
  batchId: string;
  lot: string;
  gtin: string;
  recordedAt: Date;
  reportId: string;
  contentHash: string;
  n: number;
  count: number;
}

/** The metric's count column: chosen from MONITORED_METRICS (never from a request), so it may be named in the SQL. */
function countColumn(metric: MonitoredMetric): string {
  const column = MONITORED_METRICS[metric]?.column;
  if (!column) throw new RangeError(`unknown metric ${metric}`);
  return `m."${column}"`;
}

const SERIES_COLUMNS = (metric: MonitoredMetric) => `m.batch_id::text AS "batchId", m.lot, m.gtin, m.first_recorded_at AS "recordedAt",
  m.report_id AS "reportId", m.content_hash AS "contentHash", m.commissioned AS n, ${countColumn(metric)} AS count`;

const pointOf = (r: SeriesRow): SeriesPoint => ({ ...r, recordedAt: r.recordedAt.toISOString() });

/** The chart's whole series, in series order (first recorded, then batch ID). */
export async function chartSeries(db: Queryable, chart: Pick<ChartSummary, 'line' | 'gtin' | 'metric'>): Promise<SeriesPoint[]> {
  const { rows } = await db.query<SeriesRow>(
    `SELECT ${SERIES_COLUMNS(chart.metric)} FROM batch_metrics m
      WHERE m.line = $1 AND ($2::text IS NULL OR m.gtin = $2)
      ORDER BY m.first_recorded_at, m.batch_id`,
    [chart.line, chart.gtin],
  );
  return rows.map(pointOf);
}

const sampleOf = (p: Pick<SeriesPoint, 'count' | 'n'>): SpcSample => ({ count: p.count, n: p.n });

export interface ChartPointView extends SeriesPoint {
  index: number;
  /** count / n; null when nothing was inspected (n = 0). */
  value: number | null;
  /** Null in phase I when no provisional centre line can be drawn. */
  centre: number | null;
  lcl: number | null;
  ucl: number | null;
  z: number | null;
  /** One of the batches the approved baseline was computed from. */
  inBaseline: boolean;
}

export interface ChartViolationView {
  rule: SpcRuleId;
  /** The rule's Western Electric number (1–4), what the chart marks the point with. */
  ruleNumber: number;
  description: string;
  side: SpcSide;
  /** The point that completed the pattern. */
  index: number;
  batchId: string;
  lot: string;
  /** Every point of the pattern, ending with the completing one. */
  points: Array<{ index: number; batchId: string; lot: string }>;
}

/** A violation as the chart shows it, with what the line's monitor made of it. */
export interface ChartViolationDetail extends ChartViolationView {
  /**
   * The deviation the line's monitor opened for this violation, or linked it to as a recurrence
   * (monitoring_signals); null when it raised none: a point of the baseline or before its end
   * (judged when QA approved it), a violation that appeared only when the rules changed later, or a
   * point the monitor has not judged yet.
   */
  deviationId: string | null;
}

export interface ChartChange {
  id: string;
  seq: number;
  kind: 'baseline_approved' | 'rules_changed';
  signer: { login: string; printedName: string };
  meaning: string;
  reason: string | null;
  recordHash: string;
  ledgerId: string;
  before: unknown;
  after: unknown;
  changedAt: string;
}

export interface ChartDetail extends ChartSummary {
  phase: 'I' | 'II';
  /**
   * True in phase I: the centre line and limits are computed from the points so far, for a first
   * look only; nothing is judged against them, and they move with every new point.
   */
  provisional: boolean;
  /** What the centre line and the limits are drawn from: the approved baseline, or phase I's provisional one. */
  limitsFrom: SpcBaseline | null;
  /** Phase I, when no provisional limits can be drawn (too few points, no defect yet): why. */
  limitsProblem: string | null;
  points: ChartPointView[];
  /** Phase II only: every violation of the chart's enabled rules, by completing point. */
  violations: ChartViolationDetail[];
  /** The chart's signed changes, oldest first. */
  changes: ChartChange[];
}

interface ChangeRow extends Omit<ChartChange, 'signer' | 'changedAt'> {
  login: string;
  printedName: string;
  changedAt: Date;
}

/** The chart's signed changes, oldest first. */
export async function chartChanges(db: Queryable, chartId: string): Promise<ChartChange[]> {
  const { rows } = await db.query<ChangeRow>(
    `SELECT id::text, seq, kind, signer_login AS login, printed_name AS "printedName", meaning, reason, record_hash AS "recordHash",
            ledger_id::text AS "ledgerId", before, after, changed_at AS "changedAt"
       FROM spc_chart_changes WHERE chart_id = $1 ORDER BY seq`,
    [chartId],
  );
  return rows.map(({ login, printedName, changedAt, ...c }) => ({
    ...c,
    signer: { login, printedName },
    changedAt: changedAt.toISOString(),
  }));
}

export const ruleNumberOf = (rule: SpcRuleId): number => SPC_RULE_IDS.indexOf(rule) + 1;

/** The signal a chart's rule raises on a batch (monitoring_signals.signal): with the batch, what a deviation is bound to. */
export const ruleSignalOf = (chartId: string, rule: SpcRuleId): string => `rule:${chartId}:${rule}`;

/** Each violation with the deviation its signal opened or was linked to, if the line's monitor claimed one. */
async function withDeviations(db: Queryable, chartId: string, violations: ChartViolationView[]): Promise<ChartViolationDetail[]> {
  if (violations.length === 0) return [];
  const { rows } = await db.query<{ batch_id: string; signal: string; deviation_id: string }>(
    `SELECT batch_id::text, signal, deviation_id FROM monitoring_signals WHERE batch_id = ANY($1::bigint[]) AND signal = ANY($2::text[])`,
    [[...new Set(violations.map((v) => v.batchId))], SPC_RULE_IDS.map((rule) => ruleSignalOf(chartId, rule))],
  );
  const claimed = new Map(rows.map((r) => [`${r.batch_id}|${r.signal}`, r.deviation_id]));
  return violations.map((v) => ({ ...v, deviationId: claimed.get(`${v.batchId}|${ruleSignalOf(chartId, v.rule)}`) ?? null }));
}

function violationView(v: SpcViolation, series: readonly SeriesPoint[], rules: SpcRules, offset = 0): ChartViolationView {
  const at = (i: number) => ({ index: i + offset, batchId: series[i]!.batchId, lot: series[i]!.lot });
  return {
    rule: v.rule,
    ruleNumber: ruleNumberOf(v.rule),
    description: describeRule(v.rule, rules),
    side: v.side,
    ...at(v.index),
    points: v.points.map(at),
  };
}

/**
 * The chart as it is drawn: its series in series order, each point with its centre line, its
 * limits from its own n and its z; in phase II the violations of the chart's rules (the whole series
 * is judged, baseline included, so a pattern running from the baseline into the new points counts),
 * in phase I the provisional picture. Null when there is no such chart.
 */
export async function chartDetail(db: Queryable, id: string): Promise<ChartDetail | null> {
  const chart = await findChart(db, id);
  if (!chart) return null;
  const series = await chartSeries(db, chart);
  const changes = await chartChanges(db, id);
  const samples = series.map(sampleOf);
  const inBaseline = new Set(chart.approval?.batches ?? []);
  const sigma = chart.rules.beyond_limit.sigma;

  if (chart.approval) {
    const evaluation = evaluateChart(chart.approval.baseline, samples, chart.rules);
    return {
      ...chart,
      phase: 'II',
      provisional: false,
      limitsFrom: chart.approval.baseline,
      limitsProblem: null,
      points: series.map((p, i) => ({ ...p, ...drawn(evaluation.points[i]!), index: i, inBaseline: inBaseline.has(p.batchId) })),
      violations: await withDeviations(
        db,
        id,
        evaluation.violations.map((v) => violationView(v, series, chart.rules)),
      ),
      changes,
    };
  }

  const provisional = computeBaseline(samples, { measure: chart.measure, minPoints: 2 });
  const drawnPoints = provisional.ok ? chartPoints(provisional.baseline, samples, sigma) : null;
  return {
    ...chart,
    phase: 'I',
    provisional: true,
    limitsFrom: provisional.ok ? provisional.baseline : null,
    limitsProblem: provisional.ok ? null : provisional.problem.message,
    points: series.map((p, i) => ({
      ...p,
      ...(drawnPoints ? drawn(drawnPoints[i]!) : { value: p.n > 0 ? p.count / p.n : null, centre: null, lcl: null, ucl: null, z: null }),
      index: i,
      inBaseline: false,
    })),
    violations: [],
    changes,
  };
}

function drawn(p: { value: number | null; centre: number; lcl: number | null; ucl: number | null; z: number | null }) {
  return { value: p.value, centre: p.centre, lcl: p.lcl, ucl: p.ucl, z: p.z };
}

/**
 * The rule violations completed by one batch's point on an approved chart: what the monitoring
 * calls once for each new point (after ensureCharts), to decide whether to open or link a deviation.
 *
 * - "Completed by" means the batch's point is the last point of the pattern (`index` in
 *   domain/spc/rules.ts): a point beyond the limits, the second of two of three beyond 2σ, the eighth
 *   of a run… A run that goes on completes again at each further point; one deviation per episode,
 *   not per point, is the caller's decision.
 * - Answers [] when the chart is not approved (phase I judges nothing), when the batch is not a
 *   point of this chart (another line or product), when it is part of the approved baseline or comes
 *   before its end (judged when QA approved it), and when the batch inspected nothing (n = 0).
 * - Reads and judges only the points the enabled rules look back over (the longest window or run),
 *   up to and including the batch (plus a count of the points before them, for the indices), not
 *   the whole series; it answers exactly what chartDetail shows for that point, the points of each
 *   pattern named with batch and lot.
 * - A read without side effects: a retried activity gets the same answer. A batch reconciled again
 *   keeps its place in the series (batch_metrics.first_recorded_at) and is judged on its newest counts.
 */
export async function newViolations(db: Queryable, chartId: string, batchId: string | number): Promise<ChartViolationView[]> {
  if (!/^[0-9]{1,18}$/.test(String(batchId))) return [];
  const { rows: charts } = await db.query<Pick<ChartRow, 'line' | 'gtin' | 'metric' | 'rules' | 'baseline' | 'baseline_batches'>>(
    `SELECT line, gtin, metric, rules, baseline, baseline_batches::text[] AS baseline_batches
       FROM spc_charts WHERE id = $1 AND status = 'approved'`,
    [chartId],
  );
  const row = charts[0];
  if (!row) return [];
  const chart = { ...row, approval: { baseline: spcBaselineSchema.parse(row.baseline), batches: row.baseline_batches ?? [] } };
  const rules = spcRulesSchema.parse(row.rules);
  const lookBack = Math.max(1, rules.two_of_three.window, rules.four_of_five.window, rules.same_side_run.length);
  const series = (alias: string) => `${alias}.line = $1 AND ($2::text IS NULL OR ${alias}.gtin = $2)`;
  const { rows } = await db.query<SeriesRow & { before: number }>(
    `WITH target AS (
       SELECT m.first_recorded_at, m.batch_id FROM batch_metrics m
        WHERE m.batch_id = $3 AND ${series('m')} AND m.commissioned > 0
          AND NOT EXISTS (SELECT 1 FROM batch_metrics b
                           WHERE b.batch_id = ANY($4::bigint[]) AND (m.first_recorded_at, m.batch_id) <= (b.first_recorded_at, b.batch_id))
     ), looked_back AS (
       SELECT m.first_recorded_at, m.batch_id FROM batch_metrics m, target t
        WHERE ${series('m')} AND m.commissioned > 0 AND (m.first_recorded_at, m.batch_id) <= (t.first_recorded_at, t.batch_id)
        ORDER BY m.first_recorded_at DESC, m.batch_id DESC LIMIT $5
     ), first AS (
       SELECT first_recorded_at, batch_id FROM looked_back ORDER BY first_recorded_at, batch_id LIMIT 1
     )
     SELECT ${SERIES_COLUMNS(chart.metric)},
            (SELECT count(*) FROM batch_metrics p WHERE ${series('p')}
                AND (p.first_recorded_at, p.batch_id) < (f.first_recorded_at, f.batch_id))::int AS before
       FROM batch_metrics m, target t, first f
      WHERE ${series('m')}
        AND (m.first_recorded_at, m.batch_id) >= (f.first_recorded_at, f.batch_id)
        AND (m.first_recorded_at, m.batch_id) <= (t.first_recorded_at, t.batch_id)
      ORDER BY m.first_recorded_at, m.batch_id`,
    [chart.line, chart.gtin, String(batchId), chart.approval.batches, lookBack],
  );
  if (rows.length === 0) return [];
  // Points with n = 0 come along: the rules pass over them, and the indices stay those of the whole series (chartDetail).
  const tail = rows.map(({ before: _before, ...r }) => pointOf(r));
  const last = tail.length - 1;
  const { violations } = evaluateChart(chart.approval.baseline, tail.map(sampleOf), rules);
  return violations.filter((v) => v.index === last).map((v) => violationView(v, tail, rules, rows[0]!.before));
}
