import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'epcis');
export const CAPTURE_KEY = 'test-capture-key-0123456789abcdef';

/** Every EPCIS document among the fixtures, as paths relative to tests/fixtures/epcis. */
export function exampleDocuments(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(FIXTURES, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name)) : /\.json(ld)?$/.test(e.name) ? [path.join(dir, e.name)] : [],
    );
  return [...walk('examples'), ...walk('openepcis')].sort();
}

/** The official GS1 JSON Schema, compiled from the fixtures' own copy (independent of the product's). */
export function officialValidator(): (doc: unknown) => boolean {
  const dir = path.join(FIXTURES, 'json-schema');
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const load = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as object;
  for (const f of readdirSync(path.join(dir, 'schemas'))) ajv.addSchema(load(path.join(dir, 'schemas', f)));
  ajv.addSchema(load(path.join(dir, 'EPCIS-Event-JSON-Schema.json')));
  ajv.addSchema(load(path.join(dir, 'EPCIS-Document-JSON-Schema.json')));
  const validate = ajv.compile(load(path.join(dir, 'EPCIS-JSON-Schema-root.json')));
  return (doc) => validate(doc) as boolean;
}

/** An EPCISDocument (EPCIS 2.0 JSON-LD) holding `eventList`, as a capture client sends it. */
export function epcisDocument(eventList: unknown[], creationDate = '2026-11-23T06:00:00Z') {
  return {
    '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'],
    type: 'EPCISDocument',
    schemaVersion: '2.0',
    creationDate,
    epcisBody: { eventList },
  };
}
