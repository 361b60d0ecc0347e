import { SaxesParser, type SaxesTagNS } from 'saxes';
import { MalformedBodyError, MAX_DEPTH } from '../../lib/json-list-splitter';
import type { CaptureProblem } from '../normalise';
import { masterDataFromXml, type VocabularyElement } from '../master-data';
import { convertEvent, EVENT_TYPES, type Located } from './convert';
import { EPC_LISTS, EPCIS_NAMESPACES, NS, type EpcisVersion, type XmlAttribute, type XmlElement } from './nodes';
import { WELL_KNOWN_PREFIXES } from '../ilmd-spellings';

/**
 * Reads an EPCIS XML document as it arrives, with saxes (a streaming, namespace-aware parser):
 * the wrappers are walked without being kept, each event is built in memory only until its end
 * tag and then handed out as EPCIS 2.0 JSON (convert.ts), and the header is kept (up to 16 MiB,
 * like the JSON reader's) for its master data. Memory is one event and the header, whatever the
 * document's size.
 *
 * Documents taken: an EPCISDocument of EPCIS 1.2 (namespace urn:epcglobal:epcis:xsd:1) or 2.0
 * (…:xsd:2), with or without an SBDH in its header; the same wrapped in a StandardBusinessDocument;
 * an EPCISQueryDocument or bare QueryResults (a poll's answer); any of these in a SOAP 1.1 or 1.2
 * envelope. The structure around the events is checked as the XSDs define it; a document that is
 * not well-formed XML stops the reading at once (MalformedBodyError, like broken JSON).
 */

export interface XmlReadEvent {
  index: number;
  event: Record<string, unknown>;
  /** The namespace of each prefix the event's extension names use (for the CBV event hash). */
  prefixes: Record<string, string>;
  problems: CaptureProblem[];
  locate(field: string): Located;
}

export interface XmlDocumentEnd {
  events: number;
  version: EpcisVersion | null;
  problems: CaptureProblem[];
  masterData: VocabularyElement[];
}

/** The header is held in memory: it may not grow past this (characters of text and attributes). */
export const MAX_HEADER_CHARS = 16 * 1024 * 1024;

type Place =
  | 'root'
  | 'envelope'
  | 'soapBody'
  | 'sbd'
  | 'document'
  | 'queryDocument'
  | 'queryBody'
  | 'queryResults'
  | 'resultsBody'
  | 'body'
  | 'eventList'
  | 'eventListExtension'
  | 'eventListExtension2'
  | 'skip';

interface Frame {
  place: Place | 'build' | 'value';
  path: string;
  line: number;
  /** Element names seen among this frame's children (for the order and presence of the wrappers' parts). */
  seen?: string[];
  node?: XmlElement;
  /** The tree being built is an event (its index) or the header. */
  event?: number;
  header?: boolean;
  /** An <epc> of a list: its text goes to the list's values. */
  list?: XmlElement;
  text?: string;
  textReported?: boolean;
}

const attributesOf = (tag: SaxesTagNS): XmlAttribute[] =>
  Object.values(tag.attributes).map((a) => ({ ns: a.uri ?? '', local: a.local, prefix: a.prefix, value: a.value }));

/** Whether the tag has an attribute other than a namespace declaration (without building a list: it is asked of every <epc>). */
function hasDataAttribute(tag: SaxesTagNS): boolean {
  for (const name in tag.attributes) {
    const a = tag.attributes[name]!;
    if (a.uri !== NS.xmlns && a.prefix !== 'xmlns') return true;
  }
  return false;
}

const isEpcisDocument = (ns: string) => ns === NS.epcis1 || ns === NS.epcis2;
const isQuery = (ns: string) => ns === NS.query1 || ns === NS.query2;
const versionOf = (ns: string): EpcisVersion => (ns === NS.epcis1 || ns === NS.query1 ? '1.2' : '2.0');
/**
 * Prefix to namespace, of the elements and attributes of an event in other namespaces than
 * EPCIS's, as the converter names them (extensionKey). Prefixes it replaces by a well-known one
 * are left to the standard JSON-LD context, so the event hashes as its JSON twin does.
 */
function namespacesOf(root: XmlElement): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (ns: string, prefix: string) => {
    if (!ns || !prefix || EPCIS_NAMESPACES.has(ns) || WELL_KNOWN_PREFIXES[ns] !== undefined || prefix in out) return;
    out[prefix] = ns;
  };
  const stack = [root];
  for (let e = stack.pop(); e; e = stack.pop()) {
    add(e.ns, e.prefix);
    for (const a of e.attributes) add(a.ns, a.prefix);
    for (const c of e.children) stack.push(c);
  }
  return out;
}

const nameOf = (tag: { prefix: string; local: string }) => (tag.prefix ? `${tag.prefix}:${tag.local}` : tag.local);

/**
 * The string as a flat copy of its own. saxes hands out text as slices of the chunk it was given:
 * kept as they are, a million identifiers would keep every chunk of their event alive, and the
 * schema's check that a list's identifiers are unique, which compares them pairwise, runs several
 * times slower on slices than on flat strings.
 */
const ownCopy = (text: string): string => Buffer.from(text, 'utf8').toString('utf8');

export class XmlDocumentReader {
  private readonly parser = new SaxesParser({ xmlns: true, position: true });
  private readonly stack: Frame[] = [{ place: 'root', path: '', line: 1, seen: [] }];
  private readonly pending: XmlReadEvent[] = [];
  private readonly problems: CaptureProblem[] = [];
  private readonly masterData: VocabularyElement[] = [];
  private version: EpcisVersion | null = null;
  private events = 0;
  private headerChars = 0;
  private documentSeen = false;
  private bodySeen = false;
  private offset = 0;

  constructor() {
    const p = this.parser;
    p.on('xmldecl', (decl) => {
      const encoding = decl.encoding?.toLowerCase();
      if (encoding && !['utf-8', 'utf8', 'us-ascii', 'ascii'].includes(encoding))
        throw new MalformedBodyError(`the document declares the encoding ${decl.encoding}; send it as UTF-8`, this.offset);
    });
    p.on('doctype', (doctype) => {
      // Entity declarations are how an XML body expands a few bytes into gigabytes (or reaches files).
      // saxes expands none, but a document declaring them is refused plainly rather than failing at
      // its first reference; a bare <!DOCTYPE name> (some of GS1's own examples) declares nothing.
      if (/[[]|\bSYSTEM\b|\bPUBLIC\b/.test(doctype))
        throw new MalformedBodyError(
          'the document has a DTD (a DOCTYPE with declarations or an external subset), which capture does not take',
          this.offset,
        );
    });
    p.on('opentag', (tag) => this.open(tag));
    p.on('closetag', () => this.close());
    p.on('text', (text) => this.text(text));
    p.on('cdata', (text) => this.text(text));
  }

  /** Feeds the next piece of the body (`bytes` long, for the offsets of errors). */
  write(text: string, bytes: number): void {
    try {
      this.parser.write(text);
    } catch (err) {
      throw this.malformed(err);
    } finally {
      this.offset += bytes;
    }
  }

  /** The events completed so far, handed over once. */
  take(): XmlReadEvent[] {
    return this.pending.splice(0);
  }

  end(): XmlDocumentEnd {
    try {
      this.parser.close();
    } catch (err) {
      throw this.malformed(err);
    }
    if (!this.documentSeen)
      this.problems.push({ field: '(document)', reason: 'holds no EPCIS document (EPCISDocument, EPCISQueryDocument or QueryResults)' });
    else if (!this.bodySeen) this.problems.push({ field: '(document)', reason: 'has no EPCISBody (or resultsBody) with an EventList' });
    return { events: this.events, version: this.version, problems: this.problems, masterData: this.masterData };
  }

  private malformed(err: unknown): Error {
    if (err instanceof MalformedBodyError) return err;
    // saxes says "line:column: message"
    const message = String((err as Error).message ?? err).replace(/^(\d+):(\d+): (.*)$/s, '$3 (line $1, column $2)');
    return new MalformedBodyError(`the body is not well-formed XML: ${message}`, this.offset);
  }

  private problem(field: string, reason: string, element: string, line: number): void {
    this.problems.push({ field, reason, element, line });
  }

  private open(tag: SaxesTagNS): void {
    if (this.stack.length > MAX_DEPTH) throw new MalformedBodyError(`elements nest deeper than ${MAX_DEPTH} levels`, this.offset);
    const parent = this.stack[this.stack.length - 1]!;
    const line = this.parser.line;
    const ns = tag.uri ?? '';

    if (parent.place === 'build' || parent.place === 'value') {
      if (parent.place === 'value') {
        parent.list!.badValues!.push({
          index: parent.list!.values!.length,
          line,
          reason: '<epc> holds an element; it must hold one identifier',
        });
        this.stack.push({ place: 'skip', path: parent.path, line });
        return;
      }
      const node = parent.node!;
      if (node.values && !ns && tag.local === 'epc') {
        if (hasDataAttribute(tag))
          node.badValues!.push({
            index: node.values.length,
            line,
            reason: '<epc> has attributes; it holds one identifier and nothing else',
          });
        this.stack.push({ place: 'value', path: parent.path, line, list: node, text: '' });
        return;
      }
      const child: XmlElement = { ns, local: tag.local, prefix: tag.prefix, attributes: attributesOf(tag), children: [], text: '', line };
      if (!ns && EPC_LISTS.has(tag.local)) {
        child.values = [];
        child.badValues = [];
      }
      node.children.push(child);
      if (parent.header) this.countHeader(tag.local.length + child.attributes.reduce((n, a) => n + a.local.length + a.value.length, 0));
      this.stack.push({
        place: 'build',
        path: `${parent.path}/${nameOf(tag)}`,
        line,
        node: child,
        event: parent.event,
        header: parent.header,
      });
      return;
    }
    if (parent.place === 'skip') {
      this.stack.push({ place: 'skip', path: parent.path, line });
      return;
    }
    const path = parent.path ? `${parent.path}/${nameOf(tag)}` : nameOf(tag);
    parent.seen?.push(ns ? `{${ns}}${tag.local}` : tag.local);
    this.stack.push(this.child(parent, tag, ns, path, line));
  }

  /** Where an element of the document's structure leads, given where it is. */
  private child(parent: Frame, tag: SaxesTagNS, ns: string, path: string, line: number): Frame {
    const frame = (place: Place): Frame => ({ place, path, line, seen: [] });
    const local = tag.local;
    const unexpected = (where: string) => {
      this.problem('(document)', `<${nameOf(tag)}> is not expected ${where}`, path, line);
      return frame('skip');
    };
    const documentRoot = (where: string): Frame => {
      if (this.documentSeen) return unexpected(`${where}: the body holds one EPCIS document`);
      if (isEpcisDocument(ns) && local === 'EPCISDocument') return this.startDocument(tag, ns, path, line, 'document');
      if (isQuery(ns) && local === 'EPCISQueryDocument') return this.startDocument(tag, ns, path, line, 'queryDocument');
      if (isQuery(ns) && local === 'QueryResults') return this.startDocument(tag, ns, path, line, 'queryResults');
      if (ns === NS.masterData1 || ns === NS.masterData2)
        return unexpected(`${where}: a master data document holds no events; send master data in an EPCISDocument's header`);
      return unexpected(
        `${where}: not an EPCIS document (EPCISDocument in urn:epcglobal:epcis:xsd:1 or :2, EPCISQueryDocument, QueryResults)`,
      );
    };
    switch (parent.place) {
      case 'root':
        if ((ns === NS.soap11 || ns === NS.soap12) && local === 'Envelope') return frame('envelope');
        if (ns === NS.sbdh && local === 'StandardBusinessDocument') return frame('sbd');
        return documentRoot('as the root');
      case 'envelope': {
        const soap = ns === NS.soap11 || ns === NS.soap12;
        if (soap && local === 'Header') return frame('skip');
        if (soap && local === 'Body') return frame('soapBody');
        return unexpected('in a SOAP envelope');
      }
      case 'soapBody':
        return documentRoot('in the SOAP body');
      case 'sbd':
        if (ns === NS.sbdh && local === 'StandardBusinessDocumentHeader') return frame('skip');
        return documentRoot('in the StandardBusinessDocument');
      case 'document':
      case 'queryDocument':
        if (!ns && local === 'EPCISHeader') {
          if (parent.seen!.filter((s) => s === 'EPCISHeader').length > 1 || parent.seen!.includes('EPCISBody'))
            return unexpected('here: EPCISHeader comes once, before EPCISBody');
          return { place: 'build', path, line, header: true, node: this.element(tag, ns, line) };
        }
        if (!ns && local === 'EPCISBody') {
          if (parent.seen!.filter((s) => s === 'EPCISBody').length > 1) return unexpected('twice');
          return frame(parent.place === 'document' ? 'body' : 'queryBody');
        }
        if (!ns && local === 'extension') return frame('skip');
        if (ns && !isEpcisDocument(ns) && !isQuery(ns)) return frame('skip');
        return unexpected(`in <${parent.place === 'document' ? 'EPCISDocument' : 'EPCISQueryDocument'}>`);
      case 'queryBody':
        if (isQuery(ns) && local === 'QueryResults') return frame('queryResults');
        return unexpected('in the EPCISBody of a query document: only QueryResults hold events to capture');
      case 'queryResults':
        if (!ns && (local === 'queryName' || local === 'subscriptionID' || local === 'extension')) return frame('skip');
        if (!ns && local === 'resultsBody') return frame('resultsBody');
        if (ns && !isQuery(ns)) return frame('skip');
        return unexpected('in QueryResults');
      case 'resultsBody':
      case 'body':
        if (!ns && local === 'EventList') {
          this.bodySeen = true;
          return frame('eventList');
        }
        if (!ns && local === 'extension') return frame('skip');
        if (!ns && local === 'VocabularyList') return unexpected('here: master data goes in the EPCISHeader');
        if (ns && !isEpcisDocument(ns) && !isQuery(ns)) return frame('skip');
        return unexpected(`in <${parent.place === 'body' ? 'EPCISBody' : 'resultsBody'}>`);
      case 'eventList':
      case 'eventListExtension':
      case 'eventListExtension2': {
        const version = this.version ?? '2.0';
        const here = parent.place;
        if (!ns && local === 'extension') {
          if (here === 'eventList') return frame('eventListExtension');
          if (here === 'eventListExtension' && version === '1.2') return frame('eventListExtension2');
          return unexpected('here');
        }
        // (EPCIS 2.0's EventList/extension holds other namespaces' elements: vendor content, no events)
        if (ns && version === '2.0' && here === 'eventListExtension' && !isEpcisDocument(ns)) return frame('skip');
        if (ns && (isEpcisDocument(ns) || isQuery(ns)))
          return unexpected(
            "in the EventList: an event's element has no namespace (the standard's elements inside a document are unqualified)",
          );
        if (ns) return unexpected('in the EventList: an element of another namespace is not an EPCIS event');
        // EPCIS 1.2 keeps TransformationEvent in EventList/extension, and GS1's 2.0 → 1.2 stylesheet
        // puts AssociationEvent in EventList/extension/extension.
        const expected =
          version === '2.0'
            ? here === 'eventList' && EVENT_TYPES['2.0'].has(local)
            : here === 'eventList'
              ? ['ObjectEvent', 'AggregationEvent', 'TransactionEvent', 'QuantityEvent'].includes(local)
              : here === 'eventListExtension'
                ? local === 'TransformationEvent'
                : local === 'AssociationEvent';
        if (expected) return this.startEvent(tag, path, line);
        if (EVENT_TYPES[version].has(local))
          return unexpected(
            version === '2.0'
              ? 'here: EPCIS 2.0 has every event directly in the EventList'
              : 'here in an EPCIS 1.2 document (TransformationEvent goes in EventList/extension, AssociationEvent in EventList/extension/extension)',
          );
        return unexpected('in the EventList');
      }
      default:
        return frame('skip');
    }
  }

  private element(tag: SaxesTagNS, ns: string, line: number): XmlElement {
    return { ns, local: tag.local, prefix: tag.prefix, attributes: attributesOf(tag), children: [], text: '', line };
  }

  private startDocument(tag: SaxesTagNS, ns: string, path: string, line: number, place: Place): Frame {
    this.documentSeen = true;
    this.version = versionOf(ns);
    if (place !== 'queryResults') {
      const attributes = attributesOf(tag).filter((a) => !a.ns);
      const schemaVersion = attributes.find((a) => a.local === 'schemaVersion')?.value.trim();
      const creationDate = attributes.find((a) => a.local === 'creationDate')?.value.trim();
      const allowed = this.version === '1.2' ? ['1.0', '1.1', '1.2'] : ['2.0', '2.0.0'];
      if (schemaVersion === undefined) this.problem('schemaVersion', `<${tag.local}> has no schemaVersion attribute`, path, line);
      else if (!allowed.includes(schemaVersion))
        this.problem(
          'schemaVersion',
          `schemaVersion ${schemaVersion} does not match the namespace ${ns} (EPCIS ${allowed.join(' or ')})`,
          path,
          line,
        );
      if (creationDate === undefined) this.problem('creationDate', `<${tag.local}> has no creationDate attribute`, path, line);
      else if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?$/.test(creationDate))
        this.problem('creationDate', `creationDate "${creationDate.slice(0, 100)}" is not a date-time`, path, line);
    }
    return { place, path, line, seen: [] };
  }

  private startEvent(tag: SaxesTagNS, path: string, line: number): Frame {
    const index = this.events++;
    return { place: 'build', path, line, node: this.element(tag, '', line), event: index };
  }

  private text(text: string): void {
    const frame = this.stack[this.stack.length - 1]!;
    if (frame.place === 'value') frame.text += text;
    else if (frame.place === 'build') {
      frame.node!.text += text;
      if (frame.header) this.countHeader(text.length);
    } else if (frame.place !== 'skip' && frame.place !== 'root' && !frame.textReported && text.trim()) {
      frame.textReported = true;
      this.problem('(document)', 'holds text where only elements belong', frame.path, this.parser.line);
    }
  }

  private countHeader(chars: number): void {
    this.headerChars += chars;
    if (this.headerChars > MAX_HEADER_CHARS)
      throw new MalformedBodyError(`the EPCISHeader is larger than ${MAX_HEADER_CHARS} characters`, this.offset);
  }

  private close(): void {
    const frame = this.stack.pop()!;
    if (frame.place === 'value') {
      frame.list!.values!.push(ownCopy(frame.text!.trim()));
      return;
    }
    if (frame.place !== 'build') return;
    const parent = this.stack[this.stack.length - 1]!;
    if (parent.place === 'build') return;
    if (frame.event !== undefined) {
      const converted = convertEvent(frame.node!, this.version ?? '2.0', frame.event);
      const prefix = frame.path.slice(0, frame.path.length - frame.node!.local.length);
      const at = (p: CaptureProblem): CaptureProblem => (p.element ? { ...p, element: prefix + p.element } : p);
      this.pending.push({
        index: frame.event,
        event: converted.event,
        prefixes: namespacesOf(frame.node!),
        problems: converted.problems.map(at),
        locate: (field) => {
          const l = converted.locate(field);
          return { element: prefix + l.element, line: l.line };
        },
      });
    } else if (frame.header) this.readHeader(frame.node!, frame.path);
  }

  /** EPCISHeader: the SBDH (required in 1.2, optional in 2.0), then extension/EPCISMasterData, then other namespaces' elements. */
  private readHeader(header: XmlElement, path: string): void {
    const problem = (e: XmlElement, element: string, reason: string) => this.problem('EPCISHeader', reason, element, e.line);
    const standard = header.children.filter((c) => !c.ns || c.ns === NS.sbdh || isEpcisDocument(c.ns));
    const sbdhAt = standard.findIndex((c) => c.ns === NS.sbdh && c.local === 'StandardBusinessDocumentHeader');
    if (this.version === '1.2' && sbdhAt !== 0)
      problem(header, path, 'an EPCIS 1.2 EPCISHeader begins with sbdh:StandardBusinessDocumentHeader');
    let extensionSeen = false;
    standard.forEach((c, i) => {
      const cPath = `${path}/${nameOf(c)}`;
      if (c.ns === NS.sbdh && c.local === 'StandardBusinessDocumentHeader') {
        if (i !== 0) problem(c, cPath, 'the SBDH comes first in the EPCISHeader, and once');
      } else if (!c.ns && c.local === 'extension' && !extensionSeen) {
        extensionSeen = true;
        for (const x of c.children) {
          const xPath = `${cPath}/${nameOf(x)}`;
          if (!x.ns && x.local === 'EPCISMasterData') {
            for (const list of x.children) {
              if (!list.ns && list.local === 'VocabularyList')
                this.masterData.push(...masterDataFromXml(list, `${xPath}/VocabularyList`, this.problems));
              else if (list.ns || list.local !== 'extension')
                problem(list, `${xPath}/${nameOf(list)}`, `<${nameOf(list)}> is not an element of EPCISMasterData`);
            }
          } else if (!x.ns && x.local !== 'extension') problem(x, xPath, `<${x.local}> is not an element of the EPCISHeader's extension`);
        }
      } else problem(c, cPath, `<${nameOf(c)}> is not an element of the EPCISHeader`);
    });
  }
}
