import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { validateXML } from 'xmllint-wasm';
import { jsonVocabularyValue, type CbvKind } from '../../epcis/xml/cbv-values';
import { CAPTURE_KEY, epcisDocument, exampleDocuments, FIXTURES as JSON_FIXTURES } from '../epcis/helpers';
import { scratchDatabase, type ScratchDatabase } from '../helpers/scratch-database';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { eventsOf, nextLink } from './helpers';

/**
 * The query interface answers EPCIS 2.0 XML on Accept: application/xml (or text/xml). Every example
 * document of the standard and of OpenEPCIS, XML and JSON, is captured into one database; every page
 * of its events asked for as XML must be valid against the official EPCIS 2.0 query XSD, page like
 * the JSON answer, and, captured into a second database, give back the same events (but for what
 * the documentation lists: extension values as text, a one-element list of an extension field as
 * the element, a retracted event as the declaration it carries).
 */

type Json = Record<string, unknown>;

const XML_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'epcis-xml');
const XSD_DIR = path.join(XML_FIXTURES, 'xsd', '2.0');

function xmlDocuments(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(XML_FIXTURES, dir)).flatMap((name) => {
      const rel = path.join(dir, name);
      if (statSync(path.join(XML_FIXTURES, rel)).isDirectory()) return name === 'xsd' ? [] : walk(rel);
      return name.endsWith('.xml') ? [rel] : [];
    });
  return walk('.').sort();
}

/** An event whose values need escaping: in an identifier (a non-GS1 URI), an attribute and extension fields. */
const TAG = Date.now().toString(36);
const ESCAPED_EVENT = {
  type: 'ObjectEvent',
  eventID: `urn:uuid:7d1c2f8e-0000-4000-8000-${TAG.padStart(12, '0').slice(-12)}`,
  eventTime: '2026-11-23T06:00:00.123456+05:30',
  eventTimeZoneOffset: '+05:30',
  epcList: [`urn:example:asset:${TAG}?a=1&b=2`],
  action: 'OBSERVE',
  bizStep: 'inspecting',
  readPoint: { id: 'urn:epc:id:sgln:4012345.00001.0' },
  sensorElementList: [{ sensorReport: [{ type: 'Temperature', value: 21.5, uom: 'CEL', stringValue: 'a "quoted" <b> & c\td\re\nf' }] }],
  'ex:note': 'line one\nline two & three <four> "five" \'six\'',
  'ex:reading': { 'ex:value': '12.5', unit: 'Cel', '#text': 'probe' },
};
/** An event whose extension value XML 1.0 cannot carry (U+0001): JSON answers it, XML refuses with 406. */
const UNWRITABLE_EVENT = {
  ...ESCAPED_EVENT,
  eventID: `urn:uuid:7d1c2f8e-0001-4000-8000-${TAG.padStart(12, '0').slice(-12)}`,
  epcList: [`urn:example:asset:${TAG}-2`],
  sensorElementList: undefined,
  'ex:note': 'bell \u0001',
  'ex:reading': undefined,
};
const EX_CONTEXT = { ex: 'http://ns.example.com/escaping/' };
/** An event, and the declaration retracting it. */
const RETRACTED_EVENT = {
  ...UNWRITABLE_EVENT,
  eventID: `urn:uuid:7d1c2f8e-0002-4000-8000-${TAG.padStart(12, '0').slice(-12)}`,
  epcList: [`urn:example:asset:${TAG}-3`],
  'ex:note': 'retracted',
};
const DECLARATION = { ...RETRACTED_EVENT, errorDeclaration: { declarationTime: '2026-11-24T08:00:00Z', reason: 'incorrect_data' } };
const withContext = (events: unknown[]) =>
  JSON.stringify({ ...epcisDocument(events), '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', EX_CONTEXT] });

let a: TestStack;
let b: TestStack;
let dbA: ScratchDatabase;
let dbB: ScratchDatabase;
const captured: string[] = [];
const xmlPages: Array<{ text: string; link: string | null; jsonLink: string | null; contentType: string }> = [];

const captureInto = (stack: TestStack, type: string, body: string) =>
  request(stack.app).post('/epcis/capture').set('Content-Type', type).set('X-API-Key', CAPTURE_KEY).send(body);

async function allJsonEvents(stack: TestStack): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  let url: string | null = '/epcis/events?perPage=1000';
  while (url) {
    const res = await request(stack.app).get(url).set('X-API-Key', CAPTURE_KEY).expect(200);
    for (const e of eventsOf(res.body)) out.set(e.eventID as string, e);
    url = nextLink(res.headers);
  }
  return out;
}

/** Sensor report values JSON capture keeps as sent and XML capture reads as the CBV's bare word, whichever spelling (as for bizStep). */
const SENSOR_VOCABULARY: Record<string, CbvKind> = { component: 'component', exception: 'alertType' };

/**
 * An event as XML can give it back: extension values as text, one-element lists of them as the
 * element, CBV values in sensor reports as bare words.
 */
function asXmlGivesIt(value: unknown, inExtension = false): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => asXmlGivesIt(v, inExtension));
    return inExtension && items.length === 1 ? items[0] : items;
  }
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      if (k === 'sensorReport' && Array.isArray(v)) {
        out[k] = v.map((report: Json) => {
          const word = typeof report.type === 'string' ? jsonVocabularyValue(report.type, 'measurementType') : null;
          return asXmlGivesIt(word && 'value' in word ? { ...report, type: word.value } : report, inExtension);
        });
        continue;
      }
      const kind = SENSOR_VOCABULARY[k];
      const word = kind && typeof v === 'string' ? jsonVocabularyValue(v, kind) : null;
      out[k] = word && 'value' in word ? word.value : asXmlGivesIt(v, inExtension || k.includes(':'));
    }
    return out;
  }
  return inExtension && (typeof value === 'number' || typeof value === 'boolean') ? String(value) : value;
}

beforeAll(async () => {
  // Databases of their own: which events are captured, and first, must not depend on other suites.
  [dbA, dbB] = await Promise.all([scratchDatabase('xml_answers_a'), scratchDatabase('xml_answers_b')]);
  a = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, DATABASE_URL: dbA.url }) });
  b = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, DATABASE_URL: dbB.url }) });
  for (const file of xmlDocuments()) {
    const res = await captureInto(a, 'application/xml', readFileSync(path.join(XML_FIXTURES, file), 'utf8'));
    if (res.status === 202) captured.push(file);
  }
  for (const file of exampleDocuments()) {
    const res = await captureInto(a, 'application/ld+json', readFileSync(path.join(JSON_FIXTURES, file), 'utf8'));
    if (res.status === 202) captured.push(file);
  }
  for (const events of [[ESCAPED_EVENT, RETRACTED_EVENT], [DECLARATION]]) {
    const own = await captureInto(a, 'application/ld+json', withContext(events));
    if (own.status !== 202) throw new Error(`capture: ${own.status} ${JSON.stringify(own.body)}`);
  }

  // Every page of the whole query, as XML, and the JSON answer's Link for the same page.
  let url: string | null = '/epcis/events?perPage=25';
  while (url) {
    const res = await request(a.app).get(url).set('X-API-Key', CAPTURE_KEY).set('Accept', 'application/xml').expect(200);
    const json = await request(a.app).get(url).set('X-API-Key', CAPTURE_KEY).expect(200);
    xmlPages.push({
      text: res.text,
      link: nextLink(res.headers),
      jsonLink: nextLink(json.headers),
      contentType: res.headers['content-type'] ?? '',
    });
    url = nextLink(res.headers);
  }
}, 240_000);
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await dbA?.drop();
  await dbB?.drop();
});

describe('EPCIS 2.0 XML answers of the query interface', () => {
  it('has the examples captured, over several pages', () => {
    expect(captured.length).toBeGreaterThanOrEqual(100);
    expect(xmlPages.length).toBeGreaterThanOrEqual(3);
  });

  it('answers XML on Accept: application/xml, and pages as the JSON answer does', () => {
    for (const [i, page] of xmlPages.entries()) {
      expect(page.contentType).toMatch(/^application\/xml/);
      expect(page.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<epcisq:EPCISQueryDocument /);
      expect(page.link).toBe(page.jsonLink);
      expect(page.link === null).toBe(i === xmlPages.length - 1);
    }
  });

  it('is valid against the official EPCIS 2.0 query XSD, every page', async () => {
    const files = readdirSync(XSD_DIR)
      .filter((f) => f.endsWith('.xsd'))
      .map((fileName) => ({ fileName, contents: readFileSync(path.join(XSD_DIR, fileName), 'utf8') }));
    const result = await validateXML({
      xml: xmlPages.map((p, i) => ({ fileName: `page${i}.xml`, contents: p.text })),
      schema: [files.find((f) => f.fileName === 'EPCglobal-epcis-query-2_0.xsd')!],
      preload: files.filter((f) => f.fileName !== 'EPCglobal-epcis-query-2_0.xsd'),
    });
    expect(result.errors.map((e) => e.rawMessage)).toEqual([]);
    expect(result.valid).toBe(true);
  }, 120_000);

  it('captured back, gives the same events', async () => {
    for (const [i, page] of xmlPages.entries()) {
      const res = await captureInto(b, 'application/xml', page.text);
      if (res.status !== 202) throw new Error(`page ${i}: ${res.status} ${JSON.stringify(res.body).slice(0, 2000)}`);
    }
    const before = await allJsonEvents(a);
    const after = await allJsonEvents(b);
    const strip = (e: Json) => {
      // (an event's own @context says how its JSON-LD prefixes expand; in XML its elements carry their namespaces instead)
      const { recordTime: _r, '@context': _c, ...rest } = e;
      return asXmlGivesIt(rest);
    };
    // A retracted event's XML carries its errorDeclaration: captured, that is a declaration, and the event it retracts is not there.
    const live = [...before.values()].filter((e) => e.errorDeclaration === undefined);
    expect(before.size - live.length).toBeGreaterThan(0);
    expect(live.length).toBeGreaterThanOrEqual(80);
    expect([...after.keys()].sort()).toEqual(live.map((e) => e.eventID as string).sort());
    for (const e of live)
      expect({ id: e.eventID, event: strip(after.get(e.eventID as string)!) }).toEqual({ id: e.eventID, event: strip(e) });
    // The escaped values, exactly.
    const escaped = after.get(ESCAPED_EVENT.eventID)!;
    expect(escaped.epcList).toEqual(ESCAPED_EVENT.epcList);
    expect(escaped['ex:note']).toBe(ESCAPED_EVENT['ex:note']);
    expect(escaped.sensorElementList).toEqual(ESCAPED_EVENT.sensorElementList);
    expect(escaped['ex:reading']).toEqual(ESCAPED_EVENT['ex:reading']);
  }, 120_000);

  it('answers one event, and the events of an identifier, as XML too', async () => {
    const one = await request(a.app)
      .get(`/epcis/events/${encodeURIComponent(ESCAPED_EVENT.eventID)}`)
      .set('X-API-Key', CAPTURE_KEY)
      .set('Accept', 'text/xml')
      .expect(200);
    expect(one.headers['content-type']).toMatch(/^text\/xml/);
    expect(one.headers['gs1-epcis-version']).toBe('2.0.0');
    expect(one.text).toContain(`<eventID>${ESCAPED_EVENT.eventID}</eventID>`);
    expect(one.text).toContain('<epc>urn:example:asset:');
    expect(one.text).toContain('?a=1&amp;b=2</epc>');
    const byEpc = await request(a.app)
      .get(`/epcis/epcs/${encodeURIComponent(ESCAPED_EVENT.epcList[0]!)}/events`)
      .set('X-API-Key', CAPTURE_KEY)
      .set('Accept', 'application/xml')
      .expect(200);
    expect(byEpc.text.match(/<ObjectEvent>/g)).toHaveLength(1);
  });

  it('stays JSON-LD by default and when JSON is preferred; refuses what it cannot serve with 406 problem+json', async () => {
    const url = `/epcis/events/${encodeURIComponent(ESCAPED_EVENT.eventID)}`;
    const plain = await request(a.app).get(url).set('X-API-Key', CAPTURE_KEY).expect(200);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    const preferred = await request(a.app)
      .get(url)
      .set('X-API-Key', CAPTURE_KEY)
      .set('Accept', 'application/xml;q=0.5, application/ld+json')
      .expect(200);
    expect(preferred.headers['content-type']).toMatch(/^application\/ld\+json/);
    expect(eventsOf(JSON.parse(preferred.text))[0]!.eventID).toBe(ESCAPED_EVENT.eventID);
    const refused = await request(a.app).get(url).set('X-API-Key', CAPTURE_KEY).set('Accept', 'text/html').expect(406);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body.accepted).toEqual(['application/json', 'application/ld+json', 'application/xml', 'text/xml']);
  });

  it('refuses XML with 406, and still answers JSON, for an event holding a character XML cannot carry', async () => {
    const res = await captureInto(a, 'application/ld+json', withContext([UNWRITABLE_EVENT]));
    expect(res.status).toBe(202);
    const url = `/epcis/events/${encodeURIComponent(UNWRITABLE_EVENT.eventID)}`;
    const xml = await request(a.app).get(url).set('X-API-Key', CAPTURE_KEY).set('Accept', 'application/xml').expect(406);
    expect(xml.body.detail).toMatch(/U\+0001/);
    const json = await request(a.app).get(url).set('X-API-Key', CAPTURE_KEY).expect(200);
    expect(eventsOf(json.body)[0]!['ex:note']).toBe('bell \u0001');
  });
});
