import { JsonListSplitter } from '../lib/json-list-splitter';
import { contextPrefixes } from './event-hash';
import { masterDataFromJson, unstorableMasterData, type VocabularyElement } from './master-data';
import type { CaptureProblem } from './normalise';
import { validateDocumentShell } from './schema';
import type { Located } from './xml/convert';
import { XmlDocumentReader } from './xml/reader';

/**
 * How capture reads a document as it arrives, whatever its syntax: each event as an EPCIS 2.0 JSON
 * object as soon as it is complete, then what the document says outside its events. Capture
 * validates, normalises and stores the events the same way for both, so an event is one event
 * whether it came as JSON or as XML.
 */

export type DocumentFormat = 'json' | 'xml';

export interface ReadEvent {
  /** Position in the document's event list. */
  index: number;
  /** The event as EPCIS 2.0 JSON; absent when it could not be read at all (its problems say why). */
  event?: unknown;
  /** Problems found in reading it (the XML structure); the schema and normaliser add theirs. */
  problems: CaptureProblem[];
  /** For an XML event: the element a JSON field came from. */
  locate?: (field: string) => Located;
  /** Namespace prefixes in force for the event's extension names (for the CBV event hash). */
  prefixes?: Record<string, string>;
}

export interface DocumentEnd {
  events: number;
  /** Problems of the document outside its events (root, header, master data). */
  problems: CaptureProblem[];
  masterData: VocabularyElement[];
}

export interface DocumentReader {
  /** The next chunk of the body, and its text (the caller decodes it, refusing bytes that are not UTF-8). */
  write(chunk: Buffer, text: string): void;
  /** The events completed so far, handed over once. */
  take(): ReadEvent[];
  end(): DocumentEnd;
}

export function documentReader(format: DocumentFormat): DocumentReader {
  return format === 'xml' ? new XmlReader() : new JsonReader();
}

/**
 * Where the events are in JSON: `epcisBody.eventList` of an EPCISDocument, or of an
 * EPCISQueryDocument's results, which the REST binding says capture should take too. The header
 * (everything else) may not pass 16 MiB: it is held in memory.
 */
const EVENT_LIST = {
  paths: [
    ['epcisBody', 'eventList'],
    ['epcisBody', 'queryResults', 'resultsBody', 'eventList'],
  ],
  listName: 'event list',
  maxHeaderBytes: 16 * 1024 * 1024,
};

class JsonReader implements DocumentReader {
  private readonly pending: Array<{ text: Buffer | null; index: number }> = [];
  private readonly splitter = new JsonListSplitter(
    { element: (text, index, kind) => this.pending.push({ text: kind === 'object' ? text : null, index }) },
    EVENT_LIST,
  );

  write(chunk: Buffer): void {
    this.splitter.write(chunk);
  }

  /** The prefixes of the document's @context, when it comes before the events (JSON-LD documents put it first). */
  private prefixes: Record<string, string> | null = null;

  take(): ReadEvent[] {
    if (this.pending.length && this.prefixes === null) {
      const header = this.splitter.headerBeforeList() as { '@context'?: unknown } | undefined;
      this.prefixes = header && typeof header === 'object' ? contextPrefixes(header['@context']) : {};
    }
    const prefixes = this.prefixes ?? {};
    return this.pending.splice(0).map(({ text, index }) => {
      if (text === null) return { index, problems: [{ eventIndex: index, field: '(event)', reason: 'must be a JSON object' }] };
      try {
        return { index, event: JSON.parse(text.toString('utf8')) as unknown, problems: [], prefixes };
      } catch (e) {
        return { index, problems: [{ eventIndex: index, field: '(event)', reason: `is not valid JSON: ${(e as Error).message}` }] };
      }
    });
  }

  end(): DocumentEnd {
    const header = this.splitter.end();
    const problems: CaptureProblem[] = validateDocumentShell(header).map((p) => ({ field: p.field, reason: p.reason }));
    const h = header as { type?: unknown };
    if (h && typeof h === 'object' && h.type !== 'EPCISDocument' && h.type !== 'EPCISQueryDocument') {
      problems.push({ field: 'type', reason: 'must be "EPCISDocument" (or "EPCISQueryDocument")' });
    }
    const masterData = problems.length ? [] : masterDataFromJson(header);
    problems.push(...unstorableMasterData(masterData));
    return { events: this.splitter.elements, problems, masterData };
  }
}

class XmlReader implements DocumentReader {
  private readonly xml = new XmlDocumentReader();

  write(chunk: Buffer, text: string): void {
    this.xml.write(text, chunk.length);
  }

  take(): ReadEvent[] {
    return this.xml.take();
  }

  end(): DocumentEnd {
    const end = this.xml.end();
    return { events: end.events, problems: [...end.problems, ...unstorableMasterData(end.masterData)], masterData: end.masterData };
  }
}
