import { createHash } from 'node:crypto';
import { withCheckDigit } from '../domain/gs1/check-digit';

/**
 * The CBV 2.0 event hash (CBV 2.0, "Event hash ID"): `ni:///sha-256;<hex>?ver=CBV2.0`, the SHA-256 of
 * the event's pre-hash string. Two parties that hash the same event get the same ID whatever syntax
 * (XML or JSON), identifier spelling (EPC URN or any GS1 Digital Link), CBV spelling (bare word, URN or
 * web URI), time zone or list order they used, so an event sent without an eventID can be named later,
 * by its sender's error declaration above all.
 *
 * The pre-hash string: "eventType=" and the type, then the standard fields in the standard's order,
 * each as `name=value` (nested fields as the name followed by its children), repeated values sorted;
 * then everything else (ILMD, business transactions, sources, destinations, extensions) sorted.
 * Values are canonical: GS1 keys as constrained canonical Digital Links on id.gs1.org, CBV values as
 * web URIs, numbers without padding, times in UTC to the millisecond, extension names as
 * `{namespace}local`. eventID, recordTime and errorDeclaration are left out, so an error declaration
 * hashes like the event it declares wrong.
 *
 * Where the standard leaves a detail open, the reference implementation (GS1 Germany's
 * epcis-event-hash-generator) decides, since that is what senders compute; its vectors are the tests.
 */

/** One field in the element model the algorithm is defined on (that of EPCIS XML). */
interface Node {
  name: string;
  value: string;
  children: Item[];
}
/** A business transaction, source or destination: its type and its value, kept in that order. */
interface Pair {
  pair: Node[];
}
type Item = Node | Pair;
const isPair = (i: Item): i is Pair => 'pair' in i;

type Order = ReadonlyArray<readonly [string, Order | null]>;

const QUANTITY: Order = [
  [
    'quantityElement',
    [
      ['epcClass', null],
      ['quantity', null],
      ['uom', null],
    ],
  ],
];
const EPCS: Order = [['epc', null]];
/** The standard's field order; a field with children lists the order of those. */
const FIELD_ORDER: Order = [
  ['eventTime', null],
  ['eventTimeZoneOffset', null],
  ['certificationInfo', null],
  ['parentID', null],
  ['epcList', EPCS],
  ['inputEPCList', EPCS],
  ['childEPCs', EPCS],
  ['quantityList', QUANTITY],
  ['childQuantityList', QUANTITY],
  ['inputQuantityList', QUANTITY],
  ['outputEPCList', EPCS],
  ['outputQuantityList', QUANTITY],
  ['action', null],
  ['transformationID', null],
  ['bizStep', null],
  ['disposition', null],
  [
    'persistentDisposition',
    [
      ['set', null],
      ['unset', null],
    ],
  ],
  ['readPoint', [['id', null]]],
  ['bizLocation', [['id', null]]],
  // (business transactions, sources and destinations come with the remaining fields, sorted)
  [
    'sensorElementList',
    [
      [
        'sensorElement',
        [
          [
            'sensorMetadata',
            ['time', 'startTime', 'endTime', 'deviceID', 'deviceMetadata', 'rawData', 'dataProcessingMethod', 'bizRules'].map(
              (n) => [n, null] as const,
            ),
          ],
          [
            'sensorReport',
            [
              'type',
              'exception',
              'deviceID',
              'deviceMetadata',
              'rawData',
              'dataProcessingMethod',
              'time',
              'microorganism',
              'chemicalSubstance',
              'value',
              'component',
              'stringValue',
              'booleanValue',
              'hexBinaryValue',
              'uriValue',
              'minValue',
              'maxValue',
              'meanValue',
              'sDev',
              'percRank',
              'percValue',
              'uom',
              'coordinateReferenceSystem',
            ].map((n) => [n, null] as const),
          ],
        ],
      ],
    ],
  ],
];

/** Fields that are not part of what happened: who numbered or recorded it, and a later retraction. */
const LEFT_OUT = new Set(['recordTime', 'eventID', 'type', 'errorDeclaration']);
/** Keys that never reach the hash: annotations, and JSON-LD's own keywords. */
const IGNORED_KEY = (k: string) => k === '#text' || k === 'comment' || k === 'rdfs:comment' || k.startsWith('@');
const PAIR_LISTS = new Set(['bizTransactionList', 'sourceList', 'destinationList']);

/** The prefixes the EPCIS 2.0 JSON-LD context declares that events use; a document's own context adds to them. */
export const STANDARD_PREFIXES: Readonly<Record<string, string>> = {
  cbvmda: 'urn:epcglobal:cbv:mda:',
  gs1: 'https://gs1.org/voc/',
  cbv: 'https://ref.gs1.org/cbv/',
  epcis: 'https://ref.gs1.org/epcis/',
  gs1ushc: 'http://epcis.gs1us.org/hc/ns/',
};

const CBV = 'https://ref.gs1.org/cbv/';
const GS1_VOC = 'https://gs1.org/voc/';

/** The namespace prefixes of a document's JSON-LD `@context` (its objects' string values). */
export function contextPrefixes(context: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Array.isArray(context) ? context : [context];
  for (const c of entries) {
    if (!c || typeof c !== 'object' || Array.isArray(c)) continue;
    for (const [k, v] of Object.entries(c as Record<string, unknown>)) if (typeof v === 'string' && !k.startsWith('@')) out[k] = v;
  }
  return out;
}

/**
 * The CBV 2.0 event hash of one EPCIS 2.0 JSON event. `prefixes` are the namespace prefixes in force
 * for its extension names and CURIE values (the document's `@context`, or an XML document's
 * declarations); the standard context's are always known.
 */
export function cbvEventHash(event: Record<string, unknown>, prefixes: Readonly<Record<string, string>> = {}): string {
  return `ni:///sha-256;${createHash('sha256').update(cbvPreHashString(event, prefixes), 'utf8').digest('hex')}?ver=CBV2.0`;
}

/** Whether an eventID is a CBV 2.0 event hash (of any event). */
export const isCbvEventHash = (id: string): boolean => /^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/.test(id);

export function cbvPreHashString(event: Record<string, unknown>, prefixes: Readonly<Record<string, string>> = {}): string {
  // (an event may bind prefixes of its own, in its own @context)
  const ns = { ...STANDARD_PREFIXES, ...prefixes, ...contextPrefixes(event['@context']) };
  const type = typeof event.type === 'string' ? event.type : '';
  const root = restructure(toNode(type, withVocabularyUris(event), ns));
  const ordered = inOrder(root.children, FIELD_ORDER);
  const rest = root.children.filter((c) => isPair(c) || !LEFT_OUT.has(c.name));
  return `eventType=${type}${ordered}${rest.length ? generic(rest) : ''}`;
}

// ---------------------------------------------------------------------------------------------
// From JSON to the element model

/** A JSON-LD bare word of a vocabulary-typed field, as the standard context expands it. */
function vocabulary(value: unknown, base: string): unknown {
  return typeof value === 'string' && value !== '' && !value.includes(':') ? base + value : value;
}

/** The event with the bare words of CBV- and GS1-vocabulary fields written as their URIs. */
function withVocabularyUris(event: Record<string, unknown>): Record<string, unknown> {
  const e: Record<string, unknown> = { ...event };
  e.bizStep = vocabulary(e.bizStep, `${CBV}BizStep-`);
  e.disposition = vocabulary(e.disposition, `${CBV}Disp-`);
  if (e.bizStep === undefined) delete e.bizStep;
  if (e.disposition === undefined) delete e.disposition;
  const mapList = (key: string, f: (o: Record<string, unknown>) => Record<string, unknown>) => {
    const v = e[key];
    if (Array.isArray(v)) e[key] = v.map((o) => (o && typeof o === 'object' && !Array.isArray(o) ? f(o as Record<string, unknown>) : o));
  };
  const typed = (base: string) => (o: Record<string, unknown>) => ('type' in o ? { ...o, type: vocabulary(o.type, base) } : o);
  mapList('bizTransactionList', typed(`${CBV}BTT-`));
  mapList('sourceList', typed(`${CBV}SDT-`));
  mapList('destinationList', typed(`${CBV}SDT-`));
  const pd = e.persistentDisposition;
  if (pd && typeof pd === 'object' && !Array.isArray(pd)) {
    const p = { ...(pd as Record<string, unknown>) };
    for (const k of ['set', 'unset']) if (Array.isArray(p[k])) p[k] = (p[k] as unknown[]).map((v) => vocabulary(v, `${CBV}Disp-`));
    e.persistentDisposition = p;
  }
  mapList('sensorElementList', (el) => {
    const reports = el.sensorReport;
    if (!Array.isArray(reports)) return el;
    return {
      ...el,
      sensorReport: reports.map((r) => {
        if (!r || typeof r !== 'object' || Array.isArray(r)) return r;
        const o = { ...(r as Record<string, unknown>) };
        if ('type' in o) o.type = vocabulary(o.type, GS1_VOC);
        if ('exception' in o) o.exception = vocabulary(o.exception, GS1_VOC);
        if ('component' in o) o.component = vocabulary(o.component, `${CBV}Comp-`);
        return o;
      }),
    };
  });
  return e;
}

/** "prefix:local" with a known prefix, as `{namespace}local` (a name) or `namespacelocal` (a value). */
function expandName(key: string, ns: Record<string, string>): string {
  const cut = key.indexOf(':');
  if (cut < 0) return key;
  const iri = ns[key.slice(0, cut)];
  return iri === undefined ? key : `{${iri}}${key.slice(cut + 1)}`;
}
function expandValue(value: string, ns: Record<string, string>): string {
  const cut = value.indexOf(':');
  if (cut < 0) return value;
  const iri = ns[value.slice(0, cut)];
  return iri === undefined ? value : iri + value.slice(cut + 1);
}

/** A JSON scalar as the reference's Python sees it before canonicalisation. */
function scalarText(v: unknown, ns: Record<string, string>): string {
  if (typeof v === 'string') return expandValue(v, ns);
  if (typeof v === 'number') return pythonNumber(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return 'None';
}

function toNode(name: string, json: unknown, ns: Record<string, string>): Node {
  const node: Node = { name, value: '', children: [] };
  if (Array.isArray(json)) {
    for (const el of json) node.children.push(toNode('', el, ns));
  } else if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if (typeof o['#text'] === 'string') node.value = o['#text'];
    for (const [key, val] of Object.entries(o)) {
      if (IGNORED_KEY(key)) continue;
      const child = toNode('', val, ns);
      const k = expandName(key, ns);
      // (a list becomes one element per item, each under the list's name, as XML repeats elements)
      if (Array.isArray(val)) for (const el of child.children as Node[]) node.children.push({ ...el, name: k });
      else node.children.push({ ...child, name: k });
    }
  } else {
    node.value = scalarText(json, ns);
  }
  return node;
}

/**
 * Brings the JSON shape to XML's, where the algorithm is defined: `xList` items become `x` children
 * of one `xList`, quantity elements are `quantityElement`, input and output EPCs are `epc`, a
 * business transaction, source or destination is its (type, value) pair.
 */
function restructure(node: Node): Node {
  const kept: Item[] = [];
  const lists = new Map<string, Node[]>();
  const childEpcs: Node[] = [];
  for (const c of node.children) {
    if (isPair(c)) kept.push(c);
    else if (c.name.endsWith('List')) {
      const group = lists.get(c.name) ?? [];
      group.push({ name: c.name.slice(0, -4), value: c.value, children: c.children });
      lists.set(c.name, group);
    } else if (c.name === 'childEPCs') childEpcs.push({ name: 'epc', value: c.value, children: [] });
    else kept.push(c);
  }
  const children: Item[] = kept.map((c) => (isPair(c) ? c : restructure(c)));
  for (const [name, items] of lists) {
    if (PAIR_LISTS.has(name)) {
      const value = name === 'bizTransactionList' ? 'bizTransaction' : name.slice(0, -4);
      children.push({
        name,
        value: '',
        children: items.map((i) => {
          const fields = i.children.filter((f): f is Node => !isPair(f));
          // (the standard's order, type first, whatever order the sender's JSON had)
          return { pair: [...fields.filter((f) => f.name === 'type'), ...fields.filter((f) => f.name === value)] };
        }),
      });
    } else children.push(restructure({ name, value: '', children: items }));
  }
  if (childEpcs.length) children.push({ name: 'childEPCs', value: '', children: childEpcs });
  return renamed({ name: node.name, value: node.value, children });
}

function renamed(n: Node): Node {
  if (n.name === 'inputEPC' || n.name === 'outputEPC') return { ...n, name: 'epc' };
  if (
    n.name === 'inputQuantity' ||
    n.name === 'outputQuantity' ||
    n.name === 'childQuantity' ||
    (n.name === 'quantity' && n.children.length > 0)
  )
    return { ...n, name: 'quantityElement' };
  return n;
}

// ---------------------------------------------------------------------------------------------
// The pre-hash string

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The fields named in `order`, in that order, each one's values sorted; the fields used up are
 * removed from `items` (what is left goes to the sorted remainder). Extension fields nested in a
 * standard field (`{namespace/}name`) follow that field's standard children.
 */
function inOrder(items: Item[], order: Order): string {
  let out = '';
  const extensions = nestedExtensions(items);
  for (const [name, sub] of order) {
    const values: string[] = [];
    const used = new Set<Item>();
    for (const child of items) {
      if (isPair(child) || child.name !== name) continue;
      const s = fieldString(child, sub);
      if (s) values.push(s);
      if (child.children.length === 0) used.add(child);
    }
    if (used.size) removeAll(items, used);
    values.sort(byCodeUnit);
    out += values.join('');
  }
  if (extensions.length) out += generic(extensions);
  return out;
}

function nestedExtensions(items: Item[]): Node[] {
  if (items.length <= 1) return [];
  // (at the event's own level, extensions belong to the sorted remainder)
  if (items.some((c) => !isPair(c) && (c.name.includes('eventTime') || c.name.includes('action')))) return [];
  const found = items.filter((c): c is Node => !isPair(c) && c.name.includes('{') && c.name.includes('/}'));
  if (found.length) removeAll(items, new Set(found));
  return found;
}

/** Removes `gone` from `items` in place, in one pass (an EPC list has thousands of items). */
function removeAll(items: Item[], gone: ReadonlySet<Item>): void {
  let w = 0;
  for (const item of items) if (!gone.has(item)) items[w++] = item;
  items.length = w;
}

function fieldString(child: Node, sub: Order | null): string {
  const inner = sub ? inOrder(child.children, sub) : '';
  let text = '';
  if (child.value) {
    text = child.value.trim();
    const lower = child.name.toLowerCase();
    text = lower.includes('time') && !lower.includes('offset') ? utcMillis(text) : canonicalValue(text);
    if (text) text = `=${text}`;
  }
  return text || inner ? child.name + text + inner : '';
}

/** Fields outside the standard order: each as name, value and children, sorted (a pair keeps its order). */
function generic(items: Item[]): string {
  const values = items.map((c) => {
    if (isPair(c)) return generic(c.pair);
    let text = c.value.trim();
    if (text) text = `=${canonicalValue(text)}`;
    return c.name + text + generic(c.children);
  });
  const keepOrder = items.some((c) => !isPair(c) && (c.name === 'bizTransaction' || c.name === 'source' || c.name === 'destination'));
  if (items.length > 1 && !keepOrder) values.sort(byCodeUnit);
  return values.join('');
}

// ---------------------------------------------------------------------------------------------
// Values

const CBV_URNS: ReadonlyArray<readonly [string, string]> = [
  ['urn:epcglobal:cbv:bizstep:', `${CBV}BizStep-`],
  ['urn:epcglobal:cbv:disp:', `${CBV}Disp-`],
  ['urn:epcglobal:cbv:btt:', `${CBV}BTT-`],
  ['urn:epcglobal:cbv:sdt:', `${CBV}SDT-`],
  ['urn:epcglobal:cbv:er:', `${CBV}ER-`],
];

export function canonicalValue(text: string): string {
  let t = text;
  if (t.includes('urn:epcglobal:cbv:')) for (const [urn, web] of CBV_URNS) t = t.split(urn).join(web);
  t = canonicalNumber(t);
  return canonicalGs1Uri(t) ?? t;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A number written as Python writes the float it reads ("+07.50" as 7.5, "600.0" as 600); other text as it is. */
function canonicalNumber(text: string): string {
  if (!DECIMAL.test(text)) return text;
  const n = Number(text);
  return Number.isFinite(n) ? pythonNumber(n) : text;
}
function pythonNumber(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  if (Math.abs(n) < 1e-4) {
    const [mantissa, exponent] = n.toExponential().split('e') as [string, string];
    const sign = exponent.startsWith('-') ? '-' : '+';
    return `${mantissa}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(n);
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;
/** A date-time in UTC to the millisecond (microseconds rounded half to even, as the reference does). */
export function utcMillis(text: string): string {
  const m = TIME.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const micros = Number((frac + '000000').slice(0, 6));
  let millis = Math.floor(micros / 1000);
  const rest = micros % 1000;
  if (rest > 500 || (rest === 500 && millis % 2 === 1)) millis++;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = zone.replace(':', '');
    offsetMinutes = (z.startsWith('-') ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis) - offsetMinutes * 60_000;
  if (!Number.isFinite(t)) return text;
  const date = new Date(t);
  // (Date.UTC reads years 0–99 as 1900–1999; an event's year has four digits and is past 1900)
  return date.toISOString();
}

// ---------------------------------------------------------------------------------------------
// GS1 keys: every EPC URN and GS1 Digital Link spelling, as one constrained canonical Digital Link

const DL = 'https://id.gs1.org';
/** Characters GS1 Digital Link wants percent-encoded, of those EPC URNs allow unencoded. */
const dlEncode = (s: string) => s.replace(/[!()*+,:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const URN_CHAR = `(?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-])`;
/** Splits "CP.REF" where CP has 6–12 digits and both together have `total` digits. */
function partition(cp: string, ref: string, total: number): boolean {
  return /^\d{6,12}$/.test(cp) && /^\d*$/.test(ref) && cp.length + ref.length === total;
}
const gtinOf = (cp: string, itemRef: string) => withCheckDigit(itemRef.slice(0, 1) + cp + itemRef.slice(1));

const CPI_REF = /^(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])+$/;
type UrnRule = (parts: string[]) => string | null;
const URN_TEXT = new Map<number, RegExp>();
const serialOk = (s: string | undefined, max: number) => {
  if (s === undefined || s.length === 0) return false;
  let re = URN_TEXT.get(max);
  if (!re) URN_TEXT.set(max, (re = new RegExp(`^${URN_CHAR}{1,${max}}$`)));
  return re.test(s);
};

/** The EPC URN schemes the hash canonicalises, each from its dot-separated parts (after "urn:epc:id:<scheme>:"). */
const ID_URNS: Record<string, UrnRule> = {
  sgtin: ([cp = '', ir = '', ...s]) =>
    partition(cp, ir, 13) && serialOk(s.join('.'), 20) ? `${DL}/01/${gtinOf(cp, ir)}/21/${dlEncode(s.join('.'))}` : null,
  sscc: ([cp = '', sr = '', ...x]) =>
    !x.length && partition(cp, sr, 17) ? `${DL}/00/${withCheckDigit(sr.slice(0, 1) + cp + sr.slice(1))}` : null,
  sgln: ([cp = '', lr = '', ...e]) => {
    const ext = e.join('.');
    if (!partition(cp, lr, 12) || !serialOk(ext, 20)) return null;
    const gln = withCheckDigit(cp + lr);
    return ext === '0' ? `${DL}/414/${gln}` : `${DL}/414/${gln}/254/${dlEncode(ext)}`;
  },
  grai: ([cp = '', at = '', ...s]) =>
    partition(cp, at, 12) && serialOk(s.join('.'), 16) ? `${DL}/8003/${withCheckDigit('0' + cp + at)}${dlEncode(s.join('.'))}` : null,
  giai: ([cp = '', ...a]) => {
    const ar = a.join('.');
    return /^\d{6,12}$/.test(cp) && serialOk(ar, 30 - cp.length) ? `${DL}/8004/${cp}${dlEncode(ar)}` : null;
  },
  gsrn: ([cp = '', sr = '', ...x]) => (!x.length && partition(cp, sr, 17) ? `${DL}/8018/${withCheckDigit(cp + sr)}` : null),
  gsrnp: ([cp = '', sr = '', ...x]) => (!x.length && partition(cp, sr, 17) ? `${DL}/8017/${withCheckDigit(cp + sr)}` : null),
  gdti: ([cp = '', dt = '', ...s]) =>
    partition(cp, dt, 12) && serialOk(s.join('.'), 17) ? `${DL}/253/${withCheckDigit(cp + dt)}${dlEncode(s.join('.'))}` : null,
  cpi: (parts) => {
    const [cp = '', ...rest] = parts;
    const serial = rest.pop() ?? '';
    const ref = rest.join('.');
    return /^\d{6,12}$/.test(cp) && /^\d{1,12}$/.test(serial) && CPI_REF.test(ref)
      ? `${DL}/8010/${dlEncode(cp + ref)}/8011/${serial}`
      : null;
  },
  sgcn: ([cp = '', cr = '', s = '', ...x]) =>
    !x.length && partition(cp, cr, 12) && /^\d{1,12}$/.test(s) ? `${DL}/255/${withCheckDigit(cp + cr)}${s}` : null,
  ginc: ([cp = '', ...r]) =>
    /^\d{6,12}$/.test(cp) && serialOk(r.join('.'), 30 - cp.length) ? `${DL}/401/${cp}${dlEncode(r.join('.'))}` : null,
  gsin: ([cp = '', sr = '', ...x]) => (!x.length && partition(cp, sr, 16) ? `${DL}/402/${withCheckDigit(cp + sr)}` : null),
  itip: ([cp = '', ir = '', piece = '', total = '', ...s]) =>
    partition(cp, ir, 13) && /^\d{2}$/.test(piece) && /^\d{2}$/.test(total) && serialOk(s.join('.'), 20)
      ? `${DL}/8006/${gtinOf(cp, ir)}${piece}${total}/21/${dlEncode(s.join('.'))}`
      : null,
  upui: ([cp = '', ir = '', ...s]) =>
    partition(cp, ir, 13) && serialOk(s.join('.'), 28) ? `${DL}/01/${gtinOf(cp, ir)}/235/${dlEncode(s.join('.'))}` : null,
  pgln: ([cp = '', pr = '', ...x]) => (!x.length && partition(cp, pr, 12) ? `${DL}/417/${withCheckDigit(cp + pr)}` : null),
};
const PATTERN_URNS: Record<string, UrnRule> = {
  sgtin: ([cp = '', ir = '', star, ...x]) => (star === '*' && !x.length && partition(cp, ir, 13) ? `${DL}/01/${gtinOf(cp, ir)}` : null),
  grai: ([cp = '', at = '', star, ...x]) =>
    star === '*' && !x.length && partition(cp, at, 12) ? `${DL}/8003/${withCheckDigit('0' + cp + at)}` : null,
  gdti: ([cp = '', dt = '', star, ...x]) =>
    star === '*' && !x.length && partition(cp, dt, 12) ? `${DL}/253/${withCheckDigit(cp + dt)}` : null,
  sgcn: ([cp = '', cr = '', star, ...x]) =>
    star === '*' && !x.length && partition(cp, cr, 12) ? `${DL}/255/${withCheckDigit(cp + cr)}` : null,
  itip: ([cp = '', ir = '', piece = '', total = '', star, ...x]) =>
    star === '*' && !x.length && partition(cp, ir, 13) && /^\d{2}$/.test(piece) && /^\d{2}$/.test(total)
      ? `${DL}/8006/${gtinOf(cp, ir)}${piece}${total}`
      : null,
  upui: ([cp = '', ir = '', star, ...x]) => (star === '*' && !x.length && partition(cp, ir, 13) ? `${DL}/01/${gtinOf(cp, ir)}` : null),
  cpi: ([cp = '', ref = '', star, ...x]) =>
    star === '*' && !x.length && /^\d{6,12}$/.test(cp) && CPI_REF.test(ref) ? `${DL}/8010/${dlEncode(cp + ref)}` : null,
};

/** Primary keys of a Digital Link, by AI and by short name, and the order in which a path is searched for them. */
const DL_KEYS = ['00', '01', '253', '255', '401', '402', '414', '417', '8003', '8004', '8006', '8010', '8017', '8018'];
const SHORT_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['gtin', '01'],
  ['itip', '8006'],
  ['cpid', '8010'],
  ['gln', '414'],
  ['party', '417'],
  ['gsrnp', '8017'],
  ['gsrn', '8018'],
  ['gcn', '255'],
  ['sscc', '00'],
  ['gdti', '253'],
  ['ginc', '401'],
  ['gsin', '402'],
  ['grai', '8003'],
  ['giai', '8004'],
  ['cpv', '22'],
  ['lot', '10'],
  ['ser', '21'],
];
const DL_CLAIM = new RegExp(
  `^https?://[^/?#]*[^?#]*?/(?:${[...DL_KEYS, ...SHORT_NAMES.filter(([, ai]) => DL_KEYS.includes(ai)).map(([n]) => n)].join('|')})/\\d{4}[^/]`,
);
/** CSET 82 as the canonical form admits it unencoded in a serial, lot or CPV. */
const C = `["'\\-.0-9;-?A-Z_a-z]`;
const CANONICAL = [
  '00/\\d{18}',
  `01/\\d{14}/21/${C}{0,20}`,
  `01/\\d{14}/10/${C}{0,20}`,
  '01/\\d{14}',
  `01/\\d{14}/235/${C}{0,28}`,
  `253/\\d{13}${C}{0,17}`,
  '255/\\d{13}\\d{0,12}',
  `401/${C}{0,30}`,
  '402/\\d{17}',
  '414/\\d{13}',
  `414/\\d{13}/254/${C}{0,20}`,
  '417/\\d{13}',
  `8003/\\d{14}${C}{0,16}`,
  `8004/${C}{0,30}`,
  `8006/\\d{18}/21/${C}{0,20}`,
  `8006/\\d{18}/10/${C}{0,20}`,
  '8006/\\d{18}',
  '8010/[#\\-/0-9A-Z]{0,30}/8011/\\d{0,12}',
  '8010/[#\\-/0-9A-Z]{0,30}',
  '8017/\\d{18}',
  '8018/\\d{18}',
].map((p) => new RegExp(`^https://id\\.gs1\\.org/${p}$`));

/**
 * A URI naming a GS1 key (EPC URN, EPC class or pattern URN, or a Digital Link on any domain) as a
 * constrained canonical Digital Link: id.gs1.org, AIs rather than short names, a GTIN in 14 digits,
 * the finest level only (a serial, not its lot), no CPV, no query string. Null for anything else.
 */
export function canonicalGs1Uri(uri: string): string | null {
  if (!uri.includes('.')) return null;
  const urn = /^urn:epc:(id|idpat|class):([a-z]+):(.*)$/.exec(uri);
  if (urn) {
    const [, kind, scheme = '', rest = ''] = urn;
    const parts = rest.split('.');
    if (kind === 'id') return ID_URNS[scheme]?.(parts) ?? null;
    if (kind === 'idpat') return PATTERN_URNS[scheme]?.(parts) ?? null;
    if (scheme !== 'lgtin') return null;
    const [cp = '', ir = '', ...lot] = parts;
    return partition(cp, ir, 13) && serialOk(lot.join('.'), 20) ? `${DL}/01/${gtinOf(cp, ir)}/10/${dlEncode(lot.join('.'))}` : null;
  }
  if (!DL_CLAIM.test(uri)) return null;
  let u = uri.includes('?') ? uri.slice(0, uri.indexOf('?')) : uri;
  for (const [name, ai] of SHORT_NAMES) u = u.split(`/${name}/`).join(`/${ai}/`);
  if (!new RegExp(`^https://id\\.gs1\\.org/(?:${DL_KEYS.join('|')})/\\d{4}`).test(u)) {
    const key = DL_KEYS.find((ai) => u.includes(`/${ai}/`));
    if (key !== undefined) u = DL + u.slice(u.indexOf(`/${key}/`));
  }
  const gtin = /^https:\/\/id\.gs1\.org\/01\/(\d+)/.exec(u)?.[1];
  if (gtin !== undefined && gtin.length < 14 && [8, 12, 13].some((n) => gtin.length >= n)) {
    const width = gtin.length >= 13 ? 13 : gtin.length >= 12 ? 12 : 8;
    u = u.replace('/01/', `/01/${'0'.repeat(14 - width)}`);
  }
  // A CPV names a variant of the product, not another object: dropped, with what follows kept.
  if (new RegExp(`^https://id\\.gs1\\.org/(?:8006/\\d{18}|01/\\d{14})/22/${C}{0,20}$`).test(u)) u = u.slice(0, u.indexOf('/22/'));
  else if (new RegExp(`^https://id\\.gs1\\.org/(?:8006/\\d{18}|01/\\d{14})/22/["'\\-./0-9;-?A-Z_a-z]{0,20}$`).test(u)) {
    const after = u.slice(u.indexOf('/22/') + 4);
    u = u.slice(0, u.indexOf('/22/')) + after.slice(after.indexOf('/'));
  }
  if (new RegExp(`^https://id\\.gs1\\.org/(?:8006/\\d{18}|01/\\d{14})/10/${C}{0,20}/21/${C}{0,20}$`).test(u)) {
    const after = u.slice(u.indexOf('/10/') + 4);
    u = u.slice(0, u.indexOf('/10/')) + after.slice(after.indexOf('/'));
  }
  return CANONICAL.some((re) => re.test(u)) ? u : null;
}
