import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, exampleDocuments, FIXTURES, officialValidator } from './helpers';

/**
 * Conformance with the standard's own examples: every GS1 example and every valid OpenEPCIS document
 * is captured; the documents that break the GS1 JSON Schema are refused, whole, saying why.
 */

/** Documents the official schema refuses (see tests/fixtures/epcis/SOURCE.md), and the reason the product gives. */
const SCHEMA_BREAKING: Record<string, RegExp> = {
  'openepcis/Documents/AggregationEvent_with_persistentDisposition.json': /persistentDisposition/,
  'openepcis/Documents/SensorData_with_combined_events.json': /sensorReport/,
  'openepcis/Documents/TransactionEvent_with_userExtensions.json': /sensorReport/,
};

/** Valid documents the product refuses on purpose, with the reason. None: every valid one is accepted. */
const DELIBERATELY_REFUSED: Record<string, string> = {};

let stack: TestStack;
const verdicts = new Map<string, { status: number; body: Record<string, unknown> }>();
const documents = exampleDocuments();

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  for (const file of documents) {
    const res = await request(stack.app)
      .post('/epcis/capture')
      .set('Content-Type', file.endsWith('.jsonld') ? 'application/ld+json' : 'application/json')
      .set('X-API-Key', CAPTURE_KEY)
      .send(readFileSync(path.join(FIXTURES, file), 'utf8'));
    verdicts.set(file, { status: res.status, body: res.body });
  }
});
afterAll(async () => {
  await stack.stop();
});

describe('EPCIS 2.0 conformance with the standard examples', () => {
  it('has the examples to test against', () => {
    expect(documents.filter((d) => d.startsWith('examples/')).length).toBeGreaterThanOrEqual(40);
    expect(documents.filter((d) => d.startsWith('openepcis/')).length).toBeGreaterThanOrEqual(38);
  });

  it.each(documents.filter((d) => !(d in SCHEMA_BREAKING) && !(d in DELIBERATELY_REFUSED)))('accepts %s', (file) => {
    const v = verdicts.get(file)!;
    if (v.status !== 202) throw new Error(`${file}: ${v.status} ${JSON.stringify(v.body).slice(0, 1500)}`);
    expect(v.body).toMatchObject({ running: false, success: true, captureErrorBehaviour: 'rollback' });
  });

  it.each(Object.entries(SCHEMA_BREAKING))('refuses %s whole, saying why', async (file, reason) => {
    const v = verdicts.get(file)!;
    expect(v.status).toBe(400);
    expect(v.body.type).toBe('epcisException:ValidationException');
    const errors = v.body.errors as Array<{ eventIndex?: number; field: string; reason: string }>;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => typeof e.eventIndex === 'number' && e.field && e.reason)).toBe(true);
    expect(errors.map((e) => `${e.field} ${e.reason}`).join('\n')).toMatch(reason);
    // Nothing of a refused document is stored.
    const { rows } = await stack.pool.query('SELECT 1 FROM epcis_documents WHERE body = $1', [
      readFileSync(path.join(FIXTURES, file), 'utf8'),
    ]);
    expect(rows).toHaveLength(0);
  });

  it('agrees with the official GS1 JSON Schema (ajv with formats) on every document', () => {
    const official = officialValidator();
    const disagreements = documents
      .filter((file) => !(file in DELIBERATELY_REFUSED))
      .map((file) => ({
        file,
        official: official(JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8'))),
        product: verdicts.get(file)!.status === 202,
      }))
      .filter((d) => d.official !== d.product);
    expect(disagreements).toEqual([]);
    expect(Object.keys(SCHEMA_BREAKING).every((f) => !official(JSON.parse(readFileSync(path.join(FIXTURES, f), 'utf8'))))).toBe(true);
  });
});
