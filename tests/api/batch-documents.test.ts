import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { formatSsccUrn, withCheckDigit } from '../../domain/gs1';
import { CAPTURE_KEY, epcisDocument } from '../epcis/helpers';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * GET /batches/:lot/documents: the EPCIS documents captured for a batch, newest first and paged,
 * after real captures through POST /epcis/capture: who sent each, when, its digest and counts,
 * how many of its events name the batch and how many of those were retracted since; a document
 * naming only other batches is not listed, nor is one that only repeated events already captured.
 */
let stack: TestStack;
let auditor: Record<string, string>;
let production: { login: string; token: string };
const machine = { 'X-API-Key': CAPTURE_KEY };

const tag = randomBytes(4).toString('hex').toUpperCase();
const itemReference = String(randomInt(10_000, 99_999));
const gtin = withCheckDigit(`04012345${itemReference}`);
const LOT = `D${tag}`;
const OTHER_LOT = `E${tag}`;
const sgtin = (i: number) => `urn:epc:id:sgtin:4012345.0${itemReference}.${tag}${i}`;
const caseSscc = formatSsccUrn(withCheckDigit(`0401234599${String(randomInt(0, 9_999_999)).padStart(7, '0')}`));
const commissioning = (n: number, lot: string, units: string[]) => ({
  type: 'ObjectEvent',
  eventID: `urn:uuid:${tag}-c${n}`,
  eventTime: `2026-11-23T06:0${n}:00Z`,
  eventTimeZoneOffset: '+00:00',
  action: 'ADD',
  bizStep: 'commissioning',
  epcList: units,
  ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
});
const packing = {
  type: 'AggregationEvent',
  eventID: `urn:uuid:${tag}-p`,
  eventTime: '2026-11-23T06:09:00Z',
  eventTimeZoneOffset: '+00:00',
  action: 'ADD',
  bizStep: 'packing',
  parentID: caseSscc,
  childEPCs: [sgtin(1), sgtin(2), sgtin(3)],
};

interface Captured {
  captureID: string;
  createdAt: string;
  documentSha256: string;
  events: number;
  newEvents: number;
  bytes: number;
}
async function capture(events: unknown[], as: Record<string, string>): Promise<Captured> {
  const body = JSON.stringify(epcisDocument(events, new Date().toISOString()));
  const res = await request(stack.app).post('/epcis/capture').set(as).set('Content-Type', 'application/ld+json').send(body).expect(202);
  return { ...(res.body as Omit<Captured, 'bytes'>), bytes: Buffer.byteLength(body) };
}

/** What the list says of a capture, given what capture answered. */
const listed = (c: Captured, capturedBy: string, counts: { batchEvents: number; retracted?: number; retractions?: number }) => ({
  captureId: c.captureID,
  capturedAt: c.createdAt,
  capturedBy,
  sha256: c.documentSha256,
  bytes: c.bytes,
  events: c.events,
  newEvents: c.newEvents,
  batchEvents: counts.batchEvents,
  retracted: counts.retracted ?? 0,
  retractions: counts.retractions ?? 0,
});

const documentsOf = (lot: string, query: Record<string, string | number> = {}, as = auditor) =>
  request(stack.app)
    .get(`/batches/${encodeURIComponent(lot)}/documents`)
    .set(as)
    .query(query);

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  auditor = bearer((await signedInUser(stack.app, stack.pool, { roles: ['auditor'] })).token);
  production = await signedInUser(stack.app, stack.pool, { roles: ['production'] });
  await request(stack.app)
    .post('/products')
    .set(machine)
    .send({ gtin, name: 'Documents list', unitsPerCase: 10, casesPerPallet: 5, aggregationRequired: true })
    .expect(201);
  await request(stack.app)
    .post('/batches')
    .set(machine)
    .send({ lot: LOT, gtin, expiry: '2028-11-30', plannedQuantity: 100, line: `L${tag}` })
    .expect(201);
});
afterAll(async () => {
  await stack.stop();
});

describe('GET /batches/:lot/documents', () => {
  it('lists no document before any capture', async () => {
    const res = await documentsOf(LOT).expect(200);
    expect(res.body).toEqual({ lot: LOT, gtin, items: [], total: 0, limit: 20, offset: 0 });
  });

  it('lists the documents that brought events of the batch, newest first, with who sent each, its digest and counts', async () => {
    const first = await capture([commissioning(1, LOT, [sgtin(1), sgtin(2)])], machine);
    // A line operator's file: one unit into this batch, one into another, and the packing of the case.
    const second = await capture(
      [commissioning(2, LOT, [sgtin(3)]), commissioning(3, OTHER_LOT, [sgtin(4)]), packing],
      bearer(production.token),
    );
    // Neither names the batch anew: a document of the other batch only, and one repeating an event already captured.
    const other = await capture([commissioning(4, OTHER_LOT, [sgtin(5)])], machine);
    const repeated = await capture([commissioning(2, LOT, [sgtin(3)])], machine);
    expect(repeated).toMatchObject({ events: 1, newEvents: 0 });

    const res = await documentsOf(LOT).expect(200);
    expect(res.body).toEqual({
      lot: LOT,
      gtin,
      items: [listed(second, production.login, { batchEvents: 1 }), listed(first, 'api-key:capture', { batchEvents: 1 })],
      total: 2,
      limit: 20,
      offset: 0,
    });
    expect(second).toMatchObject({ events: 3, newEvents: 3 });

    const otherBatch = await documentsOf(OTHER_LOT).expect(200);
    expect(otherBatch.body.items.map((d: { captureId: string }) => d.captureId)).toEqual([other.captureID, second.captureID]);
    expect(otherBatch.body.total).toBe(2);
  });

  it('shows a retraction: the document declaring the error, and the retracted event on the document that brought it', async () => {
    const before = (await documentsOf(LOT).expect(200)).body.items as Array<{ captureId: string }>;
    const declaration = await capture(
      [
        {
          ...commissioning(1, LOT, [sgtin(1), sgtin(2)]),
          errorDeclaration: { declarationTime: new Date().toISOString(), reason: 'incorrect_data' },
        },
      ],
      machine,
    );
    const res = await documentsOf(LOT).expect(200);
    expect(res.body.total).toBe(3);
    expect(res.body.items.map((d: { captureId: string }) => d.captureId)).toEqual([
      declaration.captureID,
      ...before.map((d) => d.captureId),
    ]);
    expect(res.body.items[0]).toEqual(listed(declaration, 'api-key:capture', { batchEvents: 0, retractions: 1 }));
    expect(res.body.items[2]).toMatchObject({ captureId: before[1]!.captureId, batchEvents: 1, retracted: 1 });
  });

  it('pages: every page carries the total, and a page past the end is empty but still counts', async () => {
    const all = ((await documentsOf(LOT).expect(200)).body.items as Array<{ captureId: string }>).map((d) => d.captureId);
    expect(all).toHaveLength(3);
    const first = await documentsOf(LOT, { limit: 2 }).expect(200);
    const second = await documentsOf(LOT, { limit: 2, offset: 2 }).expect(200);
    expect(first.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(second.body).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect([...first.body.items, ...second.body.items].map((d: { captureId: string }) => d.captureId)).toEqual(all);
    expect((await documentsOf(LOT, { limit: 2, offset: 3 }).expect(200)).body).toEqual({
      lot: LOT,
      gtin,
      items: [],
      total: 3,
      limit: 2,
      offset: 3,
    });
  });

  it('is read by every reader role and machine clients, not anonymously', async () => {
    const lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
    for (const as of [lead, machine, bearer(production.token)]) expect((await documentsOf(LOT, {}, as).expect(200)).body.total).toBe(3);
    const anonymous = await request(stack.app).get(`/batches/${LOT}/documents`).expect(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 404 problem+json for an unknown lot, 400 for a malformed lot or query, 409 for a lot two products share', async () => {
    const unknown = await documentsOf(`NOSUCH${tag}`).expect(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(unknown.body.detail).toContain(`NOSUCH${tag}`);
    expect((await documentsOf(LOT, { gtin: withCheckDigit('0401234599999') }).expect(404)).body.status).toBe(404);

    for (const lot of ['BAD LOT', 'x'.repeat(21), 'a\u0000b']) {
      const res = await documentsOf(lot).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['lot']);
    }
    const badQueries: Array<[Record<string, string>, string]> = [
      [{ limit: '0' }, 'limit'],
      [{ limit: '101' }, 'limit'],
      [{ offset: '-1' }, 'offset'],
      [{ gtin: '1234' }, 'gtin'],
    ];
    for (const [query, path] of badQueries) {
      const res = await documentsOf(LOT, query).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    }
    await documentsOf(LOT, { page: '2' }).expect(400);

    // The same lot for a second product: which batch is meant must be said.
    const otherGtin = withCheckDigit(`04012346${itemReference}`);
    await request(stack.app)
      .post('/batches')
      .set(machine)
      .send({ lot: LOT, gtin: otherGtin, expiry: '2028-11-30', plannedQuantity: 100, line: `L${tag}` })
      .expect(201);
    const ambiguous = await documentsOf(LOT).expect(409);
    expect(ambiguous.body.gtins).toEqual([gtin, otherGtin].sort());
    expect((await documentsOf(LOT, { gtin }).expect(200)).body.total).toBe(3);
    expect((await documentsOf(LOT, { gtin: otherGtin }).expect(200)).body).toMatchObject({ gtin: otherGtin, items: [], total: 0 });
  });
});
