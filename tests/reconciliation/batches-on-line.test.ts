import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { formatSgtinUrn, withCheckDigit } from '../../domain/gs1';
import { listBatchesOnLine } from '../../reconciliation';
import { CAPTURE_KEY, epcisDocument } from '../epcis/helpers';
import { startStack, testConfig, type TestStack } from '../helpers/stack';

/**
 * Which batches an effectiveness check looks at: those a line made since CAPA completion, dated by
 * the start of their production (their first commissioning event), not by when their master data
 * arrived. A planned batch registered before the CAPA but made after it counts; one registered after
 * but made before does not; one with nothing commissioned is no evidence and does not count either.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = Date.now().toString(36).toUpperCase().slice(-6);
const line = `EFF-${tag}`;
const gtin = withCheckDigit(`07612346${String(Date.now() % 100000).padStart(5, '0')}`);
const auth = (r: request.Test) => r.set('X-API-Key', CAPTURE_KEY);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

async function batch(lot: string, opts: { registered: Date; commissioned?: Date[]; retracted?: boolean; onLine?: string }): Promise<void> {
  await auth(request(stack.app).post('/batches'))
    .send({ lot, gtin, expiry: '2028-11-30', plannedQuantity: 10, line: opts.onLine ?? line })
    .expect(201);
  // (master data arriving on a given day: the API stamps the time of the request)
  await stack.pool.query('UPDATE batches SET created_at = $1 WHERE lot = $2 AND gtin = $3', [opts.registered, lot, gtin]);
  for (const [i, at] of (opts.commissioned ?? []).entries()) {
    const eventID = `urn:uuid:${randomUUID()}`;
    const commissioning = {
      type: 'ObjectEvent',
      eventID,
      eventTime: at.toISOString(),
      eventTimeZoneOffset: '+00:00',
      action: 'ADD',
      bizStep: 'commissioning',
      epcList: [formatSgtinUrn(gtin, `${lot}S${i}`)],
      ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
    };
    const retraction = {
      ...commissioning,
      eventTime: new Date().toISOString(),
      errorDeclaration: { declarationTime: new Date().toISOString(), reason: 'incorrect_data' },
    };
    const eventList = opts.retracted ? [commissioning, retraction] : [commissioning];
    await auth(request(stack.app).post('/epcis/capture'))
      .set('Content-Type', 'application/ld+json')
      .send(JSON.stringify(epcisDocument(eventList, new Date().toISOString())))
      .expect(202);
  }
}

it('dates a batch by its first live commissioning event, and leaves out batches with none', async () => {
  await auth(request(stack.app).post('/products'))
    .send({ gtin, name: 'Effectiveness line test', unitsPerCase: 10, casesPerPallet: 10 })
    .expect(201);
  const since = daysAgo(3);
  const aStarted = daysAgo(2);
  await batch(`P${tag}A`, { registered: daysAgo(10), commissioned: [daysAgo(1), aStarted] }); // planned ahead, made after: counts
  await batch(`P${tag}B`, { registered: daysAgo(1), commissioned: [daysAgo(5)] }); // registered late, made before: does not
  await batch(`P${tag}C`, { registered: daysAgo(1), commissioned: [daysAgo(0.5)] }); // registered and made after: counts
  await batch(`P${tag}D`, { registered: daysAgo(1) }); // registered after, nothing made: no evidence
  await batch(`P${tag}E`, { registered: daysAgo(10), commissioned: [daysAgo(1)], onLine: `${line}-OTHER` }); // another line
  // Its only commissioning retracted by an error declaration: nothing made after all.
  await batch(`P${tag}F`, { registered: daysAgo(1), commissioned: [daysAgo(1)], retracted: true });

  const found = await listBatchesOnLine(stack.pool, line, since);
  expect(found.map((b) => b.lot)).toEqual([`P${tag}A`, `P${tag}C`]);
  const a = found.find((b) => b.lot === `P${tag}A`)!;
  expect(a.producedFrom).toBe(aStarted.toISOString());
  expect(new Date(a.createdAt).getTime()).toBeLessThan(since.getTime());
});
