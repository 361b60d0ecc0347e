import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { Pool } from 'pg';
import { cbvEventHash } from '../../epcis/event-hash';
import { contentEventId } from '../../epcis/normalise';
import { scratchDatabase, type ScratchDatabase } from '../helpers/scratch-database';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * Events captured without an eventID are stored under their CBV 2.0 event hash; events stored under
 * the former private hash keep working across migration 2000 (up, down, up): found by their old ID,
 * not stored twice when sent again, and retracted by their sender's error declaration naming them
 * by their CBV hash. On a database of its own, since it takes the newest migrations back.
 */

const MIGRATION = '2000_cbv_event_hash';
let db: ScratchDatabase;
let pool: Pool;
let stack: TestStack;

const sgtin = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const observe = (serial: string, hour: number) => ({
  type: 'ObjectEvent',
  eventTime: `2026-11-23T${String(hour).padStart(2, '0')}:00:00.000+01:00`,
  eventTimeZoneOffset: '+01:00',
  epcList: [sgtin(serial)],
  action: 'OBSERVE',
  bizStep: 'inspecting',
  readPoint: { id: 'urn:epc:id:sgln:4012345.00001.0' },
});
const OLD = observe('OLD1', 6);
const OLD_DECLARED = observe('OLD2', 7);
const OLD_ID = contentEventId(OLD);
const OLD_DECLARED_ID = contentEventId(OLD_DECLARED);

const ROOT = path.resolve(__dirname, '..', '..');
/** `npm run migrate` (with `down N`), as an operator runs it. */
function migrateCli(...args: string[]): void {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/migrate.ts'), ...args], {
    env: { ...process.env, DATABASE_URL: db.url },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`migrate ${args.join(' ')} failed: ${run.stderr}${run.stdout}`);
}
/** Undoes this migration and any after it (other teams' numbers may follow). */
const undo = () => migrateCli('down', String(readdirSync(path.join(ROOT, 'migrations')).filter((f) => f >= MIGRATION).length));
const migrate = () => migrateCli();

/** What the product stored before the CBV hash: the event under the SHA-256 of its canonical JSON. */
async function storeAsBefore(event: Record<string, unknown>, id: string, n: number): Promise<void> {
  // (another document than the ones sent below: the same bytes again would be a duplicate document)
  const body = JSON.stringify(epcisDocument([event], '2026-11-22T06:00:00Z'));
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO epcis_documents (sha256, body, bytes, event_count, new_events, captured_by)
     VALUES (encode(sha256(convert_to($1, 'UTF8')), 'hex'), $1, length($1), 1, 1, 'before') RETURNING id`,
    [body],
  );
  await pool.query(
    `INSERT INTO epcis_events (event_id, document_id, event_index, type, action, event_time, event_tz_offset, biz_step, read_point, extra)
     VALUES ($1, $2, 0, 'ObjectEvent', 'OBSERVE', $3, '+01:00', 'inspecting', 'urn:epc:id:sgln:4012345.00001.0', '{}')`,
    [id, rows[0]!.id, event.eventTime],
  );
  expect(n).toBeGreaterThan(0);
}

const eventRows = async () =>
  (
    await pool.query<{ event_id: string; is_declaration: boolean; retracted: boolean }>(
      'SELECT event_id, is_declaration, retracted FROM epcis_events ORDER BY id',
    )
  ).rows;

beforeAll(async () => {
  db = await scratchDatabase('event_hash');
  pool = new Pool({ connectionString: db.url, max: 2 });
  undo();
  await storeAsBefore(OLD, OLD_ID, 1);
  await storeAsBefore(OLD_DECLARED, OLD_DECLARED_ID, 2);
  migrate();
  stack = await startStack({ worker: false, config: testConfig({ DATABASE_URL: db.url, CAPTURE_API_KEY: CAPTURE_KEY }) });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await pool?.end();
  await db?.drop();
});

const captureJson = (events: unknown[], creationDate?: string) =>
  request(stack.app)
    .post('/epcis/capture')
    .set('Content-Type', 'application/ld+json')
    .set('X-API-Key', CAPTURE_KEY)
    .send(JSON.stringify(epcisDocument(events, creationDate)));
const getEvent = (id: string) =>
  request(stack.app)
    .get(`/epcis/events/${encodeURIComponent(id)}`)
    .set('X-API-Key', CAPTURE_KEY);
const eventOf = (body: { epcisBody: { queryResults: { resultsBody: { eventList: Array<Record<string, unknown>> } } } }) =>
  body.epcisBody.queryResults.resultsBody.eventList[0]!;

it('stores an event without eventID under its CBV 2.0 hash, found at /epcis/events/<hash>, and the same event in other spellings once', async () => {
  const event = observe('NEW1', 8);
  const hash = cbvEventHash(event);
  expect((await captureJson([event]).expect(202)).body.newEvents).toBe(1);
  const res = await getEvent(hash).expect(200);
  expect(eventOf(res.body).eventID).toBe(hash);
  expect(res.request.url).toContain('%3Fver%3DCBV2.0');

  // a Digital Link for the URN, a CBV URI for the word, the same instant in UTC: the same event
  const respelled = {
    ...event,
    epcList: ['https://id.example.com/01/04012345111118/21/NEW1'],
    bizStep: 'https://ref.gs1.org/cbv/BizStep-inspecting',
    eventTime: '2026-11-23T07:00:00Z',
  };
  expect((await captureJson([respelled]).expect(202)).body.newEvents).toBe(0);
  // and as XML, which the XML reader turns into the same JSON event
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
    <epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-11-23T06:00:00Z">
      <EPCISBody><EventList><ObjectEvent>
        <eventTime>2026-11-23T08:00:00.000+01:00</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
        <epcList><epc>${sgtin('NEW1')}</epc></epcList><action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:inspecting</bizStep><readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
      </ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>`;
  const asXml = await request(stack.app)
    .post('/epcis/capture')
    .set('Content-Type', 'application/xml')
    .set('X-API-Key', CAPTURE_KEY)
    .send(xml);
  expect(asXml.status).toBe(202);
  expect(asXml.body.newEvents).toBe(0);
  expect((await eventRows()).filter((r) => r.event_id === hash)).toHaveLength(1);
});

it("matches a sender's error declaration naming the event by its CBV hash, and the query gives the original with it", async () => {
  const event = observe('NEW2', 9);
  const hash = cbvEventHash(event);
  await captureJson([event]).expect(202);
  const declaration = {
    ...event,
    eventID: hash,
    errorDeclaration: { declarationTime: '2026-11-24T10:00:00.000Z', reason: 'incorrect_data' },
  };
  expect((await captureJson([declaration]).expect(202)).body.newEvents).toBe(1);
  const found = eventOf((await getEvent(hash).expect(200)).body);
  expect(found.errorDeclaration).toEqual({ declarationTime: '2026-11-24T10:00:00.000Z', reason: 'incorrect_data' });
  const rows = (await eventRows()).filter((r) => r.event_id === hash);
  expect(rows).toEqual([
    { event_id: hash, is_declaration: false, retracted: true },
    { event_id: hash, is_declaration: true, retracted: false },
  ]);
});

it('finds an event stored under its former ID by that ID, and does not store it again when it is sent again', async () => {
  expect(eventOf((await getEvent(OLD_ID).expect(200)).body).eventID).toBe(OLD_ID);
  await getEvent(cbvEventHash(OLD)).expect(404);

  expect((await captureJson([OLD]).expect(202)).body.newEvents).toBe(0);
  const rows = await eventRows();
  expect(rows.filter((r) => [OLD_ID, cbvEventHash(OLD)].includes(r.event_id))).toEqual([
    { event_id: cbvEventHash(OLD), is_declaration: false, retracted: false },
  ]);
  // now known by its CBV hash, and still by its former ID
  expect(eventOf((await getEvent(cbvEventHash(OLD)).expect(200)).body).eventID).toBe(cbvEventHash(OLD));
  expect(eventOf((await getEvent(OLD_ID).expect(200)).body).eventID).toBe(cbvEventHash(OLD));
  const byParameter = await request(stack.app).get('/epcis/events').query({ EQ_eventID: OLD_ID }).set('X-API-Key', CAPTURE_KEY).expect(200);
  expect(byParameter.body.epcisBody.queryResults.resultsBody.eventList).toHaveLength(1);
});

it('retracts an event stored under its former ID when its sender declares it by its CBV hash', async () => {
  const hash = cbvEventHash(OLD_DECLARED);
  const declaration = {
    ...OLD_DECLARED,
    eventID: hash,
    errorDeclaration: { declarationTime: '2026-11-24T11:00:00.000Z', reason: 'did_not_occur' },
  };
  expect((await captureJson([declaration]).expect(202)).body.newEvents).toBe(1);
  const found = eventOf((await getEvent(OLD_DECLARED_ID).expect(200)).body);
  expect(found.errorDeclaration).toEqual({ declarationTime: '2026-11-24T11:00:00.000Z', reason: 'did_not_occur' });
  expect((await eventRows()).filter((r) => r.event_id === hash)).toEqual([
    { event_id: hash, is_declaration: false, retracted: true },
    { event_id: hash, is_declaration: true, retracted: false },
  ]);
});

it('runs migration 2000 down and up again: the former IDs come back, then are remembered again', async () => {
  undo();
  const down = await eventRows();
  expect(down.filter((r) => r.event_id === OLD_ID)).toEqual([{ event_id: OLD_ID, is_declaration: false, retracted: false }]);
  // (the declaration follows its event back to the former ID, so the code before finds both)
  expect(down.filter((r) => r.event_id === OLD_DECLARED_ID).map((r) => r.is_declaration)).toEqual([false, true]);
  const { rows } = await pool.query(`SELECT to_regclass('epcis_event_legacy_ids') AS t`);
  expect(rows[0].t).toBeNull();

  migrate();
  expect((await captureJson([OLD], '2026-11-25T06:00:00Z').expect(202)).body.newEvents).toBe(0);
  expect(eventOf((await getEvent(OLD_ID).expect(200)).body).eventID).toBe(cbvEventHash(OLD));
  expect((await eventRows()).filter((r) => [OLD_ID, cbvEventHash(OLD)].includes(r.event_id))).toHaveLength(1);
}, 60_000);
