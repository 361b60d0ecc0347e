/**
 * Splits an EPCIS document arriving in chunks into its events, without ever holding the whole
 * document: a million-unit batch is a hundred-megabyte body, and capture must stay within a few
 * hundred megabytes of memory. Each event's text is cut out and handed to JSON.parse (native and
 * fast); everything outside the event list — the header — is kept as a small skeleton document
 * whose event list is empty, parsed at the end.
 *
 * It tracks only what it needs: strings (so brackets inside them do not count), nesting, and the
 * keys of the first few levels to recognise `epcisBody.eventList` (an EPCISDocument) or
 * `epcisBody.queryResults.resultsBody.eventList` (an EPCISQueryDocument, which the REST binding
 * says capture should take too). Grammar errors inside an event or the header surface when that
 * part is parsed; a broken structure (unbalanced brackets, text after the document) stops it at once.
 */

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

const EVENT_LIST_PATHS = ['epcisBody/eventList', 'epcisBody/queryResults/resultsBody/eventList'];
/** Keys deeper than this never decide whether an array is the event list. */
const KEY_DEPTH = 5;

export class DocumentStructureError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface Frame {
  array: boolean;
  /** The key under which this container sits in its parent object (null for array items and the root). */
  key: string | null;
  /** For objects: the next string is a key. */
  expectKey: boolean;
  /** For objects: the most recent key read. */
  lastKey: string | null;
}

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export interface SplitterSink {
  /** An element of the event list, as its JSON text (not parsed), with its index. */
  event(text: Buffer, index: number): void;
  /** An element of the event list that is not a JSON object. */
  notAnObject(index: number): void;
}

export class EventListSplitter {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escape = false;
  private offset = 0;
  private done = false;
  private started = false;

  /** Depth (stack length) of the event list array while inside it; -1 outside. */
  private listDepth = -1;
  private eventIndex = 0;
  /** Capturing an event: the chunks of its text so far. */
  private capture: Buffer[] | null = null;
  /** Skipping a non-object list element until the next comma or the end of the list. */
  private skippingScalar = false;
  private eventListsSeen = 0;

  private readonly skeleton: Buffer[] = [];
  private skeletonBytes = 0;
  private keyBytes: Buffer[] | null = null;

  constructor(
    private readonly sink: SplitterSink,
    /** The header (everything but the events) may not grow past this: it is held in memory. */
    private readonly maxHeaderBytes = 16 * 1024 * 1024,
  ) {}

  get events(): number {
    return this.eventIndex;
  }

  write(chunk: Buffer): void {
    let skelStart = this.listDepth === -1 ? 0 : -1;
    let capStart = this.capture ? 0 : -1;
    let keyStart = this.keyBytes ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === QUOTE) {
          this.inString = false;
          if (keyStart !== -1) {
            (this.keyBytes as Buffer[]).push(chunk.subarray(keyStart, i + 1));
            this.finishKey();
            keyStart = -1;
          }
        }
        continue;
      }
      if (isSpace(b)) continue;
      if (this.done) throw new DocumentStructureError('text after the end of the document', this.offset + i);

      const depth = this.stack.length;
      if (this.skippingScalar) {
        // A list element that is not an object: skip to the comma or bracket that ends it.
        if (depth === this.listDepth && (b === COMMA || b === CLOSE_ARRAY)) this.skippingScalar = false;
        else if (b === QUOTE) {
          this.inString = true;
          continue;
        } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
          this.stack.push({ array: b === OPEN_ARRAY, key: null, expectKey: b === OPEN_OBJECT, lastKey: null });
          continue;
        } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
          this.close(b, i);
          continue;
        } else continue;
      }

      if (depth === this.listDepth && !this.capture) {
        // Between events: a new element, a comma or the end of the list.
        if (b === COMMA) continue;
        if (b === CLOSE_ARRAY) {
          this.stack.pop();
          this.listDepth = -1;
          skelStart = i;
          this.started = true;
          continue;
        }
        if (b === OPEN_OBJECT) {
          this.capture = [];
          capStart = i;
          this.stack.push({ array: false, key: null, expectKey: false, lastKey: null });
          continue;
        }
        this.sink.notAnObject(this.eventIndex++);
        this.skippingScalar = true;
        if (b === QUOTE) this.inString = true;
        continue;
      }

      if (b === QUOTE) {
        this.inString = true;
        const top = this.stack[depth - 1];
        if (!this.capture && top && !top.array && top.expectKey && depth <= KEY_DEPTH) {
          this.keyBytes = [];
          keyStart = i;
        }
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        if (!this.started && depth === 0 && b !== OPEN_OBJECT) throw new DocumentStructureError('the document is not a JSON object', this.offset + i);
        this.started = true;
        const parent = this.stack[depth - 1];
        const key = parent && !parent.array ? parent.lastKey : null;
        this.stack.push({ array: b === OPEN_ARRAY, key, expectKey: b === OPEN_OBJECT, lastKey: null });
        if (b === OPEN_ARRAY && !this.capture && depth < KEY_DEPTH && this.isEventListPath()) {
          if (this.eventListsSeen++ > 0) throw new DocumentStructureError('the document has more than one event list', this.offset + i);
          // Keep "[" in the skeleton and leave the events out of it.
          if (skelStart !== -1) this.keep(chunk.subarray(skelStart, i + 1));
          skelStart = -1;
          this.listDepth = this.stack.length;
        }
        continue;
      }
      if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        this.close(b, i);
        if (this.capture && this.stack.length === this.listDepth) {
          this.capture.push(chunk.subarray(capStart, i + 1));
          const text = this.capture.length === 1 ? (this.capture[0] as Buffer) : Buffer.concat(this.capture);
          this.capture = null;
          capStart = -1;
          this.sink.event(text, this.eventIndex++);
        }
        continue;
      }
      if (b === COMMA) {
        const top = this.stack[depth - 1];
        if (top && !top.array) top.expectKey = true;
        continue;
      }
      // ':' and the letters of numbers, true, false and null need no tracking.
    }
    if (skelStart !== -1 && this.listDepth === -1) this.keep(chunk.subarray(skelStart));
    if (this.capture && capStart !== -1) this.capture.push(chunk.subarray(capStart));
    if (keyStart !== -1 && this.keyBytes) this.keyBytes.push(chunk.subarray(keyStart));
    this.offset += n;
  }

  /** The header: the document with an empty event list. Throws when the document was cut short. */
  end(): unknown {
    if (!this.started || this.stack.length > 0 || this.inString) {
      throw new DocumentStructureError('the document ends before it is complete', this.offset);
    }
    const text = Buffer.concat(this.skeleton).toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      throw new DocumentStructureError('the document (outside its events) is not valid JSON', this.offset);
    }
  }

  private close(b: number, i: number): void {
    const top = this.stack.pop();
    if (!top || top.array !== (b === CLOSE_ARRAY)) throw new DocumentStructureError('unbalanced brackets', this.offset + i);
    if (this.stack.length === 0) this.done = true;
  }

  private finishKey(): void {
    const raw = Buffer.concat(this.keyBytes as Buffer[]).toString('utf8');
    this.keyBytes = null;
    const top = this.stack[this.stack.length - 1];
    if (!top) return;
    try {
      top.lastKey = JSON.parse(raw) as string;
    } catch {
      top.lastKey = null;
    }
    top.expectKey = false;
  }

  private isEventListPath(): boolean {
    const path = this.stack
      .slice(1)
      .map((f) => f.key ?? '#')
      .join('/');
    return EVENT_LIST_PATHS.includes(path);
  }

  private keep(part: Buffer): void {
    this.skeletonBytes += part.length;
    if (this.skeletonBytes > this.maxHeaderBytes) {
      throw new DocumentStructureError(`the document outside its event list exceeds ${this.maxHeaderBytes} bytes`, this.offset);
    }
    // Copy: the request's chunk must not be kept alive for the sake of a few header bytes.
    this.skeleton.push(Buffer.from(part));
  }
}
