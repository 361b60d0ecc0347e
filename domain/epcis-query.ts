import { z } from 'zod';
import { parseEpc, parseLot } from './gs1';
import { isoDateTime } from './iso-time';
import { safeString } from './text';

/**
 * The EPCIS 2.0 query interface's parameters as the REST binding passes them in the query string
 * (EPCIS 2.0 §8.2.7.1, REST binding GET /events): the ones an investigation needs, each validated
 * here, so a bad one is refused (400, QueryParameterException) before anything is read. Values are
 * the binding's pipe-delimited lists (`EQ_bizStep=shipping|receiving`): an event matches a
 * parameter when it matches one of its values, and every parameter given.
 */

export const EPCIS_EVENT_TYPES = [
  'ObjectEvent',
  'AggregationEvent',
  'TransactionEvent',
  'TransformationEvent',
  'AssociationEvent',
] as const;
export type EpcisEventType = (typeof EPCIS_EVENT_TYPES)[number];

/** Where an identifier stands in an event: epcList or quantityList, parentID, childEPCs, input or output lists. */
export type IdentifierRole = 'epc' | 'parent' | 'child' | 'input' | 'output';

/**
 * An identifier as the query and the trace look it up: an SGTIN or an SSCC by its GS1 key, so every
 * spelling of it (EPC URN of any partition, any Digital Link) finds the same events; any other URI
 * as written.
 */
export type IdentifierKey =
  { kind: 'sgtin'; gtin: string; serial: string } | { kind: 'sscc'; sscc: string } | { kind: 'other'; uri: string };

export type IdentifierKeyResult = { ok: true; key: IdentifierKey } | { ok: false; reason: string };

/**
 * Which URIs capture reads as GS1 keys (epcis/normalise.ts classifies identifiers the same way): an
 * SGTIN, SSCC or LGTIN EPC URN, and a Digital Link naming an instance (/01/…/21/…, /00/…). Any
 * other URI is stored as written, and so is matched as written.
 */
const GS1_URN = /^urn:epc:(?:id:(?:sgtin|sscc)|class:lgtin):/i;
const DL_INSTANCE = /^https?:\/\/[^/]+(?:\/[^?#]*)?\/(?:01\/[^/?#]+(?:\/[^/?#]+)*\/21\/|00\/)/i;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/** The key of one identifier named in a query or a path: a unit or package (URN or Digital Link), or another URI. */
export function identifierKeyOf(uri: string): IdentifierKeyResult {
  if (/^urn:epc:(?:idpat|pat):/i.test(uri)) return { ok: false, reason: 'EPC patterns are not supported: name each identifier' };
  if (GS1_URN.test(uri) || DL_INSTANCE.test(uri)) {
    const parsed = parseEpc(uri);
    if (!parsed.ok) return { ok: false, reason: parsed.error.message };
    const epc = parsed.value;
    if (epc.kind === 'lgtin') return { ok: false, reason: 'names a class (GTIN and lot), not an instance' };
    return {
      ok: true,
      key: epc.kind === 'sgtin' ? { kind: 'sgtin', gtin: epc.gtin, serial: epc.serial } : { kind: 'sscc', sscc: epc.sscc },
    };
  }
  if (!URI.test(uri)) return { ok: false, reason: 'must be a URI: an EPC URN (urn:epc:id:…), a GS1 Digital Link or another URI' };
  return { ok: true, key: { kind: 'other', uri } };
}

/** A stable text for a key (a map key, a node of the trace): `sgtin:<gtin>:<serial>`, `sscc:<digits>`, `other:<uri>`. */
export function identifierKeyId(key: IdentifierKey): string {
  switch (key.kind) {
    case 'sgtin':
      return `sgtin:${key.gtin}:${key.serial}`;
    case 'sscc':
      return `sscc:${key.sscc}`;
    case 'other':
      return `other:${key.uri}`;
  }
}

/**
 * Most values a list parameter takes, the longest value, and the longest parameter: a request line
 * is bounded anyway (Node refuses headers past 16 KiB), these say so in the schema.
 */
export const MAX_LIST_VALUES = 100;
const MAX_VALUE_LENGTH = 2000;
const MAX_PARAMETER_LENGTH = 8000;

type Refinement = z.core.$RefinementCtx;

/** A pipe-delimited list parameter, each value checked (and converted) by `item`, which reports problems on `ctx`. */
function pipeList<T>(item: (value: string, ctx: Refinement) => T | undefined) {
  return safeString()
    .max(MAX_PARAMETER_LENGTH)
    .transform((raw, ctx) => {
      const values = raw.split('|');
      if (values.length > MAX_LIST_VALUES) {
        ctx.addIssue({ code: 'custom', message: `at most ${MAX_LIST_VALUES} values, separated by |` });
        return z.NEVER;
      }
      const out: T[] = [];
      for (const value of values) {
        if (value.length === 0) {
          ctx.addIssue({ code: 'custom', message: 'an empty value (two | in a row, or one at an end)' });
          return z.NEVER;
        }
        if (value.length > MAX_VALUE_LENGTH) {
          ctx.addIssue({ code: 'custom', message: `a value longer than ${MAX_VALUE_LENGTH} characters` });
          return z.NEVER;
        }
        const converted = item(value, ctx);
        if (converted === undefined) return z.NEVER;
        out.push(converted);
      }
      return out;
    });
}

const oneOf =
  <T extends string>(allowed: readonly T[]) =>
  (value: string, ctx: Refinement): T | undefined => {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    ctx.addIssue({ code: 'custom', message: `each value must be one of ${allowed.join(', ')}` });
    return undefined;
  };

/** A bare CBV word (`shipping`) or a URI (a CBV web URI or URN, or a custom value). */
const vocabularyValue = (value: string, ctx: Refinement): string | undefined => {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(value) || URI.test(value)) return value;
  ctx.addIssue({ code: 'custom', message: 'each value must be a CBV word (shipping) or a URI' });
  return undefined;
};

const uriValue = (value: string, ctx: Refinement): string | undefined => {
  if (URI.test(value)) return value;
  ctx.addIssue({ code: 'custom', message: 'each value must be a URI' });
  return undefined;
};

const epcValue = (value: string, ctx: Refinement): IdentifierKey | undefined => {
  const r = identifierKeyOf(value);
  if (r.ok) return r.key;
  // (the value is storable text here, but quoted only through the GS1 parser's clipped form)
  ctx.addIssue({ code: 'custom', message: r.reason });
  return undefined;
};

const lotValue = (value: string, ctx: Refinement): string | undefined => {
  const r = parseLot(value);
  if (r.ok) return r.value;
  ctx.addIssue({ code: 'custom', message: r.error.message });
  return undefined;
};

/** A nextPageToken as this server issues them (epcis/query.ts): base64url, of bounded length. */
export const PAGE_TOKEN = /^[A-Za-z0-9_-]{1,512}$/;
/** perPage: the binding's default, and this server's upper limit (stated in the README). */
export const PER_PAGE_DEFAULT = 30;
export const PER_PAGE_MAX = 1000;

/**
 * The query string of GET /epcis/events and GET /epcis/epcs/{epc}/events. Unknown parameters are
 * refused, not ignored: a misspelt filter silently ignored would answer with events it should have
 * excluded, and an investigation would read them as evidence.
 */
export const eventQuerySchema = z
  .object({
    eventType: pipeList(oneOf(EPCIS_EVENT_TYPES)).optional(),
    GE_eventTime: isoDateTime.optional(),
    LT_eventTime: isoDateTime.optional(),
    GE_recordTime: isoDateTime.optional(),
    LT_recordTime: isoDateTime.optional(),
    EQ_action: pipeList(oneOf(['ADD', 'OBSERVE', 'DELETE'] as const)).optional(),
    EQ_bizStep: pipeList(vocabularyValue).optional(),
    EQ_disposition: pipeList(vocabularyValue).optional(),
    EQ_readPoint: pipeList(uriValue).optional(),
    EQ_bizLocation: pipeList(uriValue).optional(),
    EQ_eventID: pipeList(uriValue).optional(),
    MATCH_epc: pipeList(epcValue).optional(),
    MATCH_parentID: pipeList(epcValue).optional(),
    MATCH_inputEPC: pipeList(epcValue).optional(),
    MATCH_outputEPC: pipeList(epcValue).optional(),
    MATCH_anyEPC: pipeList(epcValue).optional(),
    /** The lot of the event's ilmd (cbvmda:lotNumber), the name EPCIS 2.0 gives the parameter. */
    'EQ_ILMD_cbvmda:lotNumber': pipeList(lotValue).optional(),
    /** The same, by the field's bare name. */
    EQ_ILMD_lotNumber: pipeList(lotValue).optional(),
    /** Present (empty or `true`): only events an error declaration retracted. */
    EXISTS_errorDeclaration: z.enum(['', 'true']).optional(),
    perPage: z.coerce.number().int().min(1).max(PER_PAGE_MAX).default(PER_PAGE_DEFAULT),
    nextPageToken: safeString().regex(PAGE_TOKEN, 'is not a page token this server issued').optional(),
  })
  .strict();

export type EventQueryParams = z.infer<typeof eventQuerySchema>;

/** A group of identifiers an event must name (any one of them) in one of the roles. */
export interface IdentifierFilter {
  roles: IdentifierRole[];
  keys: IdentifierKey[];
}

/** The filters of one query, as the store applies them (epcis/query.ts): every field given must match. */
export interface EventFilter {
  eventTypes?: string[];
  geEventTime?: string;
  ltEventTime?: string;
  geRecordTime?: string;
  ltRecordTime?: string;
  actions?: string[];
  bizSteps?: string[];
  dispositions?: string[];
  readPoints?: string[];
  bizLocations?: string[];
  eventIds?: string[];
  lots?: string[];
  retractedOnly?: boolean;
  identifiers: IdentifierFilter[];
}

/** The roles each MATCH_ parameter looks in (EPCIS 2.0 §8.2.7.1). */
export const MATCH_ROLES = {
  MATCH_epc: ['epc', 'child'],
  MATCH_parentID: ['parent'],
  MATCH_inputEPC: ['input'],
  MATCH_outputEPC: ['output'],
  MATCH_anyEPC: ['epc', 'parent', 'child', 'input', 'output'],
} as const satisfies Record<string, readonly IdentifierRole[]>;

/** The filter a validated query string asks for; `pathEpc` (GET /epcs/{epc}/events) adds a MATCH_anyEPC of its own. */
export function eventFilterOf(p: EventQueryParams, pathEpc?: IdentifierKey): EventFilter {
  const identifiers: IdentifierFilter[] = [];
  for (const name of Object.keys(MATCH_ROLES) as Array<keyof typeof MATCH_ROLES>) {
    const keys = p[name];
    if (keys) identifiers.push({ roles: [...MATCH_ROLES[name]], keys });
  }
  if (pathEpc) identifiers.push({ roles: [...MATCH_ROLES.MATCH_anyEPC], keys: [pathEpc] });
  const lots = [...(p['EQ_ILMD_cbvmda:lotNumber'] ?? []), ...(p.EQ_ILMD_lotNumber ?? [])];
  // Both lot parameters given: an event carries one lot, so it must be in both lists.
  const bothLots = p['EQ_ILMD_cbvmda:lotNumber'] && p.EQ_ILMD_lotNumber;
  const filter: EventFilter = {
    eventTypes: p.eventType,
    geEventTime: p.GE_eventTime,
    ltEventTime: p.LT_eventTime,
    geRecordTime: p.GE_recordTime,
    ltRecordTime: p.LT_recordTime,
    actions: p.EQ_action,
    bizSteps: p.EQ_bizStep,
    dispositions: p.EQ_disposition,
    readPoints: p.EQ_readPoint,
    bizLocations: p.EQ_bizLocation,
    eventIds: p.EQ_eventID,
    lots: bothLots ? p['EQ_ILMD_cbvmda:lotNumber']!.filter((l) => p.EQ_ILMD_lotNumber!.includes(l)) : lots.length ? lots : undefined,
    retractedOnly: p.EXISTS_errorDeclaration !== undefined ? true : undefined,
    identifiers,
  };
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as unknown as EventFilter;
}
