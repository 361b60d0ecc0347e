import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db/pool';
import type { MonitoringPolicy } from '../domain/monitoring/policy';
import type { SignatureMeaning } from '../domain/signatures';
import { computeBaseline, type SpcBaseline, type SpcRules } from '../domain/spc';
import { appendSignature, canonicalRecordHash } from '../signatures';
import { chartSeries, findChart, type ChartChange, type ChartSummary, type SeriesPoint } from './charts';

/**
 * The controlled changes of a chart (21 CFR Part 11): approving its baseline and changing its rules.
 * Each is signed electronically over a record of the change, and commits in one transaction with
 * its signature ledger row, its spc_chart_changes row and its audit-trail rows, or not at all.
 *
 * The record is built twice: once before signing, so the signer signs (and the API shows) exactly
 * what will change, and again inside the transaction, with the chart locked. If the two differ
 * (a point arrived in the baseline window, another change was signed meanwhile), the change is
 * refused and the signer looks again: a signature never covers a record other than the one applied.
 */

export type ChartChangeRefusal = 'not_found' | 'conflict' | 'invalid';

/** Why a change cannot be made: no such chart, the chart's state forbids it, or the request names what the chart does not hold. */
export class ChartChangeRefused extends Error {
  constructor(
    readonly refusal: ChartChangeRefusal,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The signature manifestation as the API builds it after re-authentication (api/services/signing.ts). */
export interface ChangeSignature {
  signerId: string;
  login: string;
  printedName: string;
  meaning: SignatureMeaning;
  /** ISO 8601 UTC. */
  signedAt: string;
  recordHash: string;
  comment?: string;
}

/**
 * The batches a baseline is computed from: named one by one (phase I may leave out points with an
 * assignable cause), a window of the series from one batch to another (inclusive), or, by default,
 * the first `baselinePoints` points with units inspected.
 */
export type BaselineWindow = { batches: string[] } | { from: string; to: string } | Record<string, never>;

interface ChartRef {
  id: string;
  line: string;
  gtin: string | null;
  metric: string;
  measure: string;
}

/** What QA signs to approve a baseline: the chart, its rules, the frozen baseline and the batches (with their reports) it comes from. */
export interface BaselineApprovalRecord {
  record: 'spc_chart.baseline_approval';
  chart: ChartRef;
  rules: SpcRules;
  baseline: SpcBaseline;
  batches: Array<Pick<SeriesPoint, 'batchId' | 'lot' | 'gtin' | 'reportId' | 'contentHash' | 'n' | 'count'>>;
}

/** What QA signs to change a chart's rules. */
export interface RulesChangeRecord {
  record: 'spc_chart.rules_change';
  chart: ChartRef;
  before: SpcRules;
  after: SpcRules;
  reason: string;
}

const chartRef = (c: ChartSummary): ChartRef => ({ id: c.id, line: c.line, gtin: c.gtin, metric: c.metric, measure: c.measure });

function notFound(chartId: string): ChartChangeRefused {
  return new ChartChangeRefused('not_found', `No control chart ${chartId}.`);
}

function baselinePoints(series: readonly SeriesPoint[], window: BaselineWindow, policy: Pick<MonitoringPolicy, 'baselinePoints'>) {
  if ('batches' in window) {
    const named = new Set(window.batches);
    const missing = window.batches.filter((b) => !series.some((p) => p.batchId === b));
    if (missing.length)
      throw new ChartChangeRefused('invalid', `Batch(es) ${missing.join(', ')} are not points of this chart.`, { batches: missing });
    return series.filter((p) => named.has(p.batchId));
  }
  if ('from' in window) {
    const from = series.findIndex((p) => p.batchId === window.from);
    const to = series.findIndex((p) => p.batchId === window.to);
    const missing = [window.from, window.to].filter((_, i) => [from, to][i] === -1);
    if (missing.length)
      throw new ChartChangeRefused('invalid', `Batch(es) ${missing.join(', ')} are not points of this chart.`, { batches: missing });
    if (from > to) throw new ChartChangeRefused('invalid', `Batch ${window.from} comes after batch ${window.to} in the series.`);
    return series.slice(from, to + 1);
  }
  return series.filter((p) => p.n > 0).slice(0, policy.baselinePoints);
}

/**
 * The baseline approval the signer is asked to sign, or why there is none: the chart is already
 * approved (conflict), the window names batches the chart does not hold (invalid), or the window's
 * points cannot make a baseline (conflict, with computeBaseline's message: too few points with units
 * inspected, fewer than the policy's `baselinePoints`; no defect at all; every unit defective).
 */
export async function baselineApprovalRecord(
  db: Queryable,
  chartId: string,
  window: BaselineWindow,
  policy: Pick<MonitoringPolicy, 'baselinePoints'>,
): Promise<{ chart: ChartSummary; record: BaselineApprovalRecord }> {
  const chart = await findChart(db, chartId);
  if (!chart) throw notFound(chartId);
  if (chart.approval)
    throw new ChartChangeRefused(
      'conflict',
      `The baseline of ${chartId} was approved on ${chart.approval.approvedAt} by ${chart.approval.approvedBy.printedName}; it is frozen.`,
    );
  const points = baselinePoints(await chartSeries(db, chart), window, policy);
  const result = computeBaseline(
    points.map((p) => ({ count: p.count, n: p.n })),
    { measure: chart.measure, minPoints: policy.baselinePoints },
  );
  if (!result.ok)
    throw new ChartChangeRefused('conflict', `No baseline can be approved: ${result.problem.message}.`, { code: result.problem.code });
  return {
    chart,
    record: {
      record: 'spc_chart.baseline_approval',
      chart: chartRef(chart),
      rules: chart.rules,
      baseline: result.baseline,
      batches: points.map(({ batchId, lot, gtin, reportId, contentHash, n, count }) => ({
        batchId,
        lot,
        gtin,
        reportId,
        contentHash,
        n,
        count,
      })),
    },
  };
}

/** The rules change the signer is asked to sign; a conflict when the chart already has these rules. */
export async function rulesChangeRecord(
  db: Queryable,
  chartId: string,
  rules: SpcRules,
  reason: string,
): Promise<{ chart: ChartSummary; record: RulesChangeRecord }> {
  const chart = await findChart(db, chartId);
  if (!chart) throw notFound(chartId);
  if (canonicalRecordHash(chart.rules) === canonicalRecordHash(rules))
    throw new ChartChangeRefused('conflict', `${chartId} already has these rules; nothing to change.`);
  return { chart, record: { record: 'spc_chart.rules_change', chart: chartRef(chart), before: chart.rules, after: rules, reason } };
}

async function lockChart(client: PoolClient, chartId: string): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM spc_charts WHERE id = $1 FOR UPDATE', [chartId]);
  if (!rowCount) throw notFound(chartId);
}

function assertSignedRecord(record: unknown, signature: ChangeSignature): void {
  if (canonicalRecordHash(record) !== signature.recordHash)
    throw new ChartChangeRefused('conflict', 'The chart changed while the change was being signed; review it and sign again.');
}

/**
 * The change's ledger row (the signature), its spc_chart_changes row and its audit-trail rows, in
 * the caller's transaction with the chart locked. The ledger row's task is `<chart>.C<seq>` and its
 * deviation column names the chart: the record the signature belongs to.
 */
async function recordChange(
  client: PoolClient,
  chartId: string,
  change: { kind: ChartChange['kind']; before: unknown; after: unknown; reason: string | null },
  signature: ChangeSignature,
): Promise<ChartChange> {
  const { rows: next } = await client.query<{ seq: number }>(
    'SELECT COALESCE(max(seq), 0)::int + 1 AS seq FROM spc_chart_changes WHERE chart_id = $1',
    [chartId],
  );
  const seq = next[0]!.seq;
  const ledger = await appendSignature(client, {
    taskId: `${chartId}.C${seq}`,
    deviationId: chartId,
    signerId: signature.signerId,
    login: signature.login,
    printedName: signature.printedName,
    meaning: signature.meaning,
    signedAt: new Date(signature.signedAt),
    recordHash: signature.recordHash,
    comment: change.reason,
  });
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO spc_chart_changes (chart_id, seq, kind, signer_id, signer_login, printed_name, meaning, reason, record_hash, ledger_id,
                                    before, after, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     RETURNING id::text AS id`,
    [
      chartId,
      seq,
      change.kind,
      signature.signerId,
      ledger.login,
      ledger.printedName,
      ledger.meaning,
      change.reason,
      ledger.recordHash,
      ledger.id,
      change.before === null ? null : JSON.stringify(change.before),
      JSON.stringify(change.after),
      ledger.signedAt,
    ],
  );
  const signed = {
    meaning: ledger.meaning,
    printedName: ledger.printedName,
    recordHash: ledger.recordHash,
    ledgerId: ledger.id,
    ledgerHash: ledger.hash,
  };
  await appendAudit(client, {
    actor: ledger.login,
    action: 'signature.signed',
    entityType: 'spc_chart_change',
    entityId: ledger.taskId,
    after: signed,
    reason: change.reason,
    at: ledger.signedAt,
  });
  await appendAudit(client, {
    actor: ledger.login,
    action: `spc_chart.${change.kind}`,
    entityType: 'spc_chart',
    entityId: chartId,
    before: change.before,
    after: change.after,
    reason: change.reason,
    details: { changeId: rows[0]!.id, seq, signature: signed },
    at: ledger.signedAt,
  });
  return {
    id: rows[0]!.id,
    seq,
    kind: change.kind,
    signer: { login: ledger.login, printedName: ledger.printedName },
    meaning: ledger.meaning,
    reason: change.reason,
    recordHash: ledger.recordHash,
    ledgerId: String(ledger.id),
    before: change.before,
    after: change.after,
    changedAt: ledger.signedAt.toISOString(),
  };
}

/**
 * Freezes the baseline the signer signed (baselineApprovalRecord) and moves the chart to phase II.
 * Refused, with nothing changed, when the record is no longer what was signed.
 */
export async function approveBaseline(
  pool: Pool,
  chartId: string,
  window: BaselineWindow,
  policy: Pick<MonitoringPolicy, 'baselinePoints'>,
  signature: ChangeSignature,
): Promise<{ chart: ChartSummary; change: ChartChange }> {
  return withTransaction(pool, async (client) => {
    await lockChart(client, chartId);
    const { chart, record } = await baselineApprovalRecord(client, chartId, window, policy);
    assertSignedRecord(record, signature);
    const change = await recordChange(
      client,
      chartId,
      {
        kind: 'baseline_approved',
        before: { status: chart.status, kind: null, baseline: null },
        after: { status: 'approved', kind: record.baseline.kind, baseline: record.baseline, batches: record.batches },
        reason: signature.comment ?? null,
      },
      signature,
    );
    await client.query(
      `UPDATE spc_charts SET status = 'approved', kind = $2, baseline = $3, baseline_batches = $4::bigint[], approval_ledger_id = $5,
                             approved_at = $6, updated_at = now()
        WHERE id = $1`,
      [
        chartId,
        record.baseline.kind,
        JSON.stringify(record.baseline),
        record.batches.map((b) => b.batchId),
        change.ledgerId,
        change.changedAt,
      ],
    );
    return { chart: (await findChart(client, chartId))!, change };
  });
}

/** Replaces the chart's rules with the signed ones; they judge every point from the next read on. */
export async function changeRules(
  pool: Pool,
  chartId: string,
  rules: SpcRules,
  reason: string,
  signature: ChangeSignature,
): Promise<{ chart: ChartSummary; change: ChartChange }> {
  return withTransaction(pool, async (client) => {
    await lockChart(client, chartId);
    const { record } = await rulesChangeRecord(client, chartId, rules, reason);
    assertSignedRecord(record, signature);
    const change = await recordChange(
      client,
      chartId,
      { kind: 'rules_changed', before: { rules: record.before }, after: { rules: record.after }, reason },
      signature,
    );
    await client.query('UPDATE spc_charts SET rules = $2, updated_at = now() WHERE id = $1', [chartId, JSON.stringify(rules)]);
    return { chart: (await findChart(client, chartId))!, change };
  });
}
