import request from 'supertest';
import { createMonitoringActivities } from '../../activities/monitoring';
import { PRODUCTION_POLICY } from '../../domain/policy';
import type { DeviationState } from '../../workflows/types';
import { CAPTURE_KEY } from '../epcis/helpers';
import { eventually } from '../helpers/eventually';
import { startStack, startWorker, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser, type TestUser } from '../helpers/users';
import { captureBatch, claimsOf, judged, monitorStatus, uniqueLine, type CapturedBatch } from './helpers';

/**
 * Automated detection by threshold, end to end: small generated batches go in through the API as a
 * line system sends them, the line system says each is complete, and the line's monitor (a workflow
 * started by signal-with-start at the line's first point) opens, links or leaves alone. Production
 * policy (the worker's default): any duplicate serial in a batch crosses its threshold (major).
 */
let stack: TestStack;
let auditor: TestUser & { token: string };
const lineA = uniqueLine('LMA');
const lineB = uniqueLine('LMB');
const lineC = uniqueLine('LMC');
let first: CapturedBatch;
let firstDeviation: string;
let firstReport: string;

const complete = (b: CapturedBatch) =>
  request(stack.app)
    .post(`/batches/${encodeURIComponent(b.lot)}/complete`)
    .query({ gtin: b.gtin })
    .set('X-API-Key', CAPTURE_KEY);

const deviation = async (id: string): Promise<DeviationState> =>
  (await request(stack.app).get(`/deviations/${id}`).set(bearer(auditor.token)).expect(200)).body.deviation;

/** Deviations the read model holds for the lot (every deviation publishes its first version at once). */
const deviationsNaming = async (lot: string) =>
  (await stack.pool.query<{ id: string }>('SELECT id FROM deviations WHERE batches @> ARRAY[$1]::text[]', [lot])).rows.map((r) => r.id);

beforeAll(async () => {
  stack = await startStack({ config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
});
afterAll(async () => {
  await stack.stop();
});

describe('a batch with duplicate serials completed by the line system', () => {
  it('opens exactly one deviation by threshold: source reconciliation, symptom duplicate_serials, the report as evidence', async () => {
    first = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, lineA, { duplicates: 2 });
    const res = await complete(first).expect(200);
    expect(res.body).toMatchObject({ lot: first.lot, gtin: first.gtin, line: lineA, monitor: `monitor-${lineA}` });
    firstReport = res.body.reportId;
    expect(firstReport).toMatch(/^RR-\d+$/);

    const [claim] = await eventually(async () => {
      const claims = await claimsOf(stack.pool, first.batchId);
      return claims.length && claims.every((c) => c.delivered_at) ? claims : undefined;
    });
    expect(await claimsOf(stack.pool, first.batchId)).toHaveLength(1);
    expect(claim).toMatchObject({ signal: 'threshold:duplicate_serial', disposition: 'opened' });
    firstDeviation = claim!.deviation_id;

    const d = await eventually(async () => {
      const res = await request(stack.app).get(`/deviations/${firstDeviation}`).set(bearer(auditor.token));
      return res.status === 200 ? (res.body.deviation as DeviationState) : undefined;
    });
    expect(d).toMatchObject({
      source: 'reconciliation',
      symptom: 'duplicate_serials',
      severity: 'major',
      reportedBy: 'monitoring',
      batches: [first.lot],
      lines: [lineA],
      gtins: [first.gtin],
      detection: {
        key: `${first.batchId}:threshold:duplicate_serial`,
        kind: 'threshold',
        metric: 'duplicate_serial',
        lot: first.lot,
        reportId: firstReport,
        count: 2,
        threshold: { maxCount: 0 },
      },
    });
    expect(d.title).toContain(first.lot);
    expect(d.title).toContain('duplicate serials');
    expect(d.description).toContain(firstReport);
    expect(d.transitions[0]).toMatchObject({ by: 'monitoring', reason: 'deviation opened' });
    expect(await deviationsNaming(first.lot)).toEqual([firstDeviation]);

    // Who opened it, with the signal; and the alert to the people containment alerts.
    const audit = await stack.pool.query('SELECT actor, action, entity_id, after FROM audit_trail WHERE deviation_id = $1 AND actor = $2', [
      firstDeviation,
      'monitoring',
    ]);
    expect(audit.rows).toEqual([
      expect.objectContaining({
        action: 'monitoring.deviation_opened',
        entity_id: `${first.batchId}:threshold:duplicate_serial`,
        after: expect.objectContaining({ signal: 'threshold:duplicate_serial', lot: first.lot, reportId: firstReport }),
      }),
    ]);
    const alerts = await stack.pool.query('SELECT kind, recipients, subject FROM notifications WHERE dedupe_key = $1', [
      `monitoring:${first.batchId}:threshold:duplicate_serial`,
    ]);
    expect(alerts.rows).toEqual([
      {
        kind: 'monitoring_signal',
        recipients: ['role:qa_lead', 'role:production', 'role:it', 'role:qa_approver'],
        subject: expect.stringContaining(firstDeviation),
      },
    ]);
  });

  it('opens nothing more when the batch is completed again and reconciled again', async () => {
    const before = await judged(stack.temporal, lineA, 1);
    const again = await complete(first).expect(200);
    const { rows } = await stack.pool.query<{ completed_at: Date }>('SELECT completed_at FROM batches WHERE id = $1', [first.batchId]);
    expect(new Date(again.body.completedAt)).toEqual(rows[0]!.completed_at);
    expect(again.body.reportId).not.toBe(firstReport);
    // (one point at a time: a point told twice before it is judged is judged once)
    await judged(stack.temporal, lineA, before.evaluated + 1);
    await request(stack.app)
      .post(`/batches/${encodeURIComponent(first.lot)}/reconciliation`)
      .query({ gtin: first.gtin })
      .set('X-API-Key', CAPTURE_KEY)
      .expect(201);
    await judged(stack.temporal, lineA, before.evaluated + 2);

    expect(await claimsOf(stack.pool, first.batchId)).toEqual([
      expect.objectContaining({ signal: 'threshold:duplicate_serial', deviation_id: firstDeviation }),
    ]);
    expect(await deviationsNaming(first.lot)).toEqual([firstDeviation]);
    const alerts = await stack.pool.query('SELECT 1 FROM notifications WHERE dedupe_key LIKE $1', [`monitoring:${first.batchId}:%`]);
    expect(alerts.rowCount).toBe(1);
  });

  it('links a second batch with duplicates on the same line to the open deviation, and opens nothing', async () => {
    const second = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, lineA, { duplicates: 1 });
    await complete(second).expect(200);
    const [claim] = await eventually(async () => {
      const claims = await claimsOf(stack.pool, second.batchId);
      return claims.length && claims.every((c) => c.delivered_at) ? claims : undefined;
    });
    expect(claim).toMatchObject({ signal: 'threshold:duplicate_serial', disposition: 'linked', deviation_id: firstDeviation });

    const d = await eventually(async () => {
      const state = await deviation(firstDeviation);
      return state.monitoringSignals?.length ? state : undefined;
    });
    expect(d.monitoringSignals).toEqual([
      expect.objectContaining({
        key: `${second.batchId}:threshold:duplicate_serial`,
        lot: second.lot,
        line: lineA,
        count: 1,
      }),
    ]);
    expect(await deviationsNaming(second.lot)).toEqual([]);
    const audit = await stack.pool.query('SELECT action FROM audit_trail WHERE entity_id = $1', [
      `${second.batchId}:threshold:duplicate_serial`,
    ]);
    expect(audit.rows).toEqual([{ action: 'monitoring.signal_linked' }]);
  });
});

describe('the same signal judged twice, the worker restarted between', () => {
  it('opens one deviation: the number bound in the first claim', async () => {
    const batch = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, lineB, { duplicates: 1 });
    await stack.worker!.stop();
    // The line's monitor is started and told; no worker runs it yet.
    await complete(batch).expect(200);
    // An attempt of the activity that claimed the signal and then lost its worker: its result never
    // reached Temporal, so the monitor will judge the point again.
    const lost = await createMonitoringActivities(stack.pool, PRODUCTION_POLICY).evaluateBatchPoint({
      line: lineB,
      batchId: batch.batchId,
      at: new Date().toISOString(),
    });
    expect(lost.actions).toEqual([expect.objectContaining({ kind: 'open', signal: 'threshold:duplicate_serial' })]);
    const bound = lost.actions[0]!.deviationId;

    stack.worker = await startWorker(stack.config, stack.pool);
    await judged(stack.temporal, lineB, 1);
    const claims = await eventually(async () => {
      const c = await claimsOf(stack.pool, batch.batchId);
      return c.every((x) => x.delivered_at) ? c : undefined;
    });
    expect(claims).toEqual([expect.objectContaining({ disposition: 'opened', deviation_id: bound })]);
    expect((await deviation(bound)).batches).toEqual([batch.lot]);
    expect(await eventually(async () => ((await deviationsNaming(batch.lot)).length ? deviationsNaming(batch.lot) : undefined))).toEqual([
      bound,
    ]);
    expect((await monitorStatus(stack.temporal, lineB)).failures).toEqual([]);

    // Judged once more now that it was carried out: nothing left to do.
    const after = await createMonitoringActivities(stack.pool, PRODUCTION_POLICY).evaluateBatchPoint({
      line: lineB,
      batchId: batch.batchId,
      at: new Date().toISOString(),
    });
    expect(after).toMatchObject({ lot: batch.lot, signals: ['threshold:duplicate_serial'], actions: [] });
  });
});

describe('in-control batches', () => {
  it('open nothing', async () => {
    const batches = [
      await captureBatch(stack.app, stack.pool, CAPTURE_KEY, lineC),
      await captureBatch(stack.app, stack.pool, CAPTURE_KEY, lineC),
      await captureBatch(stack.app, stack.pool, CAPTURE_KEY, lineC),
    ];
    for (const b of batches) await complete(b).expect(200);
    const status = await judged(stack.temporal, lineC, batches.length);
    expect(status).toMatchObject({ evaluated: 3, actions: [], failures: [], rechecks: [] });
    for (const b of batches) {
      expect(await claimsOf(stack.pool, b.batchId)).toEqual([]);
      expect(await deviationsNaming(b.lot)).toEqual([]);
    }
  });

  it('on a line the policy does not watch, start no monitor', async () => {
    const app = await startStack({
      worker: false,
      config: stack.config,
      policy: { ...PRODUCTION_POLICY, monitoring: { ...PRODUCTION_POLICY.monitoring, lines: ['ELSEWHERE'] } },
    });
    try {
      const line = uniqueLine('LMU');
      const b = await captureBatch(app.app, app.pool, CAPTURE_KEY, line, { duplicates: 1 });
      const res = await request(app.app)
        .post(`/batches/${encodeURIComponent(b.lot)}/complete`)
        .set('X-API-Key', CAPTURE_KEY)
        .expect(200);
      expect(res.body.monitor).toBeNull();
      await expect(monitorStatus(stack.temporal, line)).rejects.toThrow();
    } finally {
      await app.stop();
    }
  });
});

describe('POST /batches/:lot/complete', () => {
  it('answers 404 for an unknown lot and 403 to a person, changing nothing', async () => {
    await request(stack.app).post('/batches/NO-SUCH-LOT-42/complete').set('X-API-Key', CAPTURE_KEY).expect(404);
    const res = await request(stack.app)
      .post(`/batches/${encodeURIComponent(first.lot)}/complete`)
      .set(bearer(auditor.token))
      .expect(403);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
