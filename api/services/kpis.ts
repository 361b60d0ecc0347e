import { withTransaction, type Pool, type PoolClient } from '../../db/pool';
import { SEVERITIES, type Severity } from '../../domain/deviation';
import { durationMs } from '../../domain/duration';
import type { KpiDurations, KpiRate, KpiReport } from '../../domain/kpis';
import { resolvePolicy, type Policy } from '../../domain/policy';
import { DISCREPANCY_CATEGORIES, type DiscrepancyCategory } from '../../domain/reconciliation-summary';

/**
 * The KPIs of GET /kpis (docs/kpis.md), one query each, all read in one snapshot so that they
 * describe the same moment of data the workflows keep changing. They read the read model
 * (deviations, signoff_tasks), the signature ledger, the notification outbox and the
 * reconciliation reports; never the workflows.
 *
 * Every window is [from, to): `from` included, `to` excluded. What the read model keeps only as
 * it is now is taken as of `to` from the times it records: a deviation's last stage change
 * (updated_at, which for a closed or cancelled one is when it ended), a task's signatures in the
 * ledger. Every query takes the scope filter, a line ($line) and a site's lines ($lines), each
 * NULL when not asked for.
 */

export interface KpiScope {
  from: Date;
  to: Date;
  line: string | null;
  site: string | null;
  /** The lines of the site asked for. */
  siteLines: string[] | null;
}

/** A deviation is in scope when it names the line, and one of the site's lines. */
const deviationInScope = (line: string, lines: string) =>
  `(${line}::text IS NULL OR d.lines @> ARRAY[${line}::text]) AND (${lines}::text[] IS NULL OR d.lines && ${lines}::text[])`;

/** The policy's numbers the KPIs are measured against. */
function targets(policy: Policy): { containmentSeconds: Record<Severity, number>; closureSeconds: number } {
  const containmentSeconds = Object.fromEntries(SEVERITIES.map((s) => [s, resolvePolicy(policy, s).containmentWindowMs / 1000]));
  return { containmentSeconds: containmentSeconds as Record<Severity, number>, closureSeconds: durationMs(policy.closureTarget) / 1000 };
}

const rate = (count: number, of: number): KpiRate => ({ count, of, rate: of > 0 ? count / of : null });

export async function computeKpis(pool: Pool, scope: KpiScope, policy: Policy): Promise<KpiReport> {
  const { containmentSeconds, closureSeconds } = targets(policy);
  return withTransaction(
    pool,
    async (db) => ({
      window: {
        from: scope.from.toISOString(),
        to: scope.to.toISOString(),
        line: scope.line,
        site: scope.site,
        siteLines: scope.siteLines,
      },
      openDeviations: await openDeviations(db, scope),
      containment: { windowSeconds: containmentSeconds, ...(await containment(db, scope, containmentSeconds)) },
      closure: { targetSeconds: closureSeconds, ...(await closure(db, scope, closureSeconds)) },
      overdueSignoffs: await overdueSignoffs(db, scope),
      capaEffectiveness: await capaEffectiveness(db, scope),
      recurrence: await recurrence(db, scope),
      detection: await detection(db, scope),
      discrepancyRates: await discrepancyRates(db, scope),
    }),
    { isolation: 'REPEATABLE READ' },
  );
}

/**
 * Open deviations at `to`: detected before `to`, and not closed or cancelled before `to`. Counted
 * by severity, and by stage when the stage at `to` is known: the deviation is still open and has
 * not changed stage since `to` (for a `to` in the past, the others are counted apart).
 */
async function openDeviations(db: PoolClient, s: KpiScope): Promise<KpiReport['openDeviations']> {
  const { rows } = await db.query<{ stage: string; severity: Severity; n: number; unchanged: number }>(
    `SELECT d.stage, d.severity, count(*)::int AS n,
            count(*) FILTER (WHERE d.status = 'open' AND d.updated_at < $1)::int AS unchanged
       FROM deviations d
      WHERE d.detected_at < $1
        AND NOT (d.status <> 'open' AND d.updated_at < $1)
        AND ${deviationInScope('$2', '$3')}
      GROUP BY d.stage, d.severity`,
    [s.to, s.line, s.siteLines],
  );
  const out: KpiReport['openDeviations'] = {
    total: 0,
    byStage: {},
    stageChangedSince: 0,
    bySeverity: Object.fromEntries(SEVERITIES.map((sev) => [sev, 0])) as Record<Severity, number>,
  };
  for (const r of rows) {
    out.total += r.n;
    out.bySeverity[r.severity] = (out.bySeverity[r.severity] ?? 0) + r.n;
    if (r.unchanged > 0) out.byStage[r.stage] = (out.byStage[r.stage] ?? 0) + r.unchanged;
    out.stageChangedSince += r.n - r.unchanged;
  }
  return out;
}

/**
 * Containment on time. Of the deviations detected in the window (denominator), the share whose
 * containment was confirmed (the first signature, not a rejection, on a containment_verification
 * task, before `to`) at most the policy's containment window for its severity after detection
 * (numerator: the workflow's own rule for "late"). Left out of both: a deviation still inside its
 * window at `to` and not confirmed yet (not judged yet), and one cancelled before `to` without a
 * confirmation (withdrawn, not contained). Time to containment: detection to confirmation, in
 * seconds, median and 90th percentile (interpolated) over the confirmed deviations of the
 * denominator.
 */
async function containment(
  db: PoolClient,
  s: KpiScope,
  windowSeconds: Record<Severity, number>,
): Promise<Omit<KpiReport['containment'], 'windowSeconds'>> {
  const { rows } = await db.query<{ on_time: number; judged: number; contained: number; median: number | null; p90: number | null }>(
    `WITH detected AS (
       SELECT d.detected_at, d.status, d.updated_at, w.seconds,
              (SELECT min(l.signed_at)
                 FROM signoff_tasks t JOIN signature_ledger l ON l.task_id = t.id
                WHERE t.deviation_id = d.id AND t.gate = 'containment_verification'
                  AND l.meaning <> 'rejected' AND l.signed_at < $2) AS contained_at
         FROM deviations d
         JOIN unnest($5::text[], $6::float8[]) AS w(severity, seconds) ON w.severity = d.severity
        WHERE d.detected_at >= $1 AND d.detected_at < $2
          AND ${deviationInScope('$3', '$4')}
     ), judged AS (
       SELECT contained_at, extract(epoch FROM contained_at - detected_at)::float8 AS took, seconds
         FROM detected
        WHERE (contained_at IS NOT NULL OR detected_at + seconds * interval '1 second' <= $2)
          AND NOT (contained_at IS NULL AND status = 'cancelled' AND updated_at < $2)
     )
     SELECT count(*) FILTER (WHERE took <= seconds)::int AS on_time,
            count(*)::int AS judged,
            count(contained_at)::int AS contained,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY took) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY took) AS p90
       FROM judged`,
    [s.from, s.to, s.line, s.siteLines, SEVERITIES, SEVERITIES.map((sev) => windowSeconds[sev])],
  );
  const r = rows[0]!;
  return {
    onTime: rate(r.on_time, r.judged),
    timeToContainment: { count: r.contained, medianSeconds: r.median, p90Seconds: r.p90 },
  };
}

/**
 * Time to closure: of the deviations closed (not cancelled) in the window, the time from detection
 * to closure (the transition to closed), in seconds: median and 90th percentile. Within target:
 * the share of them closed at most the policy's closureTarget after detection.
 */
async function closure(
  db: PoolClient,
  s: KpiScope,
  targetSeconds: number,
): Promise<{ timeToClosure: KpiDurations; withinTarget: KpiRate }> {
  const { rows } = await db.query<{ closed: number; within: number; median: number | null; p90: number | null }>(
    `WITH closed AS (
       SELECT extract(epoch FROM d.updated_at - d.detected_at)::float8 AS took
         FROM deviations d
        WHERE d.status = 'closed' AND d.updated_at >= $1 AND d.updated_at < $2
          AND ${deviationInScope('$3', '$4')}
     )
     SELECT count(*)::int AS closed,
            count(*) FILTER (WHERE took <= $5)::int AS within,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY took) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY took) AS p90
       FROM closed`,
    [s.from, s.to, s.line, s.siteLines, targetSeconds],
  );
  const r = rows[0]!;
  return {
    timeToClosure: { count: r.closed, medianSeconds: r.median, p90Seconds: r.p90 },
    withinTarget: rate(r.within, r.closed),
  };
}

/**
 * Overdue sign-offs at `to`: sign-off tasks created before `to`, due before `to`, and still open
 * at `to` (open now; or signed or rejected, by the last signature the ledger holds for the task,
 * at or after `to`; or cancelled with their deviation at or after `to`). Counted by gate. The due
 * date is the task's own: an approved extension moves the deadline that chases the task, not it.
 */
async function overdueSignoffs(db: PoolClient, s: KpiScope): Promise<KpiReport['overdueSignoffs']> {
  const { rows } = await db.query<{ gate: string; n: number }>(
    `SELECT t.gate, count(*)::int AS n
       FROM signoff_tasks t JOIN deviations d ON d.id = t.deviation_id
      WHERE t.created_at < $1 AND t.due_at < $1
        AND ${deviationInScope('$2', '$3')}
        AND CASE t.status
              WHEN 'open' THEN true
              WHEN 'cancelled' THEN d.updated_at >= $1
              ELSE (SELECT max(l.signed_at) FROM signature_ledger l WHERE l.task_id = t.id) >= $1
            END
      GROUP BY t.gate`,
    [s.to, s.line, s.siteLines],
  );
  return {
    total: rows.reduce((n, r) => n + r.n, 0),
    byGate: Object.fromEntries(rows.map((r) => [r.gate, r.n])),
  };
}

/**
 * CAPA effectiveness at the first check: of the deviations whose first effectiveness judgement
 * fell in the window (denominator), the share judged effective (numerator). A judgement is the
 * verdict of the round's check on data, or QA's decision when the data stayed inconclusive; the
 * inconclusive attempts before it are the same check, waiting for batches. The workflow leaves two
 * traces: an effectiveness_verification task when a round's check is met, an
 * effectiveness_not_met notification when it is not (the investigation reopens). The first of the
 * two is the first judgement; it was "effective" when it is the task.
 */
async function capaEffectiveness(db: PoolClient, s: KpiScope): Promise<KpiRate> {
  const { rows } = await db.query<{ effective: number; judged: number }>(
    `WITH firsts AS (
       SELECT (SELECT min(t.created_at) FROM signoff_tasks t
                WHERE t.deviation_id = d.id AND t.gate = 'effectiveness_verification') AS effective_at,
              (SELECT min(n.created_at) FROM notifications n
                WHERE n.deviation_id = d.id AND n.kind = 'effectiveness_not_met') AS not_met_at
         FROM deviations d
        WHERE ${deviationInScope('$3', '$4')}
     ), judged AS (
       -- (LEAST ignores a NULL: the first of the traces there are)
       SELECT effective_at, LEAST(effective_at, not_met_at) AS judged_at FROM firsts
     )
     SELECT count(*) FILTER (WHERE effective_at = judged_at)::int AS effective, count(*)::int AS judged
       FROM judged
      WHERE judged_at >= $1 AND judged_at < $2`,
    [s.from, s.to, s.line, s.siteLines],
  );
  return rate(rows[0]!.effective, rows[0]!.judged);
}

/**
 * Recurrence rate: of the deviations detected in the window (denominator), the share the workflow
 * found to recur (numerator): at detection it lists the earlier deviations on the same line,
 * product or symptom within the policy's recurrence window, and the read model keeps the list in
 * summary.recurrences.
 */
async function recurrence(db: PoolClient, s: KpiScope): Promise<KpiRate> {
  const { rows } = await db.query<{ recurrences: number; detected: number }>(
    `SELECT count(*) FILTER (WHERE jsonb_typeof(d.summary->'recurrences') = 'array'
                               AND jsonb_array_length(d.summary->'recurrences') > 0)::int AS recurrences,
            count(*)::int AS detected
       FROM deviations d
      WHERE d.detected_at >= $1 AND d.detected_at < $2
        AND ${deviationInScope('$3', '$4')}`,
    [s.from, s.to, s.line, s.siteLines],
  );
  return rate(rows[0]!.recurrences, rows[0]!.detected);
}

/**
 * Automated against manual detection: the deviations detected in the window, by their source.
 * `manual` is a person's; any other source (reconciliation, spc) is a monitor's.
 */
async function detection(db: PoolClient, s: KpiScope): Promise<KpiReport['detection']> {
  const { rows } = await db.query<{ source: string; n: number }>(
    `SELECT d.source, count(*)::int AS n
       FROM deviations d
      WHERE d.detected_at >= $1 AND d.detected_at < $2
        AND ${deviationInScope('$3', '$4')}
      GROUP BY d.source`,
    [s.from, s.to, s.line, s.siteLines],
  );
  const bySource = Object.fromEntries(rows.map((r) => [r.source, r.n]));
  const total = rows.reduce((n, r) => n + r.n, 0);
  const manual = bySource.manual ?? 0;
  return { total, automated: total - manual, manual, bySource };
}

/**
 * Discrepancy rates per line and month: the batches of a line, each in the month (UTC) of its first
 * reconciliation report, when that month's report falls in the window. Each batch counts once,
 * with its latest report generated before `to`, so reconciling a batch again replaces its counts
 * rather than adding to them. Per category: the discrepancies of those reports over the units they
 * found commissioned. Batches without a line are not on any line's trend.
 */
async function discrepancyRates(db: PoolClient, s: KpiScope): Promise<KpiReport['discrepancyRates']> {
  const { rows } = await db.query<{
    line: string;
    month: string;
    category: DiscrepancyCategory;
    batches: number;
    commissioned: number;
    discrepancies: number;
    rate: number | null;
  }>(
    `WITH reports AS (
       SELECT r.id, r.batch_id, r.generated_at, r.summary
         FROM reconciliation_reports r JOIN batches b ON b.id = r.batch_id
        WHERE r.generated_at < $2 AND b.line IS NOT NULL
          AND ($3::text IS NULL OR b.line = $3) AND ($4::text[] IS NULL OR b.line = ANY($4::text[]))
     ), latest AS (
       SELECT DISTINCT ON (batch_id) batch_id, summary, min(generated_at) OVER (PARTITION BY batch_id) AS first_at
         FROM reports
        ORDER BY batch_id, generated_at DESC, id DESC
     )
     SELECT b.line, to_char(l.first_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, c.category,
            count(*)::int AS batches,
            sum(COALESCE((l.summary->'balance'->>'commissioned')::bigint, 0))::float8 AS commissioned,
            sum(COALESCE((l.summary->'discrepancies'->>c.category)::bigint, 0))::float8 AS discrepancies,
            sum(COALESCE((l.summary->'discrepancies'->>c.category)::bigint, 0))::float8
              / NULLIF(sum(COALESCE((l.summary->'balance'->>'commissioned')::bigint, 0)), 0)::float8 AS rate
       FROM latest l
       JOIN batches b ON b.id = l.batch_id
      CROSS JOIN unnest($5::text[]) AS c(category)
      WHERE l.first_at >= $1
      GROUP BY b.line, month, c.category
      ORDER BY b.line, month`,
    [s.from, s.to, s.line, s.siteLines, DISCREPANCY_CATEGORIES],
  );
  const out = new Map<string, KpiReport['discrepancyRates'][number]>();
  for (const r of rows) {
    const key = JSON.stringify([r.line, r.month]);
    let point = out.get(key);
    if (!point) {
      point = {
        line: r.line,
        month: r.month,
        batches: r.batches,
        commissioned: r.commissioned,
        discrepancies: {} as Record<DiscrepancyCategory, number>,
        rates: {} as Record<DiscrepancyCategory, number | null>,
      };
      out.set(key, point);
    }
    point.discrepancies[r.category] = r.discrepancies;
    point.rates[r.category] = r.rate;
  }
  return [...out.values()];
}
