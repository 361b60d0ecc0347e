import type { CaptureProblem } from '../normalise';
import { SAP_EXTENSION, sapDate, WELL_KNOWN_PREFIXES } from '../ilmd-spellings';
import { jsonVocabularyValue, type CbvKind } from './cbv-values';
import { dataAttributes, EPCIS_NAMESPACES, hasText, isNil, type EpcisVersion, type XmlElement } from './nodes';

/**
 * One XML event as the EPCIS 2.0 JSON event the JSON capture path would have been sent: the same
 * field names, CBV values as bare words, numbers as numbers, extension elements as "prefix:name"
 * keys. Capture then validates and normalises it exactly like a JSON event, so an event sent as XML
 * and as JSON is one event.
 *
 * The element structure is checked here, as the official XSDs define it (EPCIS 1.2 with its
 * extension wrappers, EPCIS 2.0 flat): which elements an event type has, in which order, which are
 * required, and no unqualified element the standard does not define. Every problem names the element
 * (a path from the event) and its line.
 */

type Kind =
  | 'time'
  | 'text'
  | 'action'
  | 'bizStep'
  | 'disposition'
  | 'epcs'
  | 'quantities'
  | 'location'
  | 'bizTransactions'
  | 'sources'
  | 'destinations'
  | 'ilmd'
  | 'sensors'
  | 'persistentDisposition'
  | 'errorDeclaration'
  | 'otherExtensions';

interface Slot {
  name: string;
  /** A field of the event, or a wrapper (EPCIS 1.2's extension and baseExtension) whose children are read as the event's own. */
  kind: Kind | Sequence;
  required?: boolean;
}

interface Sequence {
  slots: Slot[];
  /**
   * An `xsd:any namespace="##local"` place (EPCIS 1.2's innermost extension): unqualified elements
   * are allowed by the XSD there, reserved for later versions of the standard.
   */
  local?: boolean;
  /** Elements in any order: where the XSD lets anything in (a ##local wildcard), it prescribes no order either. */
  anyOrder?: boolean;
}

const S = (name: string, kind: Slot['kind'], required = false): Slot => ({ name, kind, required });

// EPCIS 2.0 (XSD/EPCglobal-epcis-2_0.xsd): the base event's elements, then the type's own.
const BASE_2: Slot[] = [
  S('eventTime', 'time', true),
  S('recordTime', 'time'),
  S('eventTimeZoneOffset', 'text', true),
  S('eventID', 'text'),
  S('errorDeclaration', 'errorDeclaration'),
  S('certificationInfo', 'text'),
  S('baseExtension', 'otherExtensions'),
];
const TAIL_2: Slot[] = [
  S('sourceList', 'sources'),
  S('destinationList', 'destinations'),
  S('sensorElementList', 'sensors'),
  S('persistentDisposition', 'persistentDisposition'),
];
const WHERE_WHY: Slot[] = [
  S('bizStep', 'bizStep'),
  S('disposition', 'disposition'),
  S('readPoint', 'location'),
  S('bizLocation', 'location'),
];

const V2: Record<string, Slot[]> = {
  ObjectEvent: [
    ...BASE_2,
    S('epcList', 'epcs'),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    S('quantityList', 'quantities'),
    ...TAIL_2,
    S('ilmd', 'ilmd'),
    S('extension', 'otherExtensions'),
  ],
  AggregationEvent: [
    ...BASE_2,
    S('parentID', 'text'),
    S('childEPCs', 'epcs'),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    S('childQuantityList', 'quantities'),
    ...TAIL_2,
    S('extension', 'otherExtensions'),
  ],
  TransactionEvent: [
    ...BASE_2,
    S('bizTransactionList', 'bizTransactions', true),
    S('parentID', 'text'),
    S('epcList', 'epcs'),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('quantityList', 'quantities'),
    ...TAIL_2,
    S('extension', 'otherExtensions'),
  ],
  TransformationEvent: [
    ...BASE_2,
    S('inputEPCList', 'epcs'),
    S('inputQuantityList', 'quantities'),
    S('outputEPCList', 'epcs'),
    S('outputQuantityList', 'quantities'),
    S('transformationID', 'text'),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    ...TAIL_2,
    S('ilmd', 'ilmd'),
    S('extension', 'otherExtensions'),
  ],
  AssociationEvent: [
    ...BASE_2,
    S('parentID', 'text', true),
    S('childEPCs', 'epcs'),
    S('childQuantityList', 'quantities'),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    ...TAIL_2,
    S('extension', 'otherExtensions'),
  ],
};

// EPCIS 1.2 (XSL/1.2/XSD/EPCglobal-epcis-1_2.xsd): what 1.1 and 1.2 added sits in extension wrappers,
// and what 2.0 added is carried, as GS1's 1.2 ↔ 2.0 stylesheets place it, in the innermost one.
const ADDED_IN_2: Sequence = {
  slots: [S('certificationInfo', 'text'), S('sensorElementList', 'sensors'), S('persistentDisposition', 'persistentDisposition')],
  local: true,
  anyOrder: true,
};
const BASE_1: Slot[] = [
  S('eventTime', 'time', true),
  S('recordTime', 'time'),
  S('eventTimeZoneOffset', 'text', true),
  S('baseExtension', {
    slots: [
      S('eventID', 'text'),
      S('errorDeclaration', 'errorDeclaration'),
      S('extension', { slots: [S('certificationInfo', 'text')], local: true, anyOrder: true }),
    ],
  }),
];

const V1: Record<string, Slot[]> = {
  ObjectEvent: [
    ...BASE_1,
    S('epcList', 'epcs', true),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    S('extension', {
      slots: [
        S('quantityList', 'quantities'),
        S('sourceList', 'sources'),
        S('destinationList', 'destinations'),
        S('ilmd', 'ilmd'),
        S('extension', ADDED_IN_2),
      ],
    }),
  ],
  AggregationEvent: [
    ...BASE_1,
    S('parentID', 'text'),
    S('childEPCs', 'epcs', true),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    S('extension', {
      slots: [
        S('childQuantityList', 'quantities'),
        S('sourceList', 'sources'),
        S('destinationList', 'destinations'),
        S('extension', ADDED_IN_2),
      ],
    }),
  ],
  TransactionEvent: [
    ...BASE_1,
    S('bizTransactionList', 'bizTransactions', true),
    S('parentID', 'text'),
    S('epcList', 'epcs', true),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('extension', {
      slots: [
        S('quantityList', 'quantities'),
        S('sourceList', 'sources'),
        S('destinationList', 'destinations'),
        S('extension', ADDED_IN_2),
      ],
    }),
  ],
  TransformationEvent: [
    ...BASE_1,
    S('inputEPCList', 'epcs'),
    S('inputQuantityList', 'quantities'),
    S('outputEPCList', 'epcs'),
    S('outputQuantityList', 'quantities'),
    S('transformationID', 'text'),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    S('sourceList', 'sources'),
    S('destinationList', 'destinations'),
    S('ilmd', 'ilmd'),
    S('extension', ADDED_IN_2),
  ],
  // Not in the 1.2 standard: GS1's 2.0 → 1.2 stylesheet carries it in EventList/extension/extension, where
  // the 1.2 XSD lets anything in, in any order (read below with the 2.0 type's elements).
  AssociationEvent: [
    ...BASE_1,
    S('parentID', 'text', true),
    S('childEPCs', 'epcs'),
    S('childQuantityList', 'quantities'),
    S('action', 'action', true),
    ...WHERE_WHY,
    S('bizTransactionList', 'bizTransactions'),
    S('sourceList', 'sources'),
    S('destinationList', 'destinations'),
    S('sensorElementList', 'sensors'),
    S('persistentDisposition', 'persistentDisposition'),
    S('extension', ADDED_IN_2),
  ],
};

/** The event types a document of each version may hold. */
export const EVENT_TYPES: Record<EpcisVersion, ReadonlySet<string>> = {
  '1.2': new Set([...Object.keys(V1), 'QuantityEvent']),
  '2.0': new Set(Object.keys(V2)),
};

/** The elements of each EPCIS 2.0 event type in the order the XSD prescribes (for writing events as XML). */
export const EPCIS_2_ELEMENT_ORDER: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(V2).map(([type, slots]) => [type, slots.map((s) => s.name)]),
);

/** The element name of a JSON list's items, to point from a JSON field to its element. */
const ITEM_ELEMENTS: Record<string, string> = {
  epcList: 'epc',
  childEPCs: 'epc',
  inputEPCList: 'epc',
  outputEPCList: 'epc',
  quantityList: 'quantityElement',
  childQuantityList: 'quantityElement',
  inputQuantityList: 'quantityElement',
  outputQuantityList: 'quantityElement',
  bizTransactionList: 'bizTransaction',
  sourceList: 'source',
  destinationList: 'destination',
  sensorElementList: 'sensorElement',
  sensorReport: 'sensorReport',
  correctiveEventIDs: 'correctiveEventID',
  set: 'set',
  unset: 'unset',
};

/** Lists whose items are not wrapped in a list element. */
const UNWRAPPED_LISTS = new Set(['sensorReport', 'set', 'unset']);

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const DOUBLE = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|INF|NaN)$/;

const SENSOR_METADATA_STRINGS = new Set([
  'time',
  'startTime',
  'endTime',
  'deviceID',
  'deviceMetadata',
  'rawData',
  'bizRules',
  'dataProcessingMethod',
]);
const SENSOR_REPORT_NUMBERS = new Set(['value', 'minValue', 'maxValue', 'meanValue', 'sDev', 'percRank', 'percValue']);
const SENSOR_REPORT_STRINGS = new Set([
  'time',
  'deviceID',
  'deviceMetadata',
  'rawData',
  'dataProcessingMethod',
  'bizRules',
  'microorganism',
  'chemicalSubstance',
  'coordinateReferenceSystem',
  'stringValue',
  'hexBinaryValue',
  'uriValue',
  'uom',
]);

/** The JSON key of an extension element or attribute in a namespace: "prefix:name", or the full URI when it has no prefix. */
export function extensionKey(e: { ns: string; local: string; prefix: string }): string {
  const prefix = WELL_KNOWN_PREFIXES[e.ns] ?? e.prefix;
  if (prefix) return `${prefix}:${e.local}`;
  return /[/#:]$/.test(e.ns) ? `${e.ns}${e.local}` : `${e.ns}#${e.local}`;
}

/**
 * An extension element's value as JSON: its text when it has no child elements nor attributes,
 * otherwise an object of its attributes and children (a name that repeats becomes an array).
 */
export function extensionValue(e: XmlElement): unknown {
  const attributes = dataAttributes(e);
  if (!e.children.length && !attributes.length) return e.text.trim();
  const object: Record<string, unknown> = {};
  for (const a of attributes) object[a.ns ? extensionKey(a) : a.local] = a.value;
  addGrouped(
    object,
    e.children.map((c) => [c.ns ? extensionKey(c) : c.local, extensionValue(c)] as const),
  );
  if (e.children.length && hasText(e)) object['#text'] = e.text.trim();
  return object;
}

/** Adds entries to an object; a key that repeats gets an array of its values, in document order. */
export function addGrouped(target: Record<string, unknown>, entries: ReadonlyArray<readonly [string, unknown]>): void {
  const groups = new Map<string, unknown[]>();
  for (const [key, value] of entries) {
    const group = groups.get(key);
    if (group) group.push(value);
    else groups.set(key, [value]);
  }
  for (const [key, values] of groups) {
    const all = key in target ? [target[key], ...values] : values;
    target[key] = all.length === 1 ? all[0] : all;
  }
}

export interface Located {
  element: string;
  line: number;
}

export interface ConvertedEvent {
  /** The event as EPCIS 2.0 JSON (as complete as the XML allowed when there are problems). */
  event: Record<string, unknown>;
  /** Problems of the XML structure and values, each with its element and line. */
  problems: CaptureProblem[];
  /** Where a field of the JSON event (a dotted path, as the schema and normaliser report it) came from. */
  locate(field: string): Located;
}

/** Reads one event element of an EPCIS document of the given version. */
export function convertEvent(root: XmlElement, version: EpcisVersion, eventIndex: number): ConvertedEvent {
  return new EventReader(root, version, eventIndex).read();
}

class EventReader {
  private readonly event: Record<string, unknown>;
  private readonly problems: CaptureProblem[] = [];
  private readonly origins = new Map<string, Located>();
  private readonly extensions: Array<[string, unknown]> = [];
  private sapIlmd: Record<string, string> | null = null;

  constructor(
    private readonly root: XmlElement,
    private readonly version: EpcisVersion,
    private readonly eventIndex: number,
  ) {
    this.event = { type: root.local };
  }

  read(): ConvertedEvent {
    const root = this.root;
    const path = root.local;
    if (root.local === 'QuantityEvent') {
      this.problem(
        root,
        path,
        '(event)',
        'QuantityEvent was deprecated in EPCIS 1.1 and removed in 2.0: send an ObjectEvent with a quantityList',
      );
      return this.result();
    }
    for (const a of dataAttributes(root)) {
      if (a.ns) this.extensions.push([extensionKey(a), a.value]);
      else this.problem(root, `${path}/@${a.local}`, '(event)', `the attribute ${a.local} has no namespace and no EPCIS meaning`);
    }
    const layout = (this.version === '1.2' ? V1 : V2)[root.local]!;
    this.readSequence(root, path, { slots: layout, anyOrder: this.version === '1.2' && root.local === 'AssociationEvent' });
    this.applySap();
    addGrouped(this.event, this.extensions);
    return this.result();
  }

  private result(): ConvertedEvent {
    return { event: this.event, problems: this.problems, locate: (field) => this.locate(field) };
  }

  private problem(e: XmlElement, element: string, field: string, reason: string): void {
    this.problems.push({ eventIndex: this.eventIndex, field, reason, element, line: e.line });
  }

  private set(field: string, value: unknown, e: XmlElement, element: string): void {
    this.event[field] = value;
    this.origins.set(field, { element, line: e.line });
  }

  /** The children of `parent` against the sequence of slots the XSD gives it. */
  private readSequence(parent: XmlElement, path: string, sequence: Sequence): void {
    let next = 0;
    let extensionsSeen = false;
    const seen = new Set<string>();
    for (const child of parent.children) {
      const childPath = `${path}/${child.prefix ? `${child.prefix}:` : ''}${child.local}`;
      if (child.ns && !EPCIS_NAMESPACES.has(child.ns)) {
        extensionsSeen = true;
        this.extensions.push([extensionKey(child), extensionValue(child)]);
        continue;
      }
      if (child.ns) {
        this.problem(
          child,
          childPath,
          child.local,
          `<${child.local}> is in the EPCIS namespace; the standard's elements inside a document have no namespace`,
        );
        continue;
      }
      const at = sequence.slots.findIndex((s) => s.name === child.local);
      if (at === -1) {
        if (child.local === SAP_EXTENSION.element) this.readSap(child);
        else if (sequence.local)
          this.problem(
            child,
            childPath,
            child.local,
            `<${child.local}> has no namespace; EPCIS ${this.version} keeps unqualified elements here for its own later versions and EPCIS 2.0 has no such field: put it in a namespace of your own`,
          );
        else
          this.problem(child, childPath, child.local, `<${child.local}> is not an element of an EPCIS ${this.version} ${this.root.local}`);
        continue;
      }
      const slot = sequence.slots[at]!;
      if (seen.has(slot.name)) {
        this.problem(child, childPath, slot.name, `<${slot.name}> appears more than once`);
        continue;
      }
      if (!sequence.anyOrder && (at < next || extensionsSeen)) {
        const after = extensionsSeen ? 'the extension elements (of other namespaces)' : `<${sequence.slots[next - 1]!.name}>`;
        this.problem(child, childPath, slot.name, `<${slot.name}> is out of order: it must come before ${after}`);
        continue;
      }
      next = at + 1;
      seen.add(slot.name);
      if (typeof slot.kind === 'string') this.readField(slot.name, slot.kind, child, childPath);
      else {
        this.noText(child, childPath);
        this.readSequence(child, childPath, slot.kind);
      }
    }
    for (const slot of sequence.slots) {
      if (slot.required && !seen.has(slot.name)) this.problem(parent, path, slot.name, `<${slot.name}> is missing`);
    }
  }

  private noText(e: XmlElement, path: string): void {
    if (hasText(e)) this.problem(e, path, e.local, `<${e.local}> holds text where only elements belong`);
  }

  /** The element's text, which must not be empty and must not have child elements. */
  private text(e: XmlElement, path: string, field: string): string | null {
    if (e.children.length) {
      this.problem(e, path, field, `<${e.local}> must hold text only, not elements`);
      return null;
    }
    const value = e.text.trim();
    if (!value) {
      this.problem(e, path, field, `<${e.local}> is empty`);
      return null;
    }
    return value;
  }

  private vocabulary(value: string, kind: CbvKind, e: XmlElement, path: string, field: string): string | null {
    const r = jsonVocabularyValue(value, kind);
    if ('reason' in r) {
      this.problem(e, path, field, r.reason);
      return null;
    }
    return r.value;
  }

  private readField(name: string, kind: Kind, e: XmlElement, path: string): void {
    switch (kind) {
      case 'time':
      case 'text': {
        const v = this.text(e, path, name);
        if (v !== null) this.set(name, v, e, path);
        return;
      }
      case 'action': {
        const v = this.text(e, path, name);
        if (v === null) return;
        if (v !== 'ADD' && v !== 'OBSERVE' && v !== 'DELETE') this.problem(e, path, name, `must be ADD, OBSERVE or DELETE, not "${v}"`);
        else this.set(name, v, e, path);
        return;
      }
      case 'bizStep':
      case 'disposition': {
        const raw = this.text(e, path, name);
        const v = raw === null ? null : this.vocabulary(raw, kind, e, path, name);
        if (v !== null) this.set(name, v, e, path);
        return;
      }
      case 'epcs':
        this.set(name, this.epcs(e, path, name), e, path);
        return;
      case 'quantities':
        this.set(name, this.quantities(e, path, name), e, path);
        return;
      case 'location':
        this.set(name, this.location(e, path, name), e, path);
        return;
      case 'bizTransactions':
        this.set(name, this.typedList(e, path, name, 'bizTransaction', 'bizTransactionType', false), e, path);
        return;
      case 'sources':
        this.set(name, this.typedList(e, path, name, 'source', 'sourceDestType', true), e, path);
        return;
      case 'destinations':
        this.set(name, this.typedList(e, path, name, 'destination', 'sourceDestType', true), e, path);
        return;
      case 'ilmd':
        this.set(name, this.ilmd(e, path), e, path);
        return;
      case 'sensors':
        this.set(name, this.sensors(e, path, name), e, path);
        return;
      case 'persistentDisposition':
        this.set(name, this.persistentDisposition(e, path, name), e, path);
        return;
      case 'errorDeclaration':
        this.set(name, this.errorDeclaration(e, path, name), e, path);
        return;
      case 'otherExtensions':
        // EPCIS 2.0's extension and baseExtension hold only elements of other namespaces: the event's own extensions.
        this.noText(e, path);
        for (const c of e.children) {
          if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) this.extensions.push([extensionKey(c), extensionValue(c)]);
          else this.problem(c, `${path}/${c.local}`, c.local, `<${e.local}> may hold only elements of other namespaces, not <${c.local}>`);
        }
        return;
    }
  }

  private epcs(e: XmlElement, path: string, field: string): string[] {
    const values = e.values ?? [];
    for (const bad of e.badValues ?? [])
      this.problems.push({
        eventIndex: this.eventIndex,
        field: `${field}.${bad.index}`,
        reason: bad.reason,
        element: `${path}/epc[${bad.index + 1}]`,
        line: bad.line,
      });
    for (const c of e.children) this.problem(c, `${path}/${c.local}`, field, `<${e.local}> may hold only <epc> elements, not <${c.local}>`);
    if (hasText(e)) this.problem(e, path, field, `<${e.local}> holds text outside its <epc> elements`);
    values.forEach((v, i) => {
      if (!v)
        this.problems.push({
          eventIndex: this.eventIndex,
          field: `${field}.${i}`,
          reason: '<epc> is empty',
          element: `${path}/epc[${i + 1}]`,
          line: e.line,
        });
    });
    return values;
  }

  /** The children of a list element, which must all be `item` elements. */
  private items(e: XmlElement, path: string, field: string, item: string): Array<[XmlElement, string, number]> {
    this.noText(e, path);
    const out: Array<[XmlElement, string, number]> = [];
    for (const c of e.children) {
      if (c.ns || c.local !== item) {
        this.problem(c, `${path}/${c.local}`, field, `<${e.local}> may hold only <${item}> elements, not <${c.local}>`);
        continue;
      }
      out.push([c, `${path}/${item}[${out.length + 1}]`, out.length]);
    }
    return out;
  }

  private quantities(e: XmlElement, path: string, field: string): unknown[] {
    return this.items(e, path, field, 'quantityElement').map(([q, qPath, i]) => {
      const element: Record<string, unknown> = {};
      const at = `${field}.${i}`;
      const order = ['epcClass', 'quantity', 'uom'];
      let next = 0;
      for (const c of q.children) {
        const cPath = `${qPath}/${c.local}`;
        const position = c.ns ? -1 : order.indexOf(c.local);
        if (position === -1) {
          this.problem(c, cPath, at, `<${c.local}> is not an element of <quantityElement>`);
          continue;
        }
        if (position < next) {
          this.problem(c, cPath, `${at}.${c.local}`, `<${c.local}> is out of order or repeated in <quantityElement>`);
          continue;
        }
        next = position + 1;
        if (c.local === 'quantity' && isNil(c)) continue;
        const v = this.text(c, cPath, `${at}.${c.local}`);
        if (v === null) continue;
        if (c.local === 'quantity') {
          if (DECIMAL.test(v)) element.quantity = Number(v);
          else this.problem(c, cPath, `${at}.quantity`, `must be a decimal number, not "${v}"`);
        } else element[c.local] = v;
      }
      if (!('epcClass' in element) && !q.children.some((c) => c.local === 'epcClass')) this.problem(q, qPath, at, '<epcClass> is missing');
      this.noText(q, qPath);
      return element;
    });
  }

  private location(e: XmlElement, path: string, field: string): Record<string, unknown> {
    const location: Record<string, unknown> = {};
    this.noText(e, path);
    let sawId = false;
    for (const c of e.children) {
      const cPath = `${path}/${c.local}`;
      if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) {
        location[extensionKey(c)] = extensionValue(c);
      } else if (!c.ns && c.local === 'id' && !sawId) {
        sawId = true;
        const v = this.text(c, cPath, `${field}.id`);
        if (v !== null) location.id = v;
      } else if (!c.ns && c.local === 'extension') {
        for (const x of c.children) {
          if (x.ns && !EPCIS_NAMESPACES.has(x.ns)) location[extensionKey(x)] = extensionValue(x);
          else this.problem(x, `${cPath}/${x.local}`, field, `<${x.local}> has no EPCIS 2.0 equivalent in <${e.local}>`);
        }
      } else this.problem(c, cPath, field, `<${c.local}> is not an element of <${e.local}>`);
    }
    if (!sawId) this.problem(e, path, `${field}.id`, `<${e.local}> has no <id>`);
    return location;
  }

  private typedList(e: XmlElement, path: string, field: string, item: string, kind: CbvKind, typeRequired: boolean): unknown[] {
    const list = this.items(e, path, field, item);
    if (!list.length) this.problem(e, path, field, `<${e.local}> is empty: it needs at least one <${item}>`);
    return list.map(([c, cPath, i]) => {
      const entry: Record<string, unknown> = {};
      for (const a of dataAttributes(c)) {
        if (a.ns === '' && a.local === 'type') {
          const v = this.vocabulary(a.value.trim(), kind, c, `${cPath}/@type`, `${field}.${i}.type`);
          if (v !== null) entry.type = v;
        } else this.problem(c, `${cPath}/@${a.local}`, `${field}.${i}`, `the attribute ${a.local} is not one of <${item}>`);
      }
      if (typeRequired && !dataAttributes(c).some((a) => a.ns === '' && a.local === 'type'))
        this.problem(c, cPath, `${field}.${i}.type`, `<${item}> has no type attribute`);
      const v = this.text(c, cPath, `${field}.${i}`);
      if (v !== null) entry[item] = v;
      return entry;
    });
  }

  private ilmd(e: XmlElement, path: string): Record<string, unknown> {
    this.noText(e, path);
    const entries: Array<[string, unknown]> = [];
    for (const c of e.children) {
      if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) entries.push([extensionKey(c), extensionValue(c)]);
      else if (!c.ns && c.local === 'extension')
        for (const x of c.children) {
          if (x.ns && !EPCIS_NAMESPACES.has(x.ns)) entries.push([extensionKey(x), extensionValue(x)]);
          else
            this.problem(
              x,
              `${path}/extension/${x.local}`,
              'ilmd',
              `<${x.local}> has no namespace; ilmd's fields are named in a namespace (cbvmda: for the CBV's)`,
            );
        }
      else
        this.problem(
          c,
          `${path}/${c.local}`,
          'ilmd',
          `<${c.local}> has no namespace; ilmd's fields are named in a namespace (cbvmda: for the CBV's)`,
        );
    }
    const ilmd: Record<string, unknown> = {};
    addGrouped(ilmd, entries);
    return ilmd;
  }

  private sensors(e: XmlElement, path: string, field: string): unknown[] {
    const list = this.items(e, path, field, 'sensorElement');
    return list.map(([s, sPath, i]) => {
      const at = `${field}.${i}`;
      const element: Record<string, unknown> = {};
      const reports: unknown[] = [];
      const extensions: Array<[string, unknown]> = [];
      let stage = 0; // 0: metadata may come, 1: reports, 2: extensions only
      for (const c of s.children) {
        const cPath = `${sPath}/${c.local}`;
        if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) {
          stage = 2;
          extensions.push([extensionKey(c), extensionValue(c)]);
        } else if (!c.ns && c.local === 'sensorMetadata' && stage === 0) {
          stage = 1;
          element.sensorMetadata = this.sensorAttributes(c, cPath, `${at}.sensorMetadata`, 'metadata');
        } else if (!c.ns && c.local === 'sensorReport' && stage <= 1) {
          stage = 1;
          reports.push(
            this.sensorAttributes(c, `${sPath}/sensorReport[${reports.length + 1}]`, `${at}.sensorReport.${reports.length}`, 'report'),
          );
        } else if (!c.ns && c.local === 'extension' && stage <= 1) {
          stage = 2;
          for (const x of c.children)
            this.problem(x, `${cPath}/${x.local}`, at, `<${x.local}> has no EPCIS 2.0 equivalent in <sensorElement>`);
        } else this.problem(c, cPath, at, `<${c.local}> is not an element of <sensorElement>, or is out of order`);
      }
      if (!reports.length) this.problem(s, sPath, `${at}.sensorReport`, '<sensorElement> needs at least one <sensorReport>');
      element.sensorReport = reports;
      addGrouped(element, extensions);
      this.noText(s, sPath);
      return element;
    });
  }

  private sensorAttributes(e: XmlElement, path: string, field: string, what: 'metadata' | 'report'): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (e.children.length) this.problem(e, path, field, `<${e.local}> carries its data in attributes, not elements`);
    for (const a of dataAttributes(e)) {
      const aPath = `${path}/@${a.prefix ? `${a.prefix}:` : ''}${a.local}`;
      if (a.ns) {
        out[extensionKey(a)] = a.value;
        continue;
      }
      const value = a.value.trim();
      const at = `${field}.${a.local}`;
      if (what === 'metadata' ? SENSOR_METADATA_STRINGS.has(a.local) : SENSOR_REPORT_STRINGS.has(a.local)) out[a.local] = value;
      else if (what === 'report' && SENSOR_REPORT_NUMBERS.has(a.local)) {
        if (DOUBLE.test(value) && Number.isFinite(Number(value))) out[a.local] = Number(value);
        else this.problem(e, aPath, at, `must be a number, not "${value}"`);
      } else if (what === 'report' && a.local === 'booleanValue') {
        if (value === 'true' || value === '1') out.booleanValue = true;
        else if (value === 'false' || value === '0') out.booleanValue = false;
        else this.problem(e, aPath, at, `must be true or false, not "${value}"`);
      } else if (what === 'report' && (a.local === 'type' || a.local === 'exception' || a.local === 'component')) {
        const kind: CbvKind = a.local === 'type' ? 'measurementType' : a.local === 'exception' ? 'alertType' : 'component';
        const v = this.vocabulary(value, kind, e, aPath, at);
        if (v !== null) out[a.local] = v;
      } else this.problem(e, aPath, at, `the attribute ${a.local} is not one of <${e.local}>`);
    }
    return out;
  }

  private persistentDisposition(e: XmlElement, path: string, field: string): Record<string, unknown> {
    this.noText(e, path);
    const out: Record<string, string[]> = {};
    let unsetDone = false;
    for (const c of e.children) {
      const cPath = `${path}/${c.local}`;
      if (c.ns || (c.local !== 'set' && c.local !== 'unset')) {
        this.problem(c, cPath, field, `<${c.local}> is not an element of <persistentDisposition>`);
        continue;
      }
      if (c.local === 'unset' && unsetDone) {
        this.problem(c, cPath, `${field}.unset`, '<unset> must come before <set>');
        continue;
      }
      if (c.local === 'set') unsetDone = true;
      const list = (out[c.local] ??= []);
      const raw = this.text(c, cPath, `${field}.${c.local}.${list.length}`);
      const v = raw === null ? null : this.vocabulary(raw, 'disposition', c, cPath, `${field}.${c.local}.${list.length}`);
      if (v !== null) list.push(v);
    }
    return out;
  }

  private errorDeclaration(e: XmlElement, path: string, field: string): Record<string, unknown> {
    this.noText(e, path);
    const out: Record<string, unknown> = {};
    const extensions: Array<[string, unknown]> = [];
    const order = ['declarationTime', 'reason', 'correctiveEventIDs', 'extension'];
    let next = 0;
    for (const c of e.children) {
      const cPath = `${path}/${c.local}`;
      if (c.ns && !EPCIS_NAMESPACES.has(c.ns)) {
        extensions.push([extensionKey(c), extensionValue(c)]);
        continue;
      }
      const position = c.ns ? -1 : order.indexOf(c.local);
      if (position === -1) {
        this.problem(c, cPath, field, `<${c.local}> is not an element of <errorDeclaration>`);
        continue;
      }
      // EPCIS 2.0 takes these in any order, 1.2 in this one; each at most once in both.
      if (c.local in out || (this.version === '1.2' && position < next)) {
        this.problem(c, cPath, `${field}.${c.local}`, `<${c.local}> is repeated or out of order in <errorDeclaration>`);
        continue;
      }
      next = position + 1;
      if (c.local === 'declarationTime') {
        const v = this.text(c, cPath, `${field}.declarationTime`);
        if (v !== null) out.declarationTime = v;
      } else if (c.local === 'reason') {
        const raw = this.text(c, cPath, `${field}.reason`);
        const v = raw === null ? null : this.vocabulary(raw, 'errorReason', c, cPath, `${field}.reason`);
        if (v !== null) out.reason = v;
      } else if (c.local === 'correctiveEventIDs') {
        out.correctiveEventIDs = this.items(c, cPath, `${field}.correctiveEventIDs`, 'correctiveEventID')
          .map(([id, idPath, i]) => this.text(id, idPath, `${field}.correctiveEventIDs.${i}`))
          .filter((v): v is string => v !== null);
      } else {
        out.extension = true;
        for (const x of c.children)
          this.problem(x, `${cPath}/${x.local}`, field, `<${x.local}> has no EPCIS 2.0 equivalent in <errorDeclaration>`);
      }
    }
    delete out.extension;
    if (!('declarationTime' in out) && !e.children.some((c) => c.local === 'declarationTime'))
      this.problem(e, path, `${field}.declarationTime`, '<declarationTime> is missing');
    addGrouped(out, extensions);
    return out;
  }

  /** SAP's own element for the lot and expiry (epcis/ilmd-spellings.ts): taken into ilmd under the CBV names. */
  private readSap(e: XmlElement): void {
    for (const group of e.children) {
      if (group.local !== SAP_EXTENSION.attributes) continue;
      for (const c of group.children) {
        const key = SAP_EXTENSION.fields[c.local];
        if (!key || c.children.length) continue;
        const value = c.text.trim();
        if (value) (this.sapIlmd ??= {})[key] = c.local === 'DATEX' ? sapDate(value) : value;
      }
    }
  }

  private applySap(): void {
    if (!this.sapIlmd) return;
    const ilmd = (this.event.ilmd ??= {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(this.sapIlmd)) {
      if (!(key in ilmd)) ilmd[key] = value;
      else if (ilmd[key] !== value)
        this.problem(
          this.root,
          `${this.root.local}/${SAP_EXTENSION.element}`,
          `ilmd.${key}`,
          `SAPExtension says ${value} where ilmd says ${String(ilmd[key])}`,
        );
    }
    if (!this.origins.has('ilmd'))
      this.origins.set('ilmd', { element: `${this.root.local}/${SAP_EXTENSION.element}`, line: this.root.line });
  }

  private locate(field: string): Located {
    const segments = field.replace(/\[(\d+)\]/g, '.$1').split('.');
    const origin = this.origins.get(segments[0]!) ?? { element: this.root.local, line: this.root.line };
    let element = origin.element;
    let previous = segments[0]!;
    segments.slice(1).forEach((segment, i) => {
      const following = segments[i + 2];
      if (/^\d+$/.test(segment) && ITEM_ELEMENTS[previous]) element += `/${ITEM_ELEMENTS[previous]}[${Number(segment) + 1}]`;
      // (sensorReport, set and unset repeat without a list element around them; the index names them)
      else if (UNWRAPPED_LISTS.has(segment) && following !== undefined && /^\d+$/.test(following)) {
        /* the index adds it */
      } else if (/^\d+$/.test(previous) && (segments[i] === 'sensorMetadata' || segments[i - 1] === 'sensorReport'))
        element += `/@${segment}`;
      else if (segments[i] === 'sensorMetadata') element += `/@${segment}`;
      else element += `/${segment}`;
      previous = segment;
    });
    return { element, line: origin.line };
  }
}
