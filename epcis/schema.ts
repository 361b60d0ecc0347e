import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';

/**
 * The standard's own JSON Schema decides what a well-formed EPCIS 2.0 document is. Re-writing it in
 * zod would create a second, drifting copy of a schema GS1 maintains; the product compiles GS1's
 * files once and adds, in normalise.ts, the checks a schema cannot express (GS1 check digits, CSET 82
 * serials, the lot a commissioning event must carry).
 */
const DIR = path.join(__dirname, 'json-schema');
const EVENT_REF = 'https://gs1.github.io/EPCIS/JSON-Schema/EPCIS-Event-JSON-Schema.json#/definitions/EPCIS-Document-Event';

const fullUri = fullFormats.uri as (s: string) => boolean;
/**
 * A scheme and one segment of plain characters (RFC 3986 path-rootless): the shape of every EPC URN
 * and CBV identifier, a subset of what the full check accepts, decided by one short pattern. A
 * million-unit document names a million of them; the full pattern costs several times more each.
 */
const PLAIN_URN = /^[a-z][a-z0-9+\-.]*:[a-z0-9\-._~!$&'()*+,;=:@]+$/i;

/** JSON Schema's "uri" format, exactly as ajv-formats' full mode decides it. */
export const isUri = (s: string): boolean => PLAIN_URN.test(s) || fullUri(s);

interface Compiled {
  document: ValidateFunction;
  event: ValidateFunction;
}
let compiled: Compiled | null = null;

function compile(): Compiled {
  if (compiled) return compiled;
  // strict: false — GS1's schema uses keywords (e.g. "example") that ajv's strict mode rejects.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addFormat('uri', isUri);
  const load = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as object;
  for (const f of readdirSync(path.join(DIR, 'schemas'))) if (f.endsWith('.json')) ajv.addSchema(load(path.join(DIR, 'schemas', f)));
  ajv.addSchema(load(path.join(DIR, 'EPCIS-Event-JSON-Schema.json')));
  ajv.addSchema(load(path.join(DIR, 'EPCIS-Document-JSON-Schema.json')));
  const document = ajv.compile(load(path.join(DIR, 'EPCIS-JSON-Schema-root.json')));
  const event = ajv.getSchema(EVENT_REF);
  if (!event) throw new Error('EPCIS event schema not found');
  compiled = { document, event };
  return compiled;
}

export interface SchemaProblem {
  field: string;
  reason: string;
}

/**
 * ajv reports every failed branch of the schema's if/then and anyOf; keep the informative ones (an
 * enum next to a failed format says the same twice) and spell the location as a JSON path.
 */
function problems(errors: ErrorObject[] | null | undefined): SchemaProblem[] {
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  // Where a property name is refused, ajv also reports each name test that failed on the way
  // (enums and formats, at the object's own path): one message per refused name is enough.
  const namesRefusedAt = new Set((errors ?? []).filter((e) => e.keyword === 'propertyNames').map((e) => e.instancePath));
  for (const e of errors ?? []) {
    if (
      namesRefusedAt.has(e.instancePath) &&
      e.keyword !== 'propertyNames' &&
      ['enum', 'format', 'pattern', 'type', 'not'].includes(e.keyword)
    )
      continue;
    if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'allOf') continue;
    // Errors raised while testing a property name repeat what the propertyNames error says.
    if (e.keyword !== 'propertyNames' && (e.propertyName !== undefined || e.schemaPath.includes('/propertyNames/'))) continue;
    const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~') : '(event)';
    let reason = e.message ?? 'is invalid';
    if (e.keyword === 'propertyNames' || e.keyword === 'additionalProperties') {
      const name =
        (e.params as { propertyName?: string; additionalProperty?: string }).propertyName ??
        (e.params as { additionalProperty?: string }).additionalProperty;
      reason = name ? `property "${name}" is not allowed here` : reason;
    }
    if (e.keyword === 'enum')
      reason = `${reason}: ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues).slice(0, 200)}`;
    const key = `${field}|${reason}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ field, reason });
    }
  }
  return out;
}

/** Validates the document without its events (the event list empty): header, context, version. */
export function validateDocumentShell(doc: unknown): SchemaProblem[] {
  const { document } = compile();
  return document(doc) ? [] : problems(document.errors);
}

/** Validates one event of an EPCISDocument's event list. */
export function validateEventSchema(event: unknown): SchemaProblem[] {
  const { event: validate } = compile();
  return validate(event) ? [] : problems(validate.errors);
}
