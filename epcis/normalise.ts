import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { parseEpc, parseLot } from '../domain/gs1';
import { unstorableTimeReason } from '../domain/iso-time';
import { ilmdKeys } from './ilmd-spellings';
import { cbvEventHash, isCbvEventHash } from './event-hash';

/**
 * Turns one schema-valid EPCIS 2.0 event into the rows capture stores: the event's own columns and
 * one row per identifier it names. Checks what the JSON Schema cannot: that an identifier spelled as
 * an SGTIN, SSCC or LGTIN (URN or Digital Link) is a valid GS1 key, and that a commissioning event's
 * lot and expiry are usable. Every problem is reported with the field it concerns.
 */

export interface CaptureProblem {
  /** Index of the event in the document's event list; absent for the document itself. */
  eventIndex?: number;
  field: string;
  reason: string;
  /** In an XML document: the element concerned (a path from the event or the document's root) and its line. */
  element?: string;
  line?: number;
}

export type EpcRole = 'epc' | 'parent' | 'child' | 'input' | 'output';

export interface EpcRow {
  role: EpcRole;
  kind: 'sgtin' | 'sscc' | 'lgtin' | 'other';
  epc: string;
  gtin: string | null;
  serial: string | null;
  sscc: string | null;
  lot: string | null;
  quantity: number | null;
  uom: string | null;
  parent: string | null;
}

export interface NormalisedEvent {
  eventId: string;
  isDeclaration: boolean;
  type: string;
  action: string | null;
  eventTime: string;
  eventTzOffset: string;
  bizStep: string | null;
  disposition: string | null;
  readPoint: string | null;
  bizLocation: string | null;
  parentId: string | null;
  lot: string | null;
  expiry: string | null;
  /** The event's other fields (extensions included), as JSON for the jsonb column. */
  extraJson: string;
  epcs: EpcRow[];
  /**
   * The ID the event would have had before the CBV 2.0 event hash (contentEventId), when it names
   * itself by content: no eventID, or (an error declaration) the CBV hash of the event it declares.
   * Only worked out when asked for (NormaliseOptions.legacyIds).
   */
  legacyId: string | null;
}

export interface NormaliseOptions {
  /** Namespace prefixes in force for the event's extension names (its document's @context, or XML's declarations). */
  prefixes?: Readonly<Record<string, string>>;
  /** Work out legacyId: only needed while events stored under the former IDs exist. */
  legacyIds?: boolean;
}

/**
 * EPCIS 2.0 makes eventID optional and the REST binding asks the server to supply one: the CBV 2.0
 * event hash, which the sender can compute too (its error declaration names the event by it), and
 * which is the same for the event sent as XML or JSON, with EPC URNs or Digital Links.
 */
function eventIdentity(event: Record<string, unknown>, opts: NormaliseOptions): { eventId: string; legacyId: string | null } {
  const given = typeof event.eventID === 'string' ? event.eventID : null;
  if (given !== null && !(event.errorDeclaration !== undefined && isCbvEventHash(given))) return { eventId: given, legacyId: null };
  const hash = cbvEventHash(event, opts.prefixes);
  if (given !== null && given !== hash) return { eventId: given, legacyId: null };
  if (!opts.legacyIds) return { eventId: hash, legacyId: null };
  // (a declaration repeats the event it declares: without the declaration, it is that event's content)
  const { eventID: _id, errorDeclaration: _declaration, ...content } = event;
  return { eventId: hash, legacyId: contentEventId(event.errorDeclaration !== undefined ? content : event) };
}

/** ilmd keys that carry the lot and expiry: every recognised spelling (epcis/ilmd-spellings.ts). */
const LOT_KEYS = ilmdKeys('lot');
const EXPIRY_KEYS = ilmdKeys('expiry');

/** Fields stored as columns or identifier rows; everything else of the event goes to `extra`. */
const NORMALISED_FIELDS = new Set([
  'type',
  'eventID',
  'eventTime',
  'eventTimeZoneOffset',
  'action',
  'bizStep',
  'disposition',
  'readPoint',
  'bizLocation',
  'parentID',
  'epcList',
  'childEPCs',
  'inputEPCList',
  'outputEPCList',
  'quantityList',
  'childQuantityList',
  'inputQuantityList',
  'outputQuantityList',
]);

/**
 * CBV values arrive as bare words ("shipping"), CBV 2.0 URIs (https://ref.gs1.org/cbv/BizStep-shipping)
 * or CBV 1.x URNs (urn:epcglobal:cbv:bizstep:shipping). Stored as the bare word so queries match all three.
 */
export function cbvValue(value: unknown, kind: 'BizStep' | 'Disp'): string | null {
  if (typeof value !== 'string') return null;
  const web = `https://ref.gs1.org/cbv/${kind}-`;
  if (value.startsWith(web)) return value.slice(web.length);
  const urn = `urn:epcglobal:cbv:${kind === 'BizStep' ? 'bizstep' : 'disp'}:`;
  if (value.startsWith(urn)) return value.slice(urn.length);
  return value;
}

/**
 * A Digital Link path that claims an SGTIN (/01/… with /21/…), an LGTIN (/01/… with /10/…) or an
 * SSCC (/00/…): it must then parse as one, so a wrong check digit or qualifiers out of order are
 * refused rather than stored as some other URI.
 */
const DL_INSTANCE = /^https?:\/\/[^/]+(?:\/[^?#]*)?\/(?:01\/[^/?#]+(?:\/[^/?#]+)*\/21\/|00\/)/i;
const DL_LGTIN = /^https?:\/\/[^/]+(?:\/[^?#]*)?\/01\/[^/?#]+(?:\/[^/?#]+)*\/10\//i;
const GS1_URN = /^urn:epc:(?:id:(?:sgtin|sscc)|class:lgtin):/i;

/**
 * One identifier as a row. Runs for every identifier of every captured event (two million per
 * million-unit batch), so it builds one object and no strings unless something is wrong.
 */
function classify(
  uri: string,
  role: EpcRole,
  parent: string | null,
  field: () => string,
  problems: CaptureProblem[],
  index: number,
  wantClass = false,
): EpcRow {
  const row: EpcRow = { role, kind: 'other', epc: uri, gtin: null, serial: null, sscc: null, lot: null, quantity: null, uom: null, parent };
  const claimsGs1 = GS1_URN.test(uri) || (wantClass ? DL_LGTIN.test(uri) : DL_INSTANCE.test(uri));
  if (!claimsGs1) return row;
  const r = parseEpc(uri);
  if (!r.ok) {
    problems.push({ eventIndex: index, field: field(), reason: r.error.message });
    return row;
  }
  const v = r.value;
  if (wantClass && v.kind !== 'lgtin') {
    problems.push({ eventIndex: index, field: field(), reason: 'must name a class (GTIN and lot), not an instance' });
    return row;
  }
  row.kind = v.kind;
  if (v.kind === 'sgtin') {
    row.gtin = v.gtin;
    row.serial = v.serial;
  } else if (v.kind === 'sscc') row.sscc = v.sscc;
  else {
    row.gtin = v.gtin;
    row.lot = v.lot;
  }
  return row;
}

function ilmdValue(ilmd: unknown, keys: string[]): unknown {
  if (!ilmd || typeof ilmd !== 'object') return undefined;
  for (const k of keys) if (k in (ilmd as Record<string, unknown>)) return (ilmd as Record<string, unknown>)[k];
  return undefined;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** A calendar date of the proleptic Gregorian calendar (worked out here: Date.UTC reads years 0–99 as 1900–1999). */
function validDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number));
}

/**
 * The ID this product gave an event without eventID before it used the CBV 2.0 event hash: the SHA-256
 * of the event's canonical JSON (RFC 8785). Events stored under it keep it as a legacy ID
 * (migrations/2000), so a re-sent one is still recognised.
 */
export function contentEventId(event: unknown): string {
  return `ni:///sha-256;${createHash('sha256')
    .update(canonicalize(event) ?? '')
    .digest('hex')}`;
}

/**
 * Normalises one event; problems found are appended to `problems` (the event is then not stored).
 * Capture also runs it on an event the schema refused, for the GS1 problems alone, so it assumes
 * nothing of the fields' types.
 */
export function normaliseEvent(
  event: Record<string, unknown>,
  index: number,
  problems: CaptureProblem[],
  opts: NormaliseOptions = {},
): NormalisedEvent {
  const before = problems.length;
  // (strings after the schema's check; an event it refused is still read here, so nothing is assumed)
  const type = typeof event.type === 'string' ? event.type : '';
  const action = typeof event.action === 'string' ? event.action : null;
  const bizStep = cbvValue(event.bizStep, 'BizStep');
  const disposition = cbvValue(event.disposition, 'Disp');
  const eventTime = typeof event.eventTime === 'string' ? event.eventTime : '';
  // (the schema has checked the form, leap seconds included, which Date.parse would refuse)
  const timeReason = unstorableTimeReason(eventTime);
  if (timeReason) problems.push({ eventIndex: index, field: 'eventTime', reason: timeReason });

  const isCommissioning = type === 'ObjectEvent' && action === 'ADD';
  let lot: string | null = null;
  let expiry: string | null = null;
  const ilmd = event.ilmd;
  const rawLot = ilmdValue(ilmd, LOT_KEYS);
  if (rawLot !== undefined) {
    const r = typeof rawLot === 'string' ? parseLot(rawLot) : null;
    if (r?.ok) lot = r.value;
    else problems.push({ eventIndex: index, field: 'ilmd.lotNumber', reason: r && !r.ok ? r.error.message : 'must be a string' });
  }
  const rawExpiry = ilmdValue(ilmd, EXPIRY_KEYS);
  if (rawExpiry !== undefined) {
    const reason = typeof rawExpiry !== 'string' || !validDate(rawExpiry) ? 'must be a date (YYYY-MM-DD)' : unstorableTimeReason(rawExpiry);
    if (reason) problems.push({ eventIndex: index, field: 'ilmd.itemExpirationDate', reason });
    else expiry = rawExpiry as string;
  }

  const parentRaw = typeof event.parentID === 'string' ? event.parentID : null;
  let parentKey: string | null = null;
  const epcs: EpcRow[] = [];
  if (parentRaw !== null) {
    const p = classify(parentRaw, 'parent', null, () => 'parentID', problems, index);
    parentKey = p.sscc ?? parentRaw;
    epcs.push(p);
  }

  const list = (name: string, role: EpcRole) => {
    const value = event[name];
    if (!Array.isArray(value)) return;
    const parent = role === 'child' ? parentKey : null;
    for (let i = 0; i < value.length; i++) {
      const uri = value[i];
      if (typeof uri !== 'string') continue; // the schema has already refused it
      const row = classify(uri, role, parent, () => `${name}[${i}]`, problems, index);
      // A commissioning event's units take the lot of its ilmd: that is how a unit joins its batch.
      if (row.kind === 'sgtin' && isCommissioning) row.lot = lot;
      epcs.push(row);
    }
  };
  const quantities = (name: string, role: EpcRole) => {
    const value = event[name];
    if (!Array.isArray(value)) return;
    const parent = role === 'child' ? parentKey : null;
    for (let i = 0; i < value.length; i++) {
      const q = value[i] as { epcClass?: unknown; quantity?: unknown; uom?: unknown };
      if (!q || typeof q.epcClass !== 'string') continue;
      const row = classify(q.epcClass, role, parent, () => `${name}[${i}].epcClass`, problems, index, true);
      row.quantity = typeof q.quantity === 'number' ? q.quantity : null;
      row.uom = typeof q.uom === 'string' ? q.uom : null;
      epcs.push(row);
    }
  };
  list('epcList', 'epc');
  list('childEPCs', 'child');
  list('inputEPCList', 'input');
  list('outputEPCList', 'output');
  quantities('quantityList', 'epc');
  quantities('childQuantityList', 'child');
  quantities('inputQuantityList', 'input');
  quantities('outputQuantityList', 'output');

  if (
    isCommissioning &&
    lot === null &&
    problems.length === before &&
    bizStep === 'commissioning' &&
    epcs.some((e) => e.kind === 'sgtin')
  ) {
    // Without a lot the units cannot join a batch, and reconciliation would never see them.
    problems.push({
      eventIndex: index,
      field: 'ilmd',
      reason: 'a commissioning event for SGTINs must carry the lot (cbvmda:lotNumber) in ilmd',
    });
  }

  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (!NORMALISED_FIELDS.has(k)) extra[k] = v;
  const extraJson = JSON.stringify(extra);
  if (extraJson.includes('\\u') && JSONB_UNREADABLE.test(extraJson)) {
    problems.push({
      eventIndex: index,
      field: unreadableField(extra) ?? '(event)',
      reason: 'holds U+0000 or an unpaired surrogate, which cannot be stored',
    });
  }
  const readPoint = (event.readPoint as { id?: unknown } | undefined)?.id;
  const bizLocation = (event.bizLocation as { id?: unknown } | undefined)?.id;
  const { eventId, legacyId } = problems.length === before ? eventIdentity(event, opts) : { eventId: '', legacyId: null };
  return {
    eventId,
    legacyId,
    isDeclaration: event.errorDeclaration !== undefined,
    type,
    action,
    eventTime,
    eventTzOffset: typeof event.eventTimeZoneOffset === 'string' ? event.eventTimeZoneOffset : '',
    bizStep,
    disposition,
    readPoint: typeof readPoint === 'string' ? readPoint : null,
    bizLocation: typeof bizLocation === 'string' ? bizLocation : null,
    parentId: parentRaw,
    lot,
    expiry,
    extraJson,
    epcs,
  };
}

/**
 * JSON.stringify writes U+0000 and unpaired surrogates as \u escapes, which PostgreSQL's jsonb
 * refuses to read: an escape preceded by an even run of backslashes (an odd one is an escaped
 * backslash followed by the letters).
 */
const JSONB_UNREADABLE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/;

/** Whether JSON text (as JSON.stringify writes it) holds something a jsonb column cannot store. */
export const jsonbCannotHold = (json: string): boolean => json.includes('\\u') && JSONB_UNREADABLE.test(json);

/** The path of the first key or string in `value` that jsonb cannot hold (for the problem's field). */
function unreadableField(value: unknown, path = ''): string | null {
  const bad = (s: string) => JSONB_UNREADABLE.test(JSON.stringify(s));
  if (typeof value === 'string') return bad(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unreadableField(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (bad(k)) return here;
      const found = unreadableField(v, here);
      if (found !== null) return found;
    }
  }
  return null;
}
