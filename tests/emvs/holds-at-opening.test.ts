import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { verifyAuditTrail } from '../../audit/trail';
import { CAPTURE_KEY } from '../epcis/helpers';
import { ownDatabase } from '../faults/helpers';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { captureBatch, uniqueLine, type CapturedBatch } from '../monitoring/helpers';

/**
 * A deviation an EMVS alert opens holds its batch before the alert is answered, as one opened
 * through POST /deviations does: with no worker running, the hold and its audit row are there.
 * (The workflow's containment finds that hold when a worker takes the deviation up:
 * tests/lifecycle/holds-at-opening.test.ts.) A database of its own: the suites that count the
 * alerts of the shared one, to show a refused request wrote none, run beside this one.
 */
let db: Awaited<ReturnType<typeof ownDatabase>>;
let stack: TestStack;
let batch: CapturedBatch;

beforeAll(async () => {
  db = await ownDatabase('emvs_holds', 940_000);
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, DATABASE_URL: db.url }) });
  batch = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, uniqueLine('EHO'), { units: 20 });
});
afterAll(async () => {
  await stack?.stop();
  await db?.drop();
});

it('an alert that opens a deviation is answered with the batch already on hold, no worker running', async () => {
  const alert = {
    alertId: `DE-${randomBytes(6).toString('hex').toUpperCase()}`,
    alertCode: 'A2',
    productCode: batch.gtin,
    batch: batch.lot,
    serialNumber: 'NEVERMADE01',
    market: 'DE',
    raisedAt: new Date().toISOString(),
  };
  const res = await request(stack.app).post('/emvs/alerts').set('X-API-Key', CAPTURE_KEY).send(alert).expect(201);
  expect(res.body).toMatchObject({ classification: 'mah_error', deviation: { disposition: 'opened', delivered: true } });
  const deviationId = res.body.deviation.id as string;

  const holds = await stack.pool.query('SELECT lot, placed_by FROM holds WHERE deviation_id = $1', [deviationId]);
  expect(holds.rows).toEqual([{ lot: batch.lot, placed_by: 'system' }]);
  const audits = await stack.pool.query(`SELECT entity_id AS lot FROM audit_trail WHERE deviation_id = $1 AND action = 'hold.placed'`, [
    deviationId,
  ]);
  expect(audits.rows).toEqual([{ lot: batch.lot }]);

  // The same alert again: the same deviation, and still one hold.
  await request(stack.app).post('/emvs/alerts').set('X-API-Key', CAPTURE_KEY).send(alert).expect(200);
  expect((await stack.pool.query('SELECT count(*)::int AS n FROM holds WHERE deviation_id = $1', [deviationId])).rows[0].n).toBe(1);
  expect((await verifyAuditTrail(stack.pool)).ok).toBe(true);
});
