import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import request from 'supertest';
import type { ApiContext } from '../../api/context';
import { receiveEmvsAlert, startAlertDelivery } from '../../api/services/serialization-alerts';
import { emvsAlertSchema } from '../../domain/emvs';
import { createLogger } from '../../lib/logger';
import type { DeviationState } from '../../workflows/types';
import { CAPTURE_KEY } from '../epcis/helpers';
import { eventually } from '../helpers/eventually';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser, type TestUser } from '../helpers/users';
import { captureBatch, uniqueLine, type CapturedBatch } from '../monitoring/helpers';

/**
 * An alert whose deviation could not be started when it arrived (the API lost Temporal between
 * the commit and the start) is not lost: it is stored with its claim, and a delivery round, which
 * every API process runs, starts the deviation and its regulatory clock later.
 */
let stack: TestStack;
let auditor: TestUser & { token: string };
let batch: CapturedBatch;
let serial: string;

beforeAll(async () => {
  stack = await startStack({ config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
  batch = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, uniqueLine('EMD'), { units: 40 });
  const { rows } = await stack.pool.query<{ serial: string }>(
    `SELECT si.serial FROM serialized_items si
      WHERE si.batch_id = $1 AND si.commissionings > 0
        AND EXISTS (SELECT 1 FROM repository_report_serials r WHERE r.batch_id = si.batch_id AND r.serial = si.serial)
      ORDER BY si.serial LIMIT 1`,
    [batch.batchId],
  );
  serial = rows[0]!.serial;
});
afterAll(async () => {
  await stack.stop();
});

it('starts the deviation and the 24-hour clock of an alert left undelivered, in a later delivery round', async () => {
  // An API process whose Temporal connection is gone: the alert, its claim and its audit row commit all the same.
  const connection = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS });
  const lost = new Client({ connection, namespace: stack.config.TEMPORAL_NAMESPACE });
  await connection.close();
  const log = createLogger('emvs-delivery-test', 'silent');
  const alert = emvsAlertSchema.parse({
    alertId: `FR-${randomBytes(6).toString('hex').toUpperCase()}`,
    alertCode: 'A24',
    productCode: batch.gtin,
    batch: batch.lot,
    serialNumber: serial,
    market: 'FR',
    raisedAt: new Date().toISOString(),
  });
  const received = await receiveEmvsAlert({ config: stack.config, pool: stack.pool, temporal: lost, log }, alert, 'test-connector');
  expect(received.alert).toMatchObject({
    classification: 'suspected_falsification',
    deviation: { disposition: 'opened', delivered: false },
    regulatoryClock: { required: true, startedAt: null },
  });
  const deviationId = received.alert.deviation!.id;
  expect((await request(stack.app).get(`/deviations/${deviationId}`).set(bearer(auditor.token))).status).toBe(404);

  // Another API process's delivery round (rounds take claims left behind; here at once, not after 30 s).
  const ctx: ApiContext = { config: stack.config, pool: stack.pool, temporal: stack.temporal, log };
  const delivery = startAlertDelivery(ctx, { retryMs: 500, leftBehindMs: 0 });
  try {
    const d = await eventually(
      async () => {
        const res = await request(stack.app).get(`/deviations/${deviationId}`).set(bearer(auditor.token));
        const state = res.status === 200 ? (res.body.deviation as DeviationState) : undefined;
        return state?.regulatory.length ? state : undefined;
      },
      60_000,
      250,
    );
    expect(d.regulatory[0]).toMatchObject({ framework: 'eu_fmd', finding: 'suspected_falsified', reportedBy: 'emvs' });
    const view = await eventually(async () => {
      const r = await request(stack.app).get(`/emvs/alerts/${alert.alertId}`).set('X-API-Key', CAPTURE_KEY).expect(200);
      return r.body.regulatoryClock.startedAt ? r.body : undefined;
    });
    expect(view.deviation).toEqual({ id: deviationId, disposition: 'opened', delivered: true });
    // Delivered once: one regulatory step, whatever the rounds did after.
    await new Promise((r) => setTimeout(r, 1500));
    const again = await request(stack.app).get(`/deviations/${deviationId}`).set(bearer(auditor.token)).expect(200);
    expect(again.body.deviation.regulatory).toHaveLength(1);
  } finally {
    await delivery.stop();
  }
});
