import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { withCheckDigit } from '../../domain/gs1';
import { TEXT_RULES } from '../../domain/text';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY } from '../epcis/helpers';

/**
 * Every string of the master-data, repository-report and reconciliation requests passes the
 * storable-text rules (domain/text.ts) first: a NUL, another control character or a lone surrogate
 * is refused with 400 naming the field, and the message quotes nothing of the value.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const machine = { 'X-API-Key': CAPTURE_KEY };
const tag = randomUUID().slice(0, 8).toUpperCase();
const gtin = withCheckDigit(`0401235${String(Date.now()).slice(-6)}`);
const product = { gtin, name: 'Text check', unitsPerCase: 10, casesPerPallet: 5, aggregationRequired: true };
const batch = { lot: `T${tag}`, gtin, expiry: '2028-11-30', plannedQuantity: 100, line: 'L1' };

/** The 400's errors, checked to name `path` with the rule's message and to hold nothing unstorable. */
function expectRefused(res: request.Response, path: string, rule: string) {
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.errors).toEqual([{ path, message: rule }]);
}

describe('master data text', () => {
  it('refuses unstorable text in product and batch fields, naming the field', async () => {
    const post = (path: string, body: object) => request(stack.app).post(path).set(machine).send(body);
    expectRefused(await post('/products', { ...product, name: 'Text\u0000check' }), 'name', TEXT_RULES.control);
    expectRefused(await post('/products', { ...product, name: 'Text \ud800 check' }), 'name', TEXT_RULES.surrogate);
    expectRefused(await post('/products', { ...product, gtin: `${gtin}\u0000` }), 'gtin', TEXT_RULES.control);
    expectRefused(await post('/batches', { ...batch, line: 'L\u00011' }), 'line', TEXT_RULES.control);
    expectRefused(await post('/batches', { ...batch, lot: `T${tag}\u001b` }), 'lot', TEXT_RULES.control);
    expectRefused(await post('/batches', { ...batch, lot: `T\udfff${tag}` }), 'lot', TEXT_RULES.surrogate);
    // (and nothing was stored)
    expect((await stack.pool.query('SELECT count(*) FROM batches WHERE lot LIKE $1', [`%${tag}%`])).rows[0].count).toBe('0');
  });

  it('refuses unstorable text in the query string and in a repository report, naming the field', async () => {
    await request(stack.app).post('/products').set(machine).send(product).expect(201);
    await request(stack.app).post('/batches').set(machine).send(batch).expect(201);
    const query = await request(stack.app).get(`/batches/${batch.lot}/reconciliation?gtin=%00${gtin}`).set(machine);
    expectRefused(query, 'gtin', TEXT_RULES.control);
    const report = await request(stack.app)
      .post(`/batches/${batch.lot}/repository-reports`)
      .set(machine)
      .send({ target: 'EMVS', reportedAt: '2026-11-23T09:00:00Z', lot: `${batch.lot}\u0000`, serials: ['A1'] });
    expectRefused(report, 'lot', TEXT_RULES.control);
  });
});
