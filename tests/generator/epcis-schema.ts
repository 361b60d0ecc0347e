import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const dir = path.join(__dirname, '..', 'fixtures', 'epcis-schema');

/** The standard's own JSON Schema (root: documents and events), compiled once per test file. */
export function officialEpcisValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const files = [
    ...readdirSync(path.join(dir, 'schemas')).map((f) => path.join(dir, 'schemas', f)),
    path.join(dir, 'EPCIS-Document-JSON-Schema.json'),
    path.join(dir, 'EPCIS-Event-JSON-Schema.json'),
  ];
  for (const f of files) ajv.addSchema(JSON.parse(readFileSync(f, 'utf8')) as object);
  return ajv.compile(JSON.parse(readFileSync(path.join(dir, 'EPCIS-JSON-Schema-root.json'), 'utf8')) as object);
}
