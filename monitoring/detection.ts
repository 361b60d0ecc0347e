import type { Queryable } from '../db/pool';
import { SEVERITIES, type Severity, type Symptom } from '../domain/deviation';
import { durationMs } from '../domain/duration';
import { MONITORED_METRICS, MONITORED_METRIC_IDS, type MonitoredMetric } from '../domain/monitoring/metrics';
import type { MonitoringPolicy, Threshold } from '../domain/monitoring/policy';
import type { Policy } from '../domain/policy';
import { ensureCharts, newViolations, ruleSignalOf, type ChartSummary, type ChartViolationView } from './charts';

/**
 * What one batch's point shows: the policy's thresholds crossed by the batch alone, and the rules
 * of the line's approved control charts that the point violates. Reads only; claiming what is
 * found, once per batch and signal, is monitoring/signals.ts.
 */

/** One batch's point, as batch_metrics holds it (its latest reconciliation), with the batch's completion. */
export interface BatchPoint {
  batchId: string;
  line: string | null;
  gtin: string;
  lot: string;
  reportId: string;
  /** Units inspected: the batch's commissioned units. */
  commissioned: number;
  counts: Record<MonitoredMetric, number>;
  completedAt: string | null;
}

export interface DetectedSignal {
  /** `threshold:<metric>` or `rule:<chart ID>:<rule>`: with the batch, the key a deviation is bound to. */
  signal: string;
  kind: 'threshold' | 'rule';
  metric: MonitoredMetric;
  symptom: Symptom;
  severity: Severity;
  /** The deviation's source when the signal opens one. */
  source: 'reconciliation' | 'spc';
  count: number;
  units: number;
  /** count / units; null when the batch inspected nothing. */
  value: number | null;
  threshold?: { maxCount?: number; maxRate?: number };
  rule?: {
    chartId: string;
    rule: string;
    ruleNumber: number;
    description: string;
    side: string;
    point: number;
    points: Array<{ index: number; batchId: string; lot: string }>;
  };
  /** The deviation's title, if the signal opens one. */
  title: string;
  /** One line, for the alert and the record. */
  summary: string;
  /** The deviation's description: what was found, against which limit or rule, and the evidence. */
  description: string;
}

export interface Detection {
  signals: DetectedSignal[];
  /** When the point must be judged again, because part of it counts only later (missing reports after the grace period). */
  recheckAt: string | null;
}

export async function loadBatchPoint(db: Queryable, batchId: string): Promise<BatchPoint | null> {
  if (!/^[0-9]{1,18}$/.test(batchId)) return null;
  const { rows } = await db.query<Record<string, unknown> & { completed_at: Date | null }>(
    `SELECT m.*, b.completed_at FROM batch_metrics m JOIN batches b ON b.id = m.batch_id WHERE m.batch_id = $1`,
    [batchId],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    batchId,
    line: (row.line as string | null) ?? null,
    gtin: row.gtin as string,
    lot: row.lot as string,
    reportId: row.report_id as string,
    commissioned: Number(row.commissioned),
    counts: Object.fromEntries(MONITORED_METRIC_IDS.map((m) => [m, Number(row[MONITORED_METRICS[m].column])])) as Record<
      MonitoredMetric,
      number
    >,
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}

export function isWatchedLine(line: string | null, policy: Pick<MonitoringPolicy, 'lines'>): line is string {
  return line !== null && (policy.lines === 'all' || policy.lines.includes(line));
}

/**
 * Everything the point shows at `at` (the monitor's clock, which is also the clock the grace period
 * is measured on): thresholds first, then chart rules. A line not watched shows nothing.
 */
export async function detectSignals(db: Queryable, point: BatchPoint, policy: Policy, at: string): Promise<Detection> {
  if (!isWatchedLine(point.line, policy.monitoring)) return { signals: [], recheckAt: null };
  const thresholds = thresholdSignals(point, policy, at);
  const rules = await chartSignals(db, point, policy, at);
  return { signals: [...thresholds.signals, ...rules.signals], recheckAt: earliest(thresholds.recheckAt, rules.recheckAt) };
}

/** Counted in words, for titles and alerts. */
const COUNTED: Record<MonitoredMetric, string> = {
  duplicate_serial: 'duplicate serials',
  aggregation_error: 'aggregation errors',
  missing_report: 'units missing from repository reports',
  lost_packaging: 'packaged units never commissioned',
  unaccounted: 'unaccounted units',
  rejected: 'rejected units',
  sampled: 'sampled units',
  destroyed: 'destroyed units',
};

const percent = (v: number) => `${Number((v * 100).toPrecision(3))} %`;
const rateOf = (count: number, units: number) => (units > 0 ? count / units : count > 0 ? Infinity : 0);
/** A limit crossed by the batch alone: more than maxCount, or more than maxRate of its units (any at all of none). */
const crosses = (t: Threshold, count: number, units: number) =>
  (t.maxCount !== undefined && count > t.maxCount) || (t.maxRate !== undefined && rateOf(count, units) > t.maxRate);

function limitText(t: Pick<Threshold, 'maxCount' | 'maxRate'>): string {
  const parts = [
    t.maxCount === undefined ? null : t.maxCount === 0 ? 'any at all' : `more than ${t.maxCount} per batch`,
    t.maxRate === undefined ? null : `more than ${percent(t.maxRate)} of units`,
  ];
  return parts.filter(Boolean).join(' or ');
}

/** When missing reports of the batch start to count; null while the batch is not completed. */
function graceEnd(point: BatchPoint, policy: MonitoringPolicy): string | null {
  return point.completedAt ? new Date(Date.parse(point.completedAt) + durationMs(policy.missingReportGrace)).toISOString() : null;
}

const earliest = (...times: Array<string | null>): string | null =>
  times.filter((t): t is string => t !== null).sort((a, b) => Date.parse(a) - Date.parse(b))[0] ?? null;

/** Whether a metric of the point may be judged at `at`: missing reports only after the grace period; else when to look again. */
function judgeable(
  metric: MonitoredMetric,
  point: BatchPoint,
  policy: MonitoringPolicy,
  at: string,
): { now: boolean; later: string | null } {
  if (metric !== 'missing_report') return { now: true, later: null };
  const end = graceEnd(point, policy);
  // (not completed yet: its completion tells the monitor again, and the grace period starts then)
  if (end === null) return { now: false, later: null };
  return Date.parse(at) >= Date.parse(end) ? { now: true, later: null } : { now: false, later: end };
}

function evidenceLines(point: BatchPoint, policy: Policy): string {
  return `Evidence: reconciliation report ${point.reportId} (the batch's latest); policy ${policy.name} ${policy.version}.`;
}

/** The thresholds the batch crosses: one signal per metric, at the severity of the worst threshold crossed. */
export function thresholdSignals(point: BatchPoint, policy: Policy, at: string): Detection {
  const monitoring = policy.monitoring;
  const signals: DetectedSignal[] = [];
  let recheckAt: string | null = null;
  for (const metric of MONITORED_METRIC_IDS) {
    const count = point.counts[metric];
    const units = point.commissioned;
    const crossed = monitoring.thresholds.filter((t) => t.metric === metric && crosses(t, count, units));
    if (crossed.length === 0) continue;
    const when = judgeable(metric, point, monitoring, at);
    if (!when.now) {
      recheckAt = earliest(recheckAt, when.later);
      continue;
    }
    const worst = [...crossed].sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity))[0]!;
    const value = units > 0 ? count / units : null;
    const limit = limitText(worst);
    const found = `${count} ${COUNTED[metric]}${value === null ? '' : ` among ${units} commissioned units (${percent(value)})`}`;
    signals.push({
      signal: `threshold:${metric}`,
      kind: 'threshold',
      metric,
      symptom: MONITORED_METRICS[metric].symptom,
      severity: worst.severity,
      source: 'reconciliation',
      count,
      units,
      value,
      threshold: {
        ...(worst.maxCount !== undefined ? { maxCount: worst.maxCount } : {}),
        ...(worst.maxRate !== undefined ? { maxRate: worst.maxRate } : {}),
      },
      title: `Line ${point.line}, batch ${point.lot}: ${count} ${COUNTED[metric]} (threshold: ${limit})`,
      summary: `${found} in batch ${point.lot} on line ${point.line}, above the threshold (${limit})`,
      description: [
        `Opened by the monitoring of line ${point.line} (signal threshold:${metric}) when batch ${point.lot} (GTIN ${point.gtin}) was judged.`,
        `Found: ${found}.`,
        `Threshold crossed: ${MONITORED_METRICS[metric].label}, ${limit} (severity ${worst.severity}).`,
        evidenceLines(point, policy),
      ].join('\n'),
    });
  }
  return { signals, recheckAt };
}

function ruleSignal(point: BatchPoint, chart: ChartSummary, v: ChartViolationView, policy: Policy): DetectedSignal {
  const metric = chart.metric;
  const count = point.counts[metric];
  const units = point.commissioned;
  const value = units > 0 ? count / units : null;
  const scope = chart.gtin === null ? `line ${chart.line}, all products` : `line ${chart.line}, GTIN ${chart.gtin}`;
  const pattern = v.points.map((p) => p.lot).join(', ');
  return {
    signal: ruleSignalOf(chart.id, v.rule),
    kind: 'rule',
    metric,
    symptom: MONITORED_METRICS[metric].symptom,
    severity: policy.monitoring.ruleViolationSeverity,
    source: 'spc',
    count,
    units,
    value,
    rule: {
      chartId: chart.id,
      rule: v.rule,
      ruleNumber: v.ruleNumber,
      description: v.description,
      side: v.side,
      point: v.index,
      points: v.points,
    },
    title: `Line ${point.line}, batch ${point.lot}: ${chart.label} out of control (rule ${v.ruleNumber}, ${v.rule})`,
    summary: `${chart.label} out of control at batch ${point.lot} on line ${point.line}: rule ${v.ruleNumber} (${v.description}), chart ${chart.id}`,
    description: [
      `Opened by the monitoring of line ${point.line} (signal rule:${chart.id}:${v.rule}) when batch ${point.lot} (GTIN ${point.gtin}) was judged.`,
      `Rule ${v.ruleNumber} (${v.rule}): ${v.description}; the batch's point (number ${v.index + 1} of chart ${chart.id}, ${scope}) completes the pattern, ${v.side} the centre line.`,
      `Points of the pattern (batches): ${pattern}.`,
      `Found: ${count} ${COUNTED[metric]}${value === null ? '' : ` among ${units} commissioned units (${percent(value)})`}.`,
      evidenceLines(point, policy) + ` Chart ${chart.id}, approved ${chart.approval?.approvedAt ?? ''}.`,
    ].join('\n'),
  };
}

/** The rules of the point's approved charts that the point violates (ensureCharts creates its charts at its first point). */
export async function chartSignals(db: Queryable, point: BatchPoint, policy: Policy, at: string): Promise<Detection> {
  const charts = await ensureCharts(db, { line: point.line, gtin: point.gtin }, policy.monitoring);
  const signals: DetectedSignal[] = [];
  let recheckAt: string | null = null;
  for (const chart of charts) {
    if (!chart.approval) continue;
    const when = judgeable(chart.metric, point, policy.monitoring, at);
    if (!when.now) {
      recheckAt = earliest(recheckAt, when.later);
      continue;
    }
    for (const v of await newViolations(db, chart.id, point.batchId)) {
      // Every metric counts discrepancies, so only a pattern above the centre line is a process
      // getting worse. One below it (fewer discrepancies) stays on the chart for QA to read, but opens
      // nothing: where a batch holds under one defect on average, eight clean batches in a row are
      // common, and rule 4 would otherwise open a deviation for an improvement.
      if (v.side === 'above') signals.push(ruleSignal(point, chart, v, policy));
    }
  }
  return { signals, recheckAt };
}
