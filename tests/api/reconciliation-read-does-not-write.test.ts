import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { withCheckDigit } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';
import { CAPTURE_KEY } from '../epcis/helpers';

/**
 * A reconciliation runs through POST /batches/:lot/reconciliation, which stores its report (201);
 * GET reads the latest stored report and writes nothing, answering 404 with the POST to send when
 * the batch has not been reconciled. A lot in the path that is not a GS1 lot (a NUL) is a 400.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = randomUUID().slice(0, 8).toUpperCase();
const LOT = `R${tag}`;
const gtin = withCheckDigit(`0401234${String(Date.now()).slice(-6)}`);
const machine = { 'X-API-Key': CAPTURE_KEY };
const url = `/batches/${LOT}/reconciliation`;
const reportsStored = async () =>
  Number((await stack.pool.query('SELECT count(*) FROM reconciliation_reports WHERE lot = $1', [LOT])).rows[0].count);

beforeAll(async () => {
  await request(stack.app)
    .post('/products')
    .set(machine)
    .send({ gtin, name: 'Read-only check', unitsPerCase: 10, casesPerPallet: 5, aggregationRequired: true })
    .expect(201);
  await request(stack.app)
    .post('/batches')
    .set(machine)
    .send({ lot: LOT, gtin, expiry: '2028-11-30', plannedQuantity: 100, line: 'L1' })
    .expect(201);
});

describe('batch reconciliation', () => {
  it('GET before any run: 404 naming the POST that runs one, and nothing stored', async () => {
    const auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
    const res = await request(stack.app).get(url).set(bearer(auditor.token)).expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.run).toBe(`POST /batches/${LOT}/reconciliation?gtin=${gtin}`);
    expect(res.body.detail).toContain(res.body.run);
    expect(await reportsStored()).toBe(0);
  });

  it('POST runs one and stores its report (201); GET then reads that report, writing nothing', async () => {
    const lead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
    const auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
    const run = await request(stack.app).post(url).set(bearer(lead.token)).expect(201);
    expect(run.headers.location).toBe(`/batches/${LOT}/reconciliation?gtin=${gtin}`);
    expect(run.body).toMatchObject({ lot: LOT, gtin, reportId: expect.stringMatching(/^RR-\d+$/), discrepancyList: expect.any(Array) });
    expect(await reportsStored()).toBe(1);

    for (let i = 0; i < 3; i++) {
      const read = await request(stack.app).get(url).set(bearer(auditor.token)).expect(200);
      expect(read.body).toEqual(run.body);
    }
    expect(await reportsStored()).toBe(1);

    // A later run (here by a machine client) is what GET gives from then on.
    const again = await request(stack.app).post(url).set(machine).expect(201);
    expect(again.body.reportId).not.toBe(run.body.reportId);
    expect(again.body.contentHash).toBe(run.body.contentHash);
    expect((await request(stack.app).get(url).set(machine).expect(200)).body.reportId).toBe(again.body.reportId);
    expect(await reportsStored()).toBe(2);
  });

  it('is run by no read-only role: an auditor reads reports, and may not store one (403)', async () => {
    const auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
    const before = await reportsStored();
    const res = await request(stack.app).post(url).set(bearer(auditor.token)).expect(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await reportsStored()).toBe(before);
  });

  it('refuses a lot that is not a GS1 lot with 400 naming it (a NUL used to be a 500), and an unknown lot with 404', async () => {
    for (const method of ['get', 'post'] as const) {
      const res = await request(stack.app)[method]('/batches/%00/reconciliation').set(machine).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([{ path: 'lot', message: 'control characters are not allowed' }]);
      await request(stack.app)[method]('/batches/NO-SUCH-LOT/reconciliation').set(machine).expect(404);
    }
    const report = await request(stack.app)
      .post('/batches/%00/repository-reports')
      .set(machine)
      .send({ target: 'EMVS', reportedAt: '2026-11-23T09:00:00Z', serials: [] })
      .expect(400);
    expect(report.body.errors).toEqual([{ path: 'lot', message: 'control characters are not allowed' }]);
  });
});
