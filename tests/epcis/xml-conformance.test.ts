import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { validateXML } from 'xmllint-wasm';
import { documentReader, type DocumentFormat } from '../../epcis/document-reader';
import { normaliseEvent } from '../../epcis/normalise';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, FIXTURES as JSON_FIXTURES } from './helpers';

/**
 * XML capture against the standard's own examples: every GS1 EPCIS 1.2 and 2.0 XML example and
 * every OpenEPCIS XML capture document is sent to POST /epcis/capture. The product's verdict is
 * compared with the official XSDs' (libxml2's xmllint, compiled to WebAssembly), and where they
 * differ the difference is listed here with its reason. The events read from OpenEPCIS's XML
 * documents are compared with those of the same documents in JSON.
 */

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'epcis-xml');

function xmlDocuments(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(FIXTURES, dir)).flatMap((name) => {
      const rel = path.join(dir, name);
      if (statSync(path.join(FIXTURES, rel)).isDirectory()) return name === 'xsd' ? [] : walk(rel);
      return name.endsWith('.xml') ? [rel] : [];
    });
  return walk('.').sort();
}

/**
 * Documents capture refuses, and why. Two kinds: those the XSD refuses too, and those it accepts
 * but that break a rule of EPCIS 2.0 the product applies to every event, XML or JSON (GS1's JSON
 * Schema), so that an event means the same whichever way it came.
 */
const REFUSED: Record<string, RegExp> = {
  // The JSON Schema's rules (the JSON conformance suite refuses the same documents sent as JSON).
  'gs1/2.0/Example-PersistentDisposition.xml': /persistentDisposition/,
  'openepcis/1.2/AggregationEvent_all_possible_fields.xml': /persistentDisposition/,
  'openepcis/1.2/All_eventTypes_in_single_document.xml': /persistentDisposition/,
  'openepcis/1.2/AssociationEvent_all_possible_fields.xml': /persistentDisposition/,
  'openepcis/2.0/AggregationEvent_with_persistentDisposition.xml': /persistentDisposition/,
  'gs1/2.0/WithExtension/TransactionEvent.xml': /EffectiveDoseRate" is not a measurement type/,
  'openepcis/2.0/TransactionEvent_with_userExtensions.xml': /EffectiveDoseRate" is not a measurement type/,
  'gs1/2.0/WithSensorData/SensorDataExamples.xml': /Molar_concentration" is not a measurement type/,
  'openepcis/2.0/SensorData_with_combined_events.xml': /Molar_concentration" is not a measurement type/,
  'openepcis/2.0/epcisDocWithAllGS1Keys.xml': /duplicate items/,
  // Unqualified elements that EPCIS 1.2 lets into its innermost extension (for its own later
  // versions) and EPCIS 2.0 has no field for: refused rather than dropped or renamed.
  'gs1/1.2/ObjectEvent.xml': /<myField> has no namespace/,
  'gs1/1.2/AssociationEvent.xml': /<sensorMetaData> is not an element of <sensorElement>/,
  // What the XSDs refuse as well.
  'gs1/2.0/Mimasu/Example-masterData.xml': /master data document holds no events/,
  'openepcis/1.2/Document_with_namespace.xml': /has no namespace/,
  'openepcis/2.0/Namespace_document.xml': /has no namespace/,
  'openepcis/1.2/Jumbled_attributes_order.xml': /out of order/,
  'openepcis/2.0/JumbledFieldsOrder.xml': /out of order/,
  'openepcis/1.2/ObjectEvent_all_possible_fields.xml': /<certificationInfo> is not an element of an EPCIS 1.2 ObjectEvent/,
  'openepcis/1.2/TransactionEvent_all_possible_fields.xml': /declarationTime/,
  'openepcis/1.2/Single_event.xml': /not an EPCIS document/,
  'openepcis/1.2/Single_event_with_namespace.xml': /not an EPCIS document/,
  'openepcis/2.0/Invalid/ObjectEvent_bare_event_without_action.xml': /not an EPCIS document/,
  'openepcis/2.0/Invalid/ObjectEvent_with_invalid_action.xml': /must be ADD, OBSERVE or DELETE, not "CREATE"/,
  'openepcis/2.0/Invalid/ObjectEvent_with_near_miss_action.xml': /must be ADD, OBSERVE or DELETE, not "OBSERV"/,
  'openepcis/2.0/Invalid/ObjectEvent_with_invalid_eventTime_format.xml': /eventTime.*date-time/,
  'openepcis/2.0/Invalid/ObjectEvent_with_unknown_element.xml': /<madeUpField> is not an element of an EPCIS 2.0 ObjectEvent/,
  'openepcis/2.0/Invalid/ObjectEvent_with_wrong_element_order.xml': /<eventTime> is out of order/,
  'openepcis/2.0/Invalid/ObjectEvent_without_eventTime.xml': /<eventTime> is missing/,
};

/** Where the product's verdict differs from the XSD's, and why. */
const XSD_DISAGREES: Record<string, string> = {
  ...Object.fromEntries(
    [
      'gs1/2.0/Example-PersistentDisposition.xml',
      'openepcis/1.2/All_eventTypes_in_single_document.xml',
      'openepcis/2.0/AggregationEvent_with_persistentDisposition.xml',
      'gs1/2.0/WithExtension/TransactionEvent.xml',
      'openepcis/2.0/TransactionEvent_with_userExtensions.xml',
      'gs1/2.0/WithSensorData/SensorDataExamples.xml',
      'openepcis/2.0/SensorData_with_combined_events.xml',
      'openepcis/2.0/epcisDocWithAllGS1Keys.xml',
    ].map((file) => [file, 'refused by the rules of the EPCIS 2.0 JSON Schema, which the XSD does not have']),
  ),
  'gs1/1.2/ObjectEvent.xml': 'an unqualified element in a ##local extension: the XSD lets it in, EPCIS 2.0 has no field for it',
  'gs1/1.2/AssociationEvent.xml': 'the 1.2 XSD has no AssociationEvent (any content passes in extension/extension)',
  'openepcis/1.2/TransformationEvent_all_possible_fields.xml':
    "the XSD checks an extension element's value against its xsi:type; capture keeps extension values as text",
};

const documents = xmlDocuments();
const verdicts = new Map<string, { status: number; body: Record<string, unknown> }>();
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  for (const file of documents) {
    const res = await request(stack.app)
      .post('/epcis/capture')
      .set('Content-Type', 'application/xml')
      .set('X-API-Key', CAPTURE_KEY)
      .send(readFileSync(path.join(FIXTURES, file), 'utf8'));
    verdicts.set(file, { status: res.status, body: res.body as Record<string, unknown> });
  }
});
afterAll(async () => {
  await stack.stop();
});

describe('EPCIS XML conformance with the standard examples', () => {
  it('has the examples to test against', () => {
    expect(documents.filter((d) => d.startsWith('gs1/1.2/')).length).toBe(5);
    expect(documents.filter((d) => d.startsWith('gs1/2.0/')).length).toBeGreaterThanOrEqual(29);
    expect(documents.filter((d) => d.startsWith('openepcis/')).length).toBeGreaterThanOrEqual(60);
  });

  it.each(documents.filter((d) => !(d in REFUSED)))('accepts %s', (file) => {
    const v = verdicts.get(file)!;
    if (v.status !== 202) throw new Error(`${file}: ${v.status} ${JSON.stringify(v.body).slice(0, 1500)}`);
    expect(v.body).toMatchObject({ running: false, success: true, captureErrorBehaviour: 'rollback' });
  });

  it.each(Object.entries(REFUSED))('refuses %s whole, saying why and where', async (file, reason) => {
    const v = verdicts.get(file)!;
    expect(v.status).toBe(400);
    expect(v.body.type).toBe('epcisException:ValidationException');
    const errors = v.body.errors as Array<{ eventIndex?: number; field: string; reason: string; element?: string; line?: number }>;
    expect(errors.map((e) => `${e.field} ${e.reason}`).join('\n')).toMatch(reason);
    // Each problem of an event names the element and its line.
    for (const e of errors.filter((x) => x.eventIndex !== undefined)) {
      expect(e.element).toEqual(expect.any(String));
      expect(e.line).toBeGreaterThan(0);
    }
    const { rows } = await stack.pool.query('SELECT 1 FROM epcis_documents WHERE body = $1', [
      readFileSync(path.join(FIXTURES, file), 'utf8'),
    ]);
    expect(rows).toHaveLength(0);
  });

  it('agrees with the official EPCIS 1.2 and 2.0 XSDs on every document, except where listed with the reason', async () => {
    const xsdVerdict = new Map<string, boolean>();
    for (const version of ['1.2', '2.0'] as const) {
      const dir = path.join(FIXTURES, 'xsd', version);
      const main = version === '1.2' ? 'EPCglobal-epcis-1_2.xsd' : 'EPCglobal-epcis-2_0.xsd';
      const files = readdirSync(dir).map((fileName) => ({ fileName, contents: readFileSync(path.join(dir, fileName), 'utf8') }));
      const mine = documents.filter((d) => {
        const text = readFileSync(path.join(FIXTURES, d), 'utf8');
        return (text.includes('urn:epcglobal:epcis:xsd:1') ? '1.2' : '2.0') === version;
      });
      // (one run for all the documents of a version: each run starts a WebAssembly worker)
      const result = await validateXML({
        xml: mine.map((d, i) => ({ fileName: `doc${i}.xml`, contents: readFileSync(path.join(FIXTURES, d), 'utf8') })),
        schema: [files.find((f) => f.fileName === main)!],
        preload: files.filter((f) => f.fileName !== main),
      });
      const invalid = new Set(result.errors.map((e) => e.loc?.fileName));
      mine.forEach((d, i) => xsdVerdict.set(d, !invalid.has(`doc${i}.xml`)));
    }
    const disagreements = documents.filter((d) => xsdVerdict.get(d) !== (verdicts.get(d)!.status === 202));
    expect(disagreements.sort()).toEqual(Object.keys(XSD_DISAGREES).sort());
  });

  it('reads the same events from OpenEPCIS documents in XML as from the same documents in JSON', () => {
    // (the two files of a pair differ in content here: an instant written with other digits is the same instant, but not these)
    const differentContent: Record<string, string> = {
      'TransformationEvent_all_possible_fields.xml': 'its JSON binds the prefix cbvmda to http://example.com/cbvmda/, not to the CBV',
      'epcisDocWithSensorComponent.xml': 'the readPoint differs',
    };
    const events = (file: string, format: DocumentFormat) => {
      const reader = documentReader(format);
      const buffer = readFileSync(file);
      reader.write(buffer, buffer.toString('utf8'));
      const read = reader.take();
      reader.end();
      return read.map((r) => {
        const { extraJson: _extra, eventId: _id, eventTime, ...columns } = normaliseEvent(r.event as Record<string, unknown>, r.index, []);
        return { ...columns, instant: Date.parse(eventTime), eventID: (r.event as { eventID?: string }).eventID ?? null };
      });
    };
    const pairs = documents
      .filter((d) => d.startsWith('openepcis/2.0/') && !d.includes('Invalid') && !(d in REFUSED))
      .map((d) => [d, path.join(JSON_FIXTURES, 'openepcis', 'Documents', path.basename(d).replace(/\.xml$/, '.json'))] as const)
      .filter(([, json]) => existsSync(json));
    expect(pairs.length).toBeGreaterThanOrEqual(30);
    const differing = pairs
      .filter(([xml, json]) => JSON.stringify(events(path.join(FIXTURES, xml), 'xml')) !== JSON.stringify(events(json, 'json')))
      .map(([xml]) => path.basename(xml));
    expect(differing.sort()).toEqual(Object.keys(differentContent).sort());
  });
});
