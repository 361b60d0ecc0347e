import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { chartDetailResponseSchema } from '../../api/routes/spc';
import { tellLineMonitor } from '../../api/services/master-data';
import { PRODUCTION_POLICY } from '../../domain/policy';
import { createLogger } from '../../lib/logger';
import { chartIdOf } from '../../monitoring/charts';
import { findBatch } from '../../reconciliation/batches';
import type { DeviationState } from '../../workflows/types';
import { eventually } from '../helpers/eventually';
import { startStack, type TestStack } from '../helpers/stack';
import { bearer, signedInUser, type TestUser } from '../helpers/users';
import { judged, uniqueLine } from './helpers';

/**
 * Detection by control chart: a line's aggregation error chart with its baseline approved by QA, then
 * the line's monitor judging each new point against the chart's rules.
 *
 * The points are written straight into batch_metrics, as reconciliation writes them, and the monitor
 * is told of each as the API tells it (tellLineMonitor): generating and reconciling 85 batches of
 * 100,000 units would take minutes and test nothing more here (reconciliation's points are tested in
 * tests/reconciliation). 100,000 units a batch and about 50 aggregation errors keep every point under
 * the policy's 0.1 % threshold, so only the chart speaks.
 */
const N = 100_000;
/** Around 5 per 10,000, a little less dispersed than Poisson. */
const IN_CONTROL = (i: number) => 50 + [-6, 6, -3, 3, 0][i % 5]!;
/** The planted shift: 9 per 10,000, far beyond the upper limit (about 7 per 10,000) yet under the threshold. */
const SHIFTED = 90;

let stack: TestStack;
let qaHead: TestUser & { token: string };
let auditor: TestUser & { token: string };
const t0 = Date.parse('2026-02-02T06:00:00Z');
let sequence = 0;

async function addPoint(line: string, gtin: string, aggregationErrors: number): Promise<{ batchId: string; lot: string }> {
  const lot = `Q${randomBytes(4).toString('hex').toUpperCase()}`;
  const { rows } = await stack.pool.query<{ id: string }>(
    `INSERT INTO batches (gtin, lot, line, status, completed_at) VALUES ($1, $2, $3, 'released', now()) RETURNING id::text`,
    [gtin, lot, line],
  );
  const batchId = rows[0]!.id;
  const reportId = `REC-${lot}`;
  const hash = randomBytes(32).toString('hex');
  await stack.pool.query(
    `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary) VALUES ($1, $2, $3, $4, $5, '{}')`,
    [reportId, batchId, lot, gtin, hash],
  );
  const at = new Date(t0 + sequence++ * 60_000);
  await stack.pool.query(
    `INSERT INTO batch_metrics (batch_id, line, gtin, lot, report_id, content_hash, commissioned, packed, rejected, sampled, destroyed,
                                unaccounted_units, duplicate_serial, aggregation_error, missing_report, lost_packaging, unaccounted,
                                first_recorded_at, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, 0, 0, 0, 0, $8, 0, 0, 0, $9, $9)`,
    [batchId, line, gtin, lot, reportId, hash, N, aggregationErrors, at],
  );
  const found = await findBatch(stack.pool, lot, gtin);
  if (!('found' in found)) throw new Error(`batch ${lot} not found`);
  await tellLineMonitor(
    { config: stack.config, pool: stack.pool, temporal: stack.temporal, log: createLogger('test', 'silent'), policy: PRODUCTION_POLICY },
    found.found,
    reportId,
  );
  return { batchId, lot };
}

/** 25 in-control points, judged in phase I (nothing), then the line chart's baseline approved by the head of QA. */
async function approvedLine(): Promise<{ line: string; gtin: string; chartId: string }> {
  const line = uniqueLine('LMS');
  const gtin = `0950601${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
  for (let i = 0; i < 25; i++) await addPoint(line, gtin, IN_CONTROL(i));
  await judged(stack.temporal, line, 25);
  const chartId = chartIdOf(line, null, 'aggregation_error');
  await request(stack.app)
    .post(`/spc/charts/${encodeURIComponent(chartId)}/baseline`)
    .set(bearer(qaHead.token))
    .send({ meaning: 'approved', login: qaHead.login, password: qaHead.password })
    .expect(201);
  return { line, gtin, chartId };
}

const monitoringClaims = async (line: string) =>
  (
    await stack.pool.query<{ batch_id: string; signal: string; disposition: string; deviation_id: string }>(
      'SELECT batch_id::text, signal, disposition, deviation_id FROM monitoring_signals WHERE line = $1 ORDER BY claimed_at, signal',
      [line],
    )
  ).rows;

beforeAll(async () => {
  stack = await startStack();
  [qaHead, auditor] = await Promise.all([
    signedInUser(stack.app, stack.pool, { roles: ['qa_head'] }),
    signedInUser(stack.app, stack.pool, { roles: ['auditor'] }),
  ]);
});
afterAll(async () => {
  await stack.stop();
});

it('opens nothing for 50 in-control points, the baseline approved after the first 25', async () => {
  const { line, gtin } = await approvedLine();
  for (let i = 25; i < 50; i++) await addPoint(line, gtin, IN_CONTROL(i));
  const status = await judged(stack.temporal, line, 50);
  expect(status).toMatchObject({ failures: [], actions: [] });
  expect(await monitoringClaims(line)).toEqual([]);
});

it('opens exactly one deviation for a shift planted from batch 31, naming the rule and the first violating batch', async () => {
  const { line, gtin, chartId } = await approvedLine();
  for (let i = 25; i < 30; i++) await addPoint(line, gtin, IN_CONTROL(i));
  const shifted: Array<{ batchId: string; lot: string }> = [];
  for (let i = 30; i < 35; i++) shifted.push(await addPoint(line, gtin, SHIFTED));
  await judged(stack.temporal, line, 35);

  const claims = await monitoringClaims(line);
  const opened = claims.filter((c) => c.disposition === 'opened');
  expect(opened).toEqual([
    { batch_id: shifted[0]!.batchId, signal: `rule:${chartId}:beyond_limit`, disposition: 'opened', deviation_id: expect.any(String) },
  ]);
  const id = opened[0]!.deviation_id;
  // Every later point of the shift (beyond the limit, and completing the zone rules' patterns too) is a recurrence of the same deviation.
  const linked = claims.filter((c) => c.disposition === 'linked');
  expect([...new Set(linked.map((c) => c.batch_id))]).toEqual(shifted.slice(1).map((s) => s.batchId));
  expect(claims.every((c) => c.deviation_id === id)).toBe(true);

  const d = await eventually(async () => {
    const res = await request(stack.app).get(`/deviations/${id}`).set(bearer(auditor.token));
    const state = res.status === 200 ? (res.body.deviation as DeviationState) : undefined;
    return state && (state.monitoringSignals?.length ?? 0) === linked.length ? state : undefined;
  });
  expect(d).toMatchObject({
    source: 'spc',
    symptom: 'aggregation_error',
    severity: PRODUCTION_POLICY.monitoring.ruleViolationSeverity,
    batches: [shifted[0]!.lot],
    detection: {
      kind: 'rule',
      signal: `rule:${chartId}:beyond_limit`,
      lot: shifted[0]!.lot,
      rule: { chartId, rule: 'beyond_limit', ruleNumber: 1, point: 30, points: [expect.objectContaining({ lot: shifted[0]!.lot })] },
    },
  });
  expect(d.title).toContain(shifted[0]!.lot);
  expect(d.title).toContain('rule 1');
  expect(d.description).toContain(chartId);
  expect(d.description).toContain(d.detection!.rule!.description);
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM deviations WHERE lines @> ARRAY[$1]::text[]', [line]);
  expect(rows[0].n).toBe(1);

  // The chart names, at each violation, the deviation it opened or was linked to: a reader goes from the chart to the deviation.
  // (The deviation reconciles its batch, shifted[0], again, perhaps already: with no events captured for it, that point is then
  // recorded with no units and leaves the chart. So the points after it, recurrences linked to the deviation, are the ones named.)
  const chart = chartDetailResponseSchema.parse(
    (
      await request(stack.app)
        .get(`/spc/charts/${encodeURIComponent(chartId)}`)
        .set(bearer(auditor.token))
        .expect(200)
    ).body,
  );
  const claimed = new Map(claims.map((c) => [`${c.batch_id}|${c.signal}`, c.deviation_id]));
  for (const v of chart.violations) expect(v.deviationId).toBe(claimed.get(`${v.batchId}|rule:${chartId}:${v.rule}`) ?? null);
  const recurrences = chart.violations.filter((v) => shifted.slice(1).some((s) => s.batchId === v.batchId));
  expect(recurrences.map((v) => [v.lot, v.rule])).toEqual(expect.arrayContaining(shifted.slice(1).map((s) => [s.lot, 'beyond_limit'])));
  expect(recurrences.every((v) => v.deviationId === id)).toBe(true);
});
