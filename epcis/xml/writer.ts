import { attributes, escapeText, isNcName, NotRepresentableInXml, textElement } from '../../lib/xml-writer';
import { WELL_KNOWN_PREFIXES } from '../ilmd-spellings';
import { xmlVocabularyValue, type CbvKind } from './cbv-values';
import { EPCIS_2_ELEMENT_ORDER } from './convert';
import { NS } from './nodes';

/**
 * Events of the query interface (EPCIS 2.0 JSON-LD, as epcis/query.ts rebuilds them) written as an
 * EPCIS 2.0 XML EPCISQueryDocument (EPCglobal-epcis-query-2_0.xsd): the inverse of convert.ts, so
 * that the XML answer read back by capture gives the same events. Elements come in the order the
 * XSD prescribes; CBV values as their URNs; extension fields ("prefix:name" keys) as elements of
 * their namespace, the prefix bound as the captured documents bound it.
 *
 * What XML cannot say the same way (documented in docs/interoperability.md): an extension value
 * comes back as text (a JSON number or boolean as its digits or word), and a one-element array of
 * an extension field as the element alone. A value XML cannot carry at all (a control character,
 * a prefix no captured document bound, a key that is no XML name) makes the page unanswerable as
 * XML (NotRepresentableInXml); the route answers 406 and JSON still serves it.
 */

type Json = Record<string, unknown>;

export interface XmlQueryPage {
  events: Json[];
  /** The page's JSON-LD @context: the prefixes the captured JSON documents declared. */
  context: unknown[];
  /** Per event, the namespace prefixes its document declared when it was captured as XML. */
  namespaces?: Array<Record<string, string>>;
  /** The named query answered (GET /epcis/queries/{name}/events); SimpleEventQuery otherwise. */
  queryName?: string;
}

/** The XML namespace of the prefixes capture names the same whatever prefix a document used (epcis/ilmd-spellings.ts). */
const WELL_KNOWN_NAMESPACES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(WELL_KNOWN_PREFIXES).map(([ns, prefix]) => [prefix, ns]),
);
/** Prefixes of the standard EPCIS 2.0 JSON-LD context that extension data may use. */
const STANDARD_PREFIXES: Readonly<Record<string, string>> = { gs1: 'https://gs1.org/voc/' };
/** Prefixes the document's root declares for itself. */
const RESERVED_PREFIXES = new Set(['epcisq', 'xml', 'xmlns']);

const PREFIXED = /^([^:/#]+):([^:/#]+)$/;
const IRI = /^(.*[/#:])([^/#:]+)$/;

/** The prefix → IRI bindings of a JSON-LD @context (a string names a remote context: nothing here). */
export function contextBindings(context: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of Array.isArray(context) ? context : [context]) {
    if (!entry || typeof entry !== 'object') continue;
    for (const [term, value] of Object.entries(entry as Json)) {
      if (term.startsWith('@')) continue;
      const iri = typeof value === 'string' ? value : (value as { '@id'?: unknown } | null)?.['@id'];
      if (typeof iri === 'string') out[term] = iri;
    }
  }
  return out;
}

const LIST_ITEMS: Record<string, 'epc' | 'quantity'> = {
  epcList: 'epc',
  childEPCs: 'epc',
  inputEPCList: 'epc',
  outputEPCList: 'epc',
  quantityList: 'quantity',
  childQuantityList: 'quantity',
  inputQuantityList: 'quantity',
  outputQuantityList: 'quantity',
};
const TEXT_FIELDS = new Set([
  'eventTime',
  'recordTime',
  'eventTimeZoneOffset',
  'eventID',
  'certificationInfo',
  'parentID',
  'transformationID',
  'action',
]);
/** Fields of the XSD's layout that carry other elements in XML and nothing of their own in JSON. */
const WRAPPERS = new Set(['extension', 'baseExtension']);

const SENSOR_VOCABULARY: Record<string, CbvKind> = { type: 'measurementType', exception: 'alertType', component: 'component' };

class QueryDocumentWriter {
  /** Bindings declared on the root element, as first used. */
  private readonly declared = new Map<string, string>();
  private readonly pageBindings: Record<string, string>;
  private own: Record<string, string> = {};

  constructor(page: XmlQueryPage) {
    this.pageBindings = contextBindings(page.context);
  }

  document(page: XmlQueryPage, createdAt: Date): string {
    const events = page.events.map((event, i) => {
      this.own = { ...(page.namespaces?.[i] ?? {}), ...contextBindings(event['@context']) };
      try {
        return this.event(event);
      } catch (err) {
        if (err instanceof NotRepresentableInXml) throw new NotRepresentableInXml(`event ${String(event.eventID)}: ${err.message}`);
        throw err;
      }
    });
    const rootAttributes: Array<[string, string]> = [
      ['xmlns:epcisq', NS.query2],
      ...[...this.declared].map(([prefix, uri]) => [`xmlns:${prefix}`, uri] as [string, string]),
      ['schemaVersion', '2.0'],
      ['creationDate', createdAt.toISOString()],
    ];
    return (
      `<?xml version="1.0" encoding="UTF-8"?>\n<epcisq:EPCISQueryDocument${attributes(rootAttributes)}>` +
      `<EPCISBody><epcisq:QueryResults>${textElement('queryName', page.queryName ?? 'SimpleEventQuery')}<resultsBody><EventList>\n` +
      events.join('\n') +
      '\n</EventList></resultsBody></epcisq:QueryResults></EPCISBody></epcisq:EPCISQueryDocument>\n'
    );
  }

  private event(event: Json): string {
    const type = String(event.type);
    const order = EPCIS_2_ELEMENT_ORDER[type];
    if (!order) throw new NotRepresentableInXml(`${type} is not an EPCIS 2.0 event type`);
    let out = `<${type}>`;
    for (const name of order) if (event[name] !== undefined && !WRAPPERS.has(name)) out += this.field(name, event[name]);
    const layout = new Set(order);
    for (const [key, value] of Object.entries(event)) {
      if (key === 'type' || key === '@context' || layout.has(key)) continue;
      out += this.extension(key, value, '', false);
    }
    return `${out}</${type}>`;
  }

  private field(name: string, value: unknown): string {
    if (TEXT_FIELDS.has(name)) return textElement(name, scalar(value, name));
    const list = LIST_ITEMS[name];
    if (list === 'epc')
      return `<${name}>${array(value, name)
        .map((epc) => textElement('epc', scalar(epc, name)))
        .join('')}</${name}>`;
    if (list === 'quantity')
      return `<${name}>${array(value, name)
        .map((q) => this.quantityElement(q as Json))
        .join('')}</${name}>`;
    switch (name) {
      case 'bizStep':
      case 'disposition':
        return textElement(name, xmlVocabularyValue(scalar(value, name), name as CbvKind));
      case 'readPoint':
      case 'bizLocation':
        return this.location(name, value as Json);
      case 'bizTransactionList':
        return this.typedList(name, 'bizTransaction', 'bizTransactionType', value);
      case 'sourceList':
        return this.typedList(name, 'source', 'sourceDestType', value);
      case 'destinationList':
        return this.typedList(name, 'destination', 'sourceDestType', value);
      case 'ilmd':
        return `<ilmd>${this.extensions(value as Json, 'ilmd')}</ilmd>`;
      case 'sensorElementList':
        return `<sensorElementList>${array(value, name)
          .map((s) => this.sensorElement(s as Json))
          .join('')}</sensorElementList>`;
      case 'persistentDisposition': {
        const p = value as { set?: unknown; unset?: unknown };
        // (the XSD puts unset before set)
        const entries = (tag: 'set' | 'unset') =>
          (p[tag] === undefined ? [] : array(p[tag], name)).map((d) =>
            textElement(tag, xmlVocabularyValue(scalar(d, name), 'disposition')),
          );
        return `<persistentDisposition>${[...entries('unset'), ...entries('set')].join('')}</persistentDisposition>`;
      }
      case 'errorDeclaration':
        return this.errorDeclaration(value as Json);
      default:
        throw new NotRepresentableInXml(`the field ${name} has no XML writer`);
    }
  }

  private quantityElement(q: Json): string {
    let out = textElement('epcClass', scalar(q.epcClass, 'epcClass'));
    if (q.quantity !== undefined) out += textElement('quantity', scalar(q.quantity, 'quantity'));
    if (q.uom !== undefined) out += textElement('uom', scalar(q.uom, 'uom'));
    return `<quantityElement>${out}</quantityElement>`;
  }

  private location(name: string, value: Json): string {
    const { id, ...rest } = value;
    return `<${name}>${textElement('id', scalar(id, `${name}.id`))}${this.extensions(rest, name)}</${name}>`;
  }

  private typedList(name: string, item: string, kind: CbvKind, value: unknown): string {
    const items = array(value, name).map((entry) => {
      const e = entry as Json;
      const type = e.type === undefined ? [] : [['type', xmlVocabularyValue(scalar(e.type, `${name}.type`), kind)] as const];
      return textElement(item, scalar(e[item], name), type);
    });
    return `<${name}>${items.join('')}</${name}>`;
  }

  private errorDeclaration(value: Json): string {
    const { declarationTime, reason, correctiveEventIDs, ...rest } = value;
    let out = textElement('declarationTime', scalar(declarationTime, 'errorDeclaration.declarationTime'));
    if (reason !== undefined) out += textElement('reason', xmlVocabularyValue(scalar(reason, 'errorDeclaration.reason'), 'errorReason'));
    if (correctiveEventIDs !== undefined)
      out += `<correctiveEventIDs>${array(correctiveEventIDs, 'correctiveEventIDs')
        .map((id) => textElement('correctiveEventID', scalar(id, 'correctiveEventID')))
        .join('')}</correctiveEventIDs>`;
    return `<errorDeclaration>${out}${this.extensions(rest, 'errorDeclaration')}</errorDeclaration>`;
  }

  private sensorElement(s: Json): string {
    const { sensorMetadata, sensorReport, ...rest } = s;
    let out = '';
    if (sensorMetadata !== undefined) out += this.sensorAttributes('sensorMetadata', sensorMetadata as Json);
    for (const report of sensorReport === undefined ? [] : array(sensorReport, 'sensorReport'))
      out += this.sensorAttributes('sensorReport', report as Json);
    return `<sensorElement>${out}${this.extensions(rest, 'sensorElement')}</sensorElement>`;
  }

  /** sensorMetadata and sensorReport carry their data in attributes; an extension attribute is declared on the element. */
  private sensorAttributes(name: string, data: Json): string {
    const attrs: Array<[string, string]> = [];
    const declarations = new Map<string, string>();
    for (const [key, value] of Object.entries(data)) {
      const m = PREFIXED.exec(key);
      if (m) {
        const [, prefix, local] = m as unknown as [string, string, string];
        if (!isNcName(prefix) || !isNcName(local)) throw new NotRepresentableInXml(`the attribute ${key} of ${name} is not an XML name`);
        const uri = this.resolve(prefix, key);
        if (this.declared.get(prefix) !== uri) {
          if (!this.declared.has(prefix) && !RESERVED_PREFIXES.has(prefix)) this.declared.set(prefix, uri);
          else declarations.set(prefix, uri);
        }
        attrs.push([key, scalar(value, key)]);
      } else if (isNcName(key)) {
        const kind = SENSOR_VOCABULARY[key];
        attrs.push([key, kind ? xmlVocabularyValue(scalar(value, key), kind) : scalar(value, key)]);
      } else throw new NotRepresentableInXml(`the attribute ${key} of ${name} is not an XML name`);
    }
    for (const [prefix, uri] of declarations) attrs.unshift([`xmlns:${prefix}`, uri]);
    return `<${name}${attributes(attrs)}/>`;
  }

  /** The extension fields of an object (ilmd, a location, ...): every key names a namespace. */
  private extensions(object: Json, where: string): string {
    let out = '';
    for (const [key, value] of Object.entries(object)) {
      if (!PREFIXED.test(key) && !IRI.test(key)) throw new NotRepresentableInXml(`${where}.${key} is named in no namespace`);
      out += this.extension(key, value, '', false);
    }
    return out;
  }

  /**
   * An extension field as an element: "prefix:name" in the prefix's namespace, a full IRI in its
   * namespace as the default one (so capture reads back the same IRI), and inside an extension
   * value an unprefixed key as an element in no namespace.
   */
  private extension(key: string, value: unknown, defaultNs: string, unprefixedAllowed: boolean): string {
    let name: string;
    let ns = defaultNs;
    const declarations: Array<[string, string]> = [];
    const prefixed = PREFIXED.exec(key);
    const iri = IRI.exec(key);
    if (prefixed && isNcName(prefixed[1]!) && isNcName(prefixed[2]!) && !/^(?:urn|https?)$/i.test(prefixed[1]!)) {
      const prefix = prefixed[1]!;
      const uri = this.resolve(prefix, key);
      if (this.declared.get(prefix) !== uri) {
        if (!this.declared.has(prefix) && !RESERVED_PREFIXES.has(prefix)) this.declared.set(prefix, uri);
        else declarations.push([`xmlns:${prefix}`, uri]);
      }
      name = key;
    } else if (unprefixedAllowed && isNcName(key)) {
      name = key;
      if (defaultNs !== '') {
        ns = '';
        declarations.push(['xmlns', '']);
      }
    } else if (iri && isNcName(iri[2]!)) {
      name = iri[2]!;
      ns = iri[1]!;
      if (ns !== defaultNs) declarations.push(['xmlns', ns]);
    } else throw new NotRepresentableInXml(`the field ${key} is no XML element name`);
    return this.value(name, attributes(declarations), value, ns);
  }

  private value(name: string, attrs: string, value: unknown, ns: string): string {
    if (Array.isArray(value)) return value.map((v) => this.value(name, attrs, v, ns)).join('');
    if (value === null || value === undefined) return `<${name}${attrs}/>`;
    if (typeof value !== 'object') return `<${name}${attrs}>${escapeText(String(value))}</${name}>`;
    let text = '';
    let children = '';
    for (const [key, v] of Object.entries(value as Json)) {
      // (what capture reads from XML: '#text' beside child elements; JSON-LD's value and reference keywords are text too)
      if (key === '#text' || key === '@value' || key === '@id') text += scalar(v, key);
      else if (key === '@type' || key === '@language') continue;
      else children += this.extension(key, v, ns, true);
    }
    return `<${name}${attrs}>${escapeText(text)}${children}</${name}>`;
  }

  private resolve(prefix: string, key: string): string {
    const bound = this.own[prefix] ?? this.pageBindings[prefix];
    const wellKnown = WELL_KNOWN_NAMESPACES[prefix];
    // (the JSON-LD context writes the CBV's master data namespace with a '#' its XML namespace does not have)
    if (wellKnown && (bound === undefined || bound === wellKnown || bound === `${wellKnown}#`)) return wellKnown;
    const uri = bound ?? STANDARD_PREFIXES[prefix];
    if (!uri) throw new NotRepresentableInXml(`no captured document bound the prefix of ${key} to a namespace`);
    return uri;
  }
}

function scalar(value: unknown, field: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new NotRepresentableInXml(`${field} is not a single value`);
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new NotRepresentableInXml(`${field} is not a list`);
  return value;
}

/** The EPCISQueryDocument (EPCIS 2.0 XML) answering a query with `page`'s events. */
export function queryDocumentXml(page: XmlQueryPage, createdAt: Date): string {
  return new QueryDocumentWriter(page).document(page, createdAt);
}
