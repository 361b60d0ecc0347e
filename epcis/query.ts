import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { listsNamingSql } from '../db/identifier-events';
import type { Queryable } from '../db/pool';
import type { EventFilter } from '../domain/epcis-query';
import { cbvValue } from './normalise';
import { NS } from './xml/nodes';

/**
 * The EPCIS 2.0 query interface over what capture stored (epcis/capture.ts): the events matching a
 * filter, a page at a time, answered as events of an EPCISQueryDocument.
 *
 * Capture keeps each document verbatim and each event normalised (epcis_events, its identifier
 * lists in epcis_event_identifiers, everything else of the event in `extra`). Reading one event out
 * of its document would mean parsing a document of tens of megabytes, so events are rebuilt from the
 * normalised rows. What that changes, and nothing else, is listed in docs/interoperability.md:
 * identifiers are grouped by scheme and product within each list; bizStep and disposition are given
 * as CBV bare words; eventTime is written in its own offset, to the microsecond; recordTime is the
 * capture's time; a retracted event carries the errorDeclaration that retracted it; fields inside
 * readPoint and bizLocation other than `id` are not kept by capture.
 */

export const EPCIS_CONTEXT = 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld';

// ---------------------------------------------------------------------------------------------
// Page tokens
// ---------------------------------------------------------------------------------------------

/**
 * A nextPageToken is a keyset cursor: the last event (its row ID) of the page, and a fingerprint of
 * the filter it was issued for. Pages are in record order (row IDs only grow), so a query paged to
 * its end returns every matching event once, events captured meanwhile at the end. The token is
 * checked, not trusted: it must decode to this form and its fingerprint must be the request's own
 * filter's, so a token cannot carry one query's position into another. It needs no secret: a token
 * made up by hand only starts the caller's own query further on, which GE_recordTime does too.
 */
interface PageToken {
  after: string;
  fingerprint: string;
}

const TOKEN_VERSION = 1;

/** The filter's fingerprint: 128 bits of the SHA-256 of its canonical JSON (RFC 8785). */
export function filterFingerprint(filter: EventFilter): string {
  return createHash('sha256')
    .update(canonicalize(filter) ?? '')
    .digest('base64url')
    .slice(0, 22);
}

export function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify([TOKEN_VERSION, token.after, token.fingerprint]), 'utf8').toString('base64url');
}

/** The token's position, or why it is refused. */
export function decodePageToken(text: string, filter: EventFilter): { ok: true; after: string } | { ok: false; reason: string } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'is not a page token this server issued' };
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 3 ||
    decoded[0] !== TOKEN_VERSION ||
    typeof decoded[1] !== 'string' ||
    !/^[1-9][0-9]{0,17}$/.test(decoded[1]) ||
    typeof decoded[2] !== 'string'
  ) {
    return { ok: false, reason: 'is not a page token this server issued' };
  }
  if (decoded[2] !== filterFingerprint(filter)) {
    return { ok: false, reason: 'belongs to another query: send the same parameters as for the first page' };
  }
  return { ok: true, after: decoded[1] };
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/**
 * The WHERE conditions of a filter over epcis_events `e`, its values appended to `params`. An error
 * declaration is not an event of its own here: it is given inside the event it retracts.
 */
export async function conditions(db: Queryable, filter: EventFilter, params: unknown[]): Promise<string[]> {
  const p = (value: unknown) => `$${params.push(value)}`;
  const where = ['NOT e.is_declaration'];
  if (filter.eventTypes) where.push(`e.type = ANY (${p(filter.eventTypes)}::text[])`);
  if (filter.geEventTime) where.push(`e.event_time >= ${p(filter.geEventTime)}::timestamptz`);
  if (filter.ltEventTime) where.push(`e.event_time < ${p(filter.ltEventTime)}::timestamptz`);
  if (filter.geRecordTime || filter.ltRecordTime) {
    const captured = [
      ...(filter.geRecordTime ? [`d.captured_at >= ${p(filter.geRecordTime)}::timestamptz`] : []),
      ...(filter.ltRecordTime ? [`d.captured_at < ${p(filter.ltRecordTime)}::timestamptz`] : []),
    ];
    where.push(`e.document_id IN (SELECT d.id FROM epcis_documents d WHERE ${captured.join(' AND ')})`);
  }
  if (filter.actions) where.push(`e.action = ANY (${p(filter.actions)}::text[])`);
  // (capture stores CBV values as bare words, whichever of the three spellings arrived)
  if (filter.bizSteps) where.push(`e.biz_step = ANY (${p(filter.bizSteps.map((v) => cbvValue(v, 'BizStep')))}::text[])`);
  if (filter.dispositions) where.push(`e.disposition = ANY (${p(filter.dispositions.map((v) => cbvValue(v, 'Disp')))}::text[])`);
  if (filter.readPoints) where.push(`e.read_point = ANY (${p(filter.readPoints)}::text[])`);
  if (filter.bizLocations) where.push(`e.biz_location = ANY (${p(filter.bizLocations)}::text[])`);
  // (an event stored before the CBV event hash is also found by the ID it had then: migrations/2000)
  if (filter.eventIds) {
    const ids = p(filter.eventIds);
    where.push(
      `(e.event_id = ANY (${ids}::text[]) OR e.id IN (SELECT event_pk FROM epcis_event_legacy_ids WHERE legacy_id = ANY (${ids}::text[])))`,
    );
  }
  if (filter.lots) where.push(`e.lot = ANY (${p(filter.lots)}::text[])`);
  if (filter.retractedOnly) where.push('e.retracted');
  // The events naming an identifier are a handful: found first, then read by their keys in order.
  // (As `IN (…)`, the planner, which cannot estimate them, walked the events from the first to the
  // last one named: 130 ms for a case on a million-unit batch, instead of 1.)
  for (const group of filter.identifiers) {
    const lookups: string[] = [];
    for (const key of group.keys) lookups.push(`SELECT event_pk FROM (${await listsNamingSql(db, key, group.roles, params)}) n`);
    where.push(`e.id = ANY (ARRAY(${lookups.join(' UNION ')}))`);
  }
  return where;
}

export interface EventPage {
  /** The events of the page, rebuilt as EPCIS 2.0 JSON-LD. */
  events: Array<Record<string, unknown>>;
  /** The document-level @context the events' extension fields need. */
  context: unknown[];
  /**
   * Per event, the XML namespace prefixes its document declared when it was captured as XML (empty
   * for JSON): what an XML answer needs to write the event's extension fields in their namespaces.
   */
  namespaces: Array<Record<string, string>>;
  /** The token of the next page; absent on the last. */
  nextPageToken?: string;
}

/** One page of the events matching `filter`, in record order, after the position of `after` (a decoded token). */
export async function queryEvents(db: Queryable, filter: EventFilter, page: { perPage: number; after?: string }): Promise<EventPage> {
  const params: unknown[] = [];
  const where = await conditions(db, filter, params);
  if (page.after) where.push(`e.id > $${params.push(page.after)}::bigint`);
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id::text AS id FROM epcis_events e WHERE ${where.join('\n AND ')} ORDER BY e.id LIMIT $${params.push(page.perPage + 1)}`,
    params,
  );
  const more = rows.length > page.perPage;
  const ids = rows.slice(0, page.perPage).map((r) => r.id);
  const { events, context, namespaces } = await rebuildEvents(db, ids);
  return {
    events,
    context,
    namespaces,
    ...(more ? { nextPageToken: encodePageToken({ after: ids[ids.length - 1]!, fingerprint: filterFingerprint(filter) }) } : {}),
  };
}

/**
 * One event by its eventID, with the error declaration that retracted it if any; null when none was
 * captured. An event stored before the CBV event hash is found by the ID it was given then too.
 */
export async function findEvent(db: Queryable, eventId: string): Promise<EventPage | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id::text AS id FROM epcis_events WHERE event_id = $1 AND NOT is_declaration
     UNION ALL
     SELECT event_pk::text FROM epcis_event_legacy_ids WHERE legacy_id = $1
     LIMIT 1`,
    [eventId],
  );
  if (!rows[0]) return null;
  return rebuildEvents(db, [rows[0].id]);
}

// ---------------------------------------------------------------------------------------------
// Rebuilding events
// ---------------------------------------------------------------------------------------------

interface StoredList {
  role: 'epc' | 'parent' | 'child' | 'input' | 'output';
  kind: 'sgtin' | 'sscc' | 'lgtin' | 'other';
  prefix: string | null;
  keys: Array<string | null> | null;
  epcs: string[] | null;
  quantities: Array<number | null> | null;
  uoms: Array<string | null> | null;
}

interface StoredEvent {
  id: string;
  event_id: string;
  type: string;
  action: string | null;
  event_tz_offset: string;
  local_time: string;
  record_time: string;
  biz_step: string | null;
  disposition: string | null;
  read_point: string | null;
  biz_location: string | null;
  parent_id: string | null;
  extra: Record<string, unknown>;
  document_id: string;
  declaration: unknown;
  lists: StoredList[] | null;
}

const OFFSET = /^[+-]\d{2}:\d{2}$/;

/**
 * The stored rows of the events, in the order given. The event time is rendered in the event's own
 * offset by the database (to the microsecond, which a JavaScript Date would cut to the millisecond).
 */
async function storedEvents(db: Queryable, ids: string[]): Promise<StoredEvent[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<StoredEvent>(
    `SELECT e.id::text AS id, e.event_id, e.type, e.action, e.event_tz_offset,
            to_char(CASE WHEN e.event_tz_offset ~ '${OFFSET.source}' THEN e.event_time AT TIME ZONE e.event_tz_offset::interval
                         ELSE e.event_time AT TIME ZONE 'UTC' END, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS local_time,
            to_char(d.captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS record_time,
            e.biz_step, e.disposition, e.read_point, e.biz_location, e.parent_id, e.extra, e.document_id::text AS document_id,
            CASE WHEN e.retracted THEN (SELECT x.extra -> 'errorDeclaration' FROM epcis_events x
                                         WHERE x.event_id = e.event_id AND x.is_declaration) END AS declaration,
            (SELECT json_agg(json_build_object('role', l.role, 'kind', l.kind, 'prefix', l.epc_prefix, 'keys', l.keys, 'epcs', l.epcs,
                                               'quantities', l.quantities, 'uoms', l.uoms)
                             ORDER BY l.role, l.kind, l.gtin, l.lot, l.parent, l.epc_prefix)
               FROM epcis_event_identifiers l WHERE l.event_pk = e.id AND l.role <> 'parent') AS lists
       FROM epcis_events e JOIN epcis_documents d ON d.id = e.document_id
      WHERE e.id = ANY ($1::bigint[])`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r): r is StoredEvent => r !== undefined);
}

/** `2026-11-23T06:00:00.120000` → `2026-11-23T06:00:00.12`: the fraction without its trailing zeros (none when whole). */
function trimFraction(local: string): string {
  const [whole, fraction = ''] = local.split('.');
  const digits = fraction.replace(/0+$/, '');
  return digits ? `${whole}.${digits}` : (whole as string);
}

const LIST_FIELDS = {
  epc: ['epcList', 'quantityList'],
  child: ['childEPCs', 'childQuantityList'],
  input: ['inputEPCList', 'inputQuantityList'],
  output: ['outputEPCList', 'outputQuantityList'],
} as const;

/** The list an event type must carry, empty when it named nothing (the JSON Schema requires one). */
const REQUIRED_LIST: Record<string, string> = {
  ObjectEvent: 'epcList',
  TransactionEvent: 'epcList',
  AggregationEvent: 'childEPCs',
  AssociationEvent: 'childEPCs',
};

/** Whether a URI names a class, never an instance: an EPC class or pattern URN, a Digital Link with a GTIN and no serial. */
function isClassUri(uri: string): boolean {
  if (/^urn:epc:(?:class|idpat):/i.test(uri)) return true;
  const path = /^https?:\/\/[^/?#]+(\/[^?#]*)/i.exec(uri)?.[1];
  if (!path) return false;
  const segments = path.split('/');
  const gtinAt = segments.lastIndexOf('01');
  if (gtinAt < 0 || gtinAt + 1 >= segments.length) return false;
  for (let ai = gtinAt + 2; ai < segments.length; ai += 2) if (segments[ai] === '21') return false;
  return true;
}

/** The identifier and quantity lists of an event from its stored lists. */
function identifierFields(lists: StoredList[]): Record<string, unknown[]> {
  const fields: Record<string, unknown[]> = {};
  for (const l of lists) {
    if (l.role === 'parent') continue;
    const [instances, classes] = LIST_FIELDS[l.role];
    const n = (l.epcs ?? l.keys ?? []).length;
    for (let i = 0; i < n; i++) {
      const uri = l.prefix !== null ? `${l.prefix}${l.keys?.[i] ?? ''}` : (l.epcs?.[i] ?? '');
      const quantity = l.quantities?.[i] ?? null;
      const uom = l.uoms?.[i] ?? null;
      // A class came from a quantity list: an LGTIN, an identifier given a quantity or a unit, or a
      // class-level URI (an EPC class or pattern, a Digital Link without a serial). (Any other URI in
      // a quantity list without quantity or unit is indistinguishable from an instance identifier,
      // and is given back as one.)
      if (l.kind === 'lgtin' || quantity !== null || uom !== null || (l.kind === 'other' && isClassUri(uri))) {
        (fields[classes] ??= []).push({
          epcClass: uri,
          ...(quantity !== null ? { quantity: Number(quantity) } : {}),
          ...(uom !== null ? { uom } : {}),
        });
      } else {
        (fields[instances] ??= []).push(uri);
      }
    }
  }
  return fields;
}

/** One stored event as EPCIS 2.0 JSON-LD. */
export function rebuildEvent(row: StoredEvent): Record<string, unknown> {
  const { recordTime: _sent, errorDeclaration: _none, '@context': ownContext, ...extra } = row.extra;
  const offset = OFFSET.test(row.event_tz_offset) ? row.event_tz_offset : '+00:00';
  const lists = identifierFields(row.lists ?? []);
  const required = REQUIRED_LIST[row.type];
  if (required && !lists[required] && !lists[required === 'epcList' ? 'quantityList' : 'childQuantityList']) lists[required] = [];
  return {
    ...(ownContext !== undefined ? { '@context': ownContext } : {}),
    type: row.type,
    eventID: row.event_id,
    eventTime: `${trimFraction(row.local_time)}${offset}`,
    eventTimeZoneOffset: row.event_tz_offset || offset,
    recordTime: `${trimFraction(row.record_time)}Z`,
    ...(row.declaration ? { errorDeclaration: row.declaration } : {}),
    ...(row.parent_id !== null ? { parentID: row.parent_id } : {}),
    ...lists,
    ...(row.action !== null ? { action: row.action } : {}),
    ...(row.biz_step !== null ? { bizStep: row.biz_step } : {}),
    ...(row.disposition !== null ? { disposition: row.disposition } : {}),
    ...(row.read_point !== null ? { readPoint: { id: row.read_point } } : {}),
    ...(row.biz_location !== null ? { bizLocation: { id: row.biz_location } } : {}),
    ...extra,
  };
}

/** The events of the row IDs, in the order given, rebuilt as EPCIS 2.0 JSON-LD, with the @context they need. */
export async function rebuildEvents(db: Queryable, ids: string[]): Promise<Omit<EventPage, 'nextPageToken'>> {
  const rows = await storedEvents(db, ids);
  const declared = await documentContexts(
    db,
    rows.map((r) => r.document_id),
  );
  // Namespace prefixes the captured documents declared, for the events' extension fields: merged into
  // the answer's @context; a prefix two documents bind differently stays on the events of the second.
  const merged: Record<string, unknown> = {};
  const events = rows.map((row) => {
    const event = rebuildEvent(row);
    const own = declared.get(row.document_id)?.terms ?? {};
    const conflicting: Record<string, unknown> = {};
    for (const [prefix, value] of Object.entries(own)) {
      if (!(prefix in merged)) merged[prefix] = value;
      else if (JSON.stringify(merged[prefix]) !== JSON.stringify(value)) conflicting[prefix] = value;
    }
    if (Object.keys(conflicting).length && event['@context'] === undefined) return { '@context': conflicting, ...event };
    return event;
  });
  return {
    events,
    context: Object.keys(merged).length ? [EPCIS_CONTEXT, merged] : [EPCIS_CONTEXT],
    namespaces: rows.map((row) => declared.get(row.document_id)?.xmlns ?? {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The captured documents' @context
// ---------------------------------------------------------------------------------------------

/** How much of a document's beginning is read for its @context (it is the first member in practice). */
const CONTEXT_WINDOW = 16 * 1024;
/** Documents are permanent records: what they declared never changes, so it is kept per process. */
const CONTEXT_CACHE_SIZE = 10_000;
interface DeclaredNames {
  /** A JSON document's @context terms. */
  terms: Record<string, unknown>;
  /** An XML document's namespace prefixes. */
  xmlns: Record<string, string>;
}
const contextCache = new Map<string, DeclaredNames>();

async function documentContexts(db: Queryable, documentIds: string[]): Promise<Map<string, DeclaredNames>> {
  const wanted = [...new Set(documentIds)];
  const missing = wanted.filter((id) => !contextCache.has(id));
  if (missing.length) {
    // (substring reads only the first chunks of the compressed body)
    const { rows } = await db.query<{ id: string; head: string }>(
      `SELECT id::text AS id, substring(body FROM 1 FOR ${CONTEXT_WINDOW}) AS head FROM epcis_documents WHERE id = ANY ($1::bigint[])`,
      [missing],
    );
    for (const r of rows) {
      if (contextCache.size >= CONTEXT_CACHE_SIZE) contextCache.delete(contextCache.keys().next().value as string);
      const xml = /^\s*</.test(r.head.replace(/^\uFEFF/, ''));
      contextCache.set(r.id, xml ? { terms: {}, xmlns: declaredXmlNamespaces(r.head) } : { terms: declaredTerms(r.head), xmlns: {} });
    }
  }
  return new Map(wanted.map((id) => [id, contextCache.get(id) ?? { terms: {}, xmlns: {} }]));
}

/** Namespaces of the standard and of the wrappers around it: never an extension field's. */
const STRUCTURAL_NAMESPACES: ReadonlySet<string> = new Set([...Object.values(NS), 'http://www.w3.org/2001/XMLSchema']);

/**
 * The namespace prefixes an XML document declares in its beginning (in practice on its root
 * element), the first binding of each prefix; those of the standard and its wrappers left out.
 */
export function declaredXmlNamespaces(head: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of head.matchAll(/\sxmlns:([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g)) {
    const prefix = m[1]!;
    const uri = (m[2] ?? m[3] ?? '').replace(
      /&(amp|lt|gt|quot|apos);/g,
      (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!,
    );
    if (!(prefix in out) && uri && !STRUCTURAL_NAMESPACES.has(uri)) out[prefix] = uri;
  }
  return out;
}

/**
 * The terms (namespace prefixes and term definitions) a document's top-level @context declares
 * beyond the standard context, read from the beginning of its text; none when the @context does not
 * lie wholly within it.
 */
export function declaredTerms(head: string): Record<string, unknown> {
  const value = topLevelMember(head, '@context');
  if (value === undefined) return {};
  const entries = Array.isArray(value) ? value : [value];
  const terms: Record<string, unknown> = {};
  for (const entry of entries) {
    if (entry && typeof entry === 'object' && !Array.isArray(entry)) Object.assign(terms, entry);
  }
  return terms;
}

/** The value of a member of the top-level object of a JSON text that may be cut short after it; undefined when not found whole. */
function topLevelMember(text: string, name: string): unknown {
  let depth = 0;
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      if (end < 0) return undefined;
      if (depth === 1 && expectKey) {
        let key: unknown;
        try {
          key = JSON.parse(text.slice(i, end + 1));
        } catch {
          return undefined;
        }
        let j = end + 1;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] !== ':') return undefined;
        j++;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        const valueEnd = valueEndAt(text, j);
        if (valueEnd < 0) return undefined;
        if (key === name) {
          try {
            return JSON.parse(text.slice(j, valueEnd));
          } catch {
            return undefined;
          }
        }
        i = valueEnd;
        expectKey = false;
        continue;
      }
      i = end + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth <= 0) return undefined;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
    i++;
  }
  return undefined;
}

/** The index of the quote closing the string opening at `start`; -1 when the text ends first. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/** The index just past the JSON value starting at `start`; -1 when the text ends first. */
function valueEndAt(text: string, start: number): number {
  const first = text[start];
  if (first === '"') {
    const end = stringEnd(text, start);
    return end < 0 ? -1 : end + 1;
  }
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        const end = stringEnd(text, i);
        if (end < 0) return -1;
        i = end;
      } else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  const m = /^[^,}\]\s]+/.exec(text.slice(start, start + 64));
  return m ? start + m[0].length : -1;
}

/** The EPCISQueryDocument (EPCIS 2.0 JSON-LD) answering a query with `page`'s events. */
export function queryDocument(
  page: Pick<EventPage, 'events' | 'context'>,
  createdAt: Date,
  queryName = 'SimpleEventQuery',
): Record<string, unknown> {
  return {
    '@context': page.context,
    type: 'EPCISQueryDocument',
    schemaVersion: '2.0',
    creationDate: createdAt.toISOString(),
    epcisBody: { queryResults: { queryName, resultsBody: { eventList: page.events } } },
  };
}
