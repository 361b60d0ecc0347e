import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { withCheckDigit, formatSgtinUrn } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, createApiKey, signedInUser } from '../helpers/users';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * Who may capture: machine clients (an integration API key, or the configured shared key) and the
 * production role (packaging-line operators, signed in). Master data, repository reports and error
 * declarations stay with integration clients. Every other role is refused, and a refused capture
 * stores nothing.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = `A${Date.now().toString(36).toUpperCase()}`;
const gtin = withCheckDigit('0765432200001');
const document = (id: string) =>
  JSON.stringify(
    epcisDocument([
      {
        type: 'ObjectEvent',
        eventID: id,
        eventTime: '2026-11-23T06:00:00Z',
        eventTimeZoneOffset: '+00:00',
        action: 'ADD',
        bizStep: 'commissioning',
        epcList: [formatSgtinUrn(gtin, `${tag}${id.slice(-4)}`)],
        ilmd: { 'cbvmda:lotNumber': `L${tag}`, 'cbvmda:itemExpirationDate': '2028-11-30' },
      },
    ]),
  );
const capture = (headers: Record<string, string>, id = `urn:uuid:${randomUUID()}`) =>
  request(stack.app).post('/epcis/capture').set(headers).set('Content-Type', 'application/ld+json').send(document(id));
const capturedBy = async (id: string) =>
  (
    await stack.pool.query<{ captured_by: string }>(
      'SELECT d.captured_by FROM epcis_documents d JOIN epcis_events e ON e.document_id = d.id WHERE e.event_id = $1',
      [id],
    )
  ).rows.map((r) => r.captured_by);

describe('capture access', () => {
  it('takes a document from a signed-in production operator and records who captured it', async () => {
    const operator = await signedInUser(stack.app, stack.pool, { roles: ['production'] });
    const id = `urn:uuid:${randomUUID()}`;
    await capture(bearer(operator.token), id).expect(202);
    expect(await capturedBy(id)).toEqual([operator.login]);
  });

  it('leaves to integration clients what decides findings about the lines: master data, repository reports, error declarations', async () => {
    const operator = await signedInUser(stack.app, stack.pool, { roles: ['production'] });
    const product = { gtin, name: 'Access check', unitsPerCase: 10, casesPerPallet: 5, aggregationRequired: true };
    await request(stack.app).post('/products').set(bearer(operator.token)).send(product).expect(403);
    await request(stack.app)
      .post(`/batches/L${tag}/repository-reports`)
      .set(bearer(operator.token))
      .send({ target: 'EMVS', reportedAt: '2026-11-23T09:00:00Z', serials: [] })
      .expect(403);

    // An event captured by the line, then an operator's attempt to retract it: refused whole, nothing stored.
    const id = `urn:uuid:${randomUUID()}`;
    await capture({ 'X-API-Key': CAPTURE_KEY }, id).expect(202);
    const event = JSON.parse(document(id)).epcisBody.eventList[0];
    const retraction = JSON.parse(document(id));
    retraction.epcisBody.eventList = [
      { ...event, errorDeclaration: { declarationTime: '2026-11-23T07:00:00Z', reason: 'incorrect_data' } },
    ];
    const refused = await request(stack.app)
      .post('/epcis/capture')
      .set(bearer(operator.token))
      .set('Content-Type', 'application/ld+json')
      .send(JSON.stringify(retraction))
      .expect(400);
    expect(refused.body.errors).toEqual([
      { eventIndex: 0, field: 'errorDeclaration', reason: expect.stringContaining('only an integration client') },
    ]);
    const retracted = async () =>
      (await stack.pool.query('SELECT retracted FROM epcis_events WHERE event_id = $1 AND NOT is_declaration', [id])).rows;
    expect(await retracted()).toEqual([{ retracted: false }]);
    // The same declaration from an integration client retracts the event.
    const key = await createApiKey(stack.pool, { roles: ['integration'] });
    await request(stack.app)
      .post('/epcis/capture')
      .set('X-API-Key', key.key)
      .set('Content-Type', 'application/ld+json')
      .send(JSON.stringify(retraction))
      .expect(202);
    expect(await retracted()).toEqual([{ retracted: true }]);
  });

  it('takes a document from an integration API key and from the configured shared key', async () => {
    const key = await createApiKey(stack.pool, { roles: ['integration'] });
    const byKey = `urn:uuid:${randomUUID()}`;
    await capture({ 'X-API-Key': key.key }, byKey).expect(202);
    expect((await capturedBy(byKey))[0]).toMatch(/^api-key:/);
    const byShared = `urn:uuid:${randomUUID()}`;
    await capture({ 'X-API-Key': CAPTURE_KEY }, byShared).expect(202);
    expect(await capturedBy(byShared)).toEqual(['api-key:capture']);
  });

  it('refuses every other role (403) and anonymous callers (401), storing nothing', async () => {
    for (const role of ['qa_lead', 'qa_approver', 'investigator', 'auditor', 'admin'] as const) {
      const person = await signedInUser(stack.app, stack.pool, { roles: [role] });
      const id = `urn:uuid:${randomUUID()}`;
      const res = await capture(bearer(person.token), id).expect(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await capturedBy(id)).toEqual([]);
      await request(stack.app)
        .post('/batches')
        .set(bearer(person.token))
        .send({ lot: `L${tag}${role}`, gtin, expiry: '2028-11-30', plannedQuantity: 1, line: 'L1' })
        .expect(403);
    }
    const monitoring = await createApiKey(stack.pool, { roles: ['auditor'] });
    await capture({ 'X-API-Key': monitoring.key }).expect(403);
    await capture({}).expect(401);
  });
});
