import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { cbvValue } from '../../epcis/normalise';
import { cbvEventHash, contextPrefixes } from '../../epcis/event-hash';
import { CAPTURE_KEY, exampleDocuments, FIXTURES, officialValidator } from '../epcis/helpers';
import { scratchDatabase, type ScratchDatabase } from '../helpers/scratch-database';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';

/**
 * Every event of the standard's examples and of the OpenEPCIS documents, captured through the API,
 * comes back from the query interface as a valid EPCISQueryDocument (the official JSON Schema)
 * holding the same event: the same fields and values, with only the normalisations the
 * documentation lists (identifiers grouped within a list, CBV values as bare words, the time in its
 * own offset, recordTime the capture's).
 */

/** Documents the official schema refuses, so capture refuses them whole (tests/epcis/conformance.test.ts). */
const REFUSED = new Set([
  'openepcis/Documents/AggregationEvent_with_persistentDisposition.json',
  'openepcis/Documents/SensorData_with_combined_events.json',
  'openepcis/Documents/TransactionEvent_with_userExtensions.json',
]);

type Json = Record<string, unknown>;

const documents = exampleDocuments().filter((d) => !REFUSED.has(d));
/** Every event captured, by eventID (several documents name the same event), and the declarations retracting them. */
const originals = new Map<string, Json[]>();
const declarations = new Map<string, unknown[]>();
const contexts = new Map<string, unknown>();

// (read when the file loads: the test table is made of the events)
const texts = documents.map((file) => [file, readFileSync(path.join(FIXTURES, file), 'utf8')] as const);
for (const [, text] of texts) {
  const doc = JSON.parse(text) as Json;
  const body = doc.epcisBody as { eventList?: Json[]; queryResults?: { resultsBody: { eventList: Json[] } } };
  for (const event of body.eventList ?? body.queryResults?.resultsBody.eventList ?? []) {
    // (capture streams the events, so it knows the document's @context prefixes only when the
    // context comes before the event list: Example-TransactionEvents-2020_07_03y puts it after)
    const before = Object.keys(doc).indexOf('@context') < Object.keys(doc).indexOf('epcisBody');
    const id = typeof event.eventID === 'string' ? event.eventID : cbvEventHash(event, before ? contextPrefixes(doc['@context']) : {});
    if (event.errorDeclaration !== undefined) (declarations.get(id) ?? declarations.set(id, []).get(id)!).push(event.errorDeclaration);
    else {
      (originals.get(id) ?? originals.set(id, []).get(id)!).push(event);
      contexts.set(id, doc['@context']);
    }
  }
}

const LISTS = [
  'epcList',
  'childEPCs',
  'inputEPCList',
  'outputEPCList',
  'quantityList',
  'childQuantityList',
  'inputQuantityList',
  'outputQuantityList',
];

/** What must survive the round trip, written so that the documented normalisations compare equal. */
function comparable(event: Json): Json {
  const {
    eventID: _id,
    recordTime: _recorded,
    errorDeclaration: _declaration,
    '@context': _context,
    eventTime,
    bizStep,
    disposition,
    readPoint,
    bizLocation,
    ...rest
  } = event;
  const lists: Json = {};
  for (const name of LISTS) {
    const value = (rest[name] as unknown[] | undefined) ?? [];
    delete rest[name];
    lists[name] = value.map((v) => JSON.stringify(v)).sort();
  }
  return {
    ...rest,
    ...lists,
    eventTime: Date.parse(String(eventTime).replace(/(\.\d{3})\d+/, '$1')),
    bizStep: cbvValue(bizStep, 'BizStep'),
    disposition: cbvValue(disposition, 'Disp'),
    readPoint: (readPoint as { id?: string } | undefined)?.id ?? null,
    bizLocation: (bizLocation as { id?: string } | undefined)?.id ?? null,
  };
}

let stack: TestStack;
let database: ScratchDatabase;
let auditor: string;
const validate = officialValidator();

beforeAll(async () => {
  // Its own database: other suites capture these examples too (as XML, or edited), and the event
  // stored is the one captured first, which the shared database would leave to chance.
  database = await scratchDatabase('round_trip');
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, DATABASE_URL: database.url }) });
  auditor = (await signedInUser(stack.app, stack.pool, { roles: ['auditor'] })).token;
  for (const [file, text] of texts) {
    const res = await request(stack.app)
      .post('/epcis/capture')
      .set('Content-Type', 'application/ld+json')
      .set('X-API-Key', CAPTURE_KEY)
      .send(text);
    if (res.status !== 202) throw new Error(`${file}: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  }
});
afterAll(async () => {
  await stack?.stop();
  await database?.drop();
});

describe('GET /epcis/events/{eventID} gives back every captured example event', () => {
  it('has events to compare', () => {
    expect(originals.size).toBeGreaterThanOrEqual(60);
  });

  it.each([...originals.keys()])('%s', async (id) => {
    const res = await request(stack.app)
      .get(`/epcis/events/${encodeURIComponent(id)}`)
      .set(bearer(auditor))
      .expect(200);
    expect(res.headers['gs1-epcis-version']).toBe('2.0.0');
    const doc = res.body as Json;
    if (!validate(doc)) throw new Error(`not a valid EPCISQueryDocument: ${JSON.stringify(doc).slice(0, 2000)}`);
    const events = (doc.epcisBody as { queryResults: { resultsBody: { eventList: Json[] } } }).queryResults.resultsBody.eventList;
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event.eventID).toBe(id);
    expect(typeof event.recordTime).toBe('string');
    // The same event as one of the captured ones of that ID (documents captured by other suites may come first).
    const candidates = originals.get(id)!.map(comparable);
    expect(candidates).toContainEqual(comparable(event));
    // Retracted: the declaration that retracted it, as captured.
    if (event.errorDeclaration !== undefined) expect(declarations.get(id)).toContainEqual(event.errorDeclaration);
    // Every namespace prefix of an extension field is declared, as the captured document declared it.
    const declared = doc['@context'] as unknown[];
    const terms = Object.assign({}, ...[...declared, ...[event['@context'] ?? []].flat()].filter((c) => c && typeof c === 'object'));
    const own = ([contexts.get(id)].flat().filter((c) => c && typeof c === 'object') as Json[]).reduce((a, c) => ({ ...a, ...c }), {});
    for (const key of Object.keys(event)) {
      const prefix = /^([A-Za-z][\w-]*):/.exec(key)?.[1];
      if (prefix && prefix in own) expect({ [prefix]: terms[prefix] }).toEqual({ [prefix]: own[prefix] });
    }
  });
});
