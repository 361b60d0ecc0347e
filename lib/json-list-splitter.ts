import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './json-bytes';

/**
 * Cuts one array out of a JSON body that arrives in chunks, without ever holding the body: a
 * million-unit EPCIS document or repository report is a hundred megabytes, and the API must stay
 * within a few hundred. Each element of the list is handed out as its own JSON text, to be parsed
 * by the caller (JSON.parse is native and fast); everything outside the list, the header, is kept
 * as a small skeleton whose list is empty, and parsed at the end.
 *
 * It tracks only what it needs: strings (so brackets and commas inside them do not count), nesting,
 * the keys of the first few levels (to recognise the list by its path), and the commas between the
 * list's elements. Grammar errors inside an element or the header surface when that part is parsed;
 * a broken structure (unbalanced brackets, a missing comma in the list, text after the end) stops it
 * at once.
 */

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * Deeper nesting is refused: each level costs a little memory, and a body of nothing but brackets
 * would otherwise exhaust the process long before the size limit. EPCIS events nest a few levels.
 */
export const MAX_DEPTH = 128;

/** The body is not JSON of the expected shape; `offset` is the byte at which that became clear. */
export class MalformedBodyError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** The body passed the size limit of its route (`limit` bytes) while it was being read. */
export class PayloadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The document exceeds the capture limit of ${limit} bytes.`);
  }
}

export type ListElementKind = 'object' | 'array' | 'string' | 'scalar';

export interface ListSink {
  /** An element of the list with its index: its JSON text, or null for a number, boolean or null. */
  element(text: Buffer | null, index: number, kind: ListElementKind): void;
}

export interface ListSplitterOptions {
  /** Where the list may sit: each a chain of object keys from the root. */
  paths: ReadonlyArray<readonly string[]>;
  /** How errors name the list ("event list", "serials"). */
  listName: string;
  /** The header is held in memory, so it may not grow past this. */
  maxHeaderBytes: number;
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

/** Where the splitter is, directly inside the list, between its elements. */
const LIST_OPENED = 0;
const AFTER_ELEMENT = 1;
const AFTER_COMMA = 2;

/** The value of a JSON string's text, or null when the text is not a valid JSON string. */
export function jsonStringValue(text: Buffer): string | null {
  // (the usual serial has neither escapes nor the control characters JSON forbids raw)
  if (!text.includes(BACKSLASH) && !hasControlByte(text)) return text.toString('utf8', 1, text.length - 1);
  try {
    return JSON.parse(text.toString('utf8')) as string;
  } catch {
    return null;
  }
}

function hasControlByte(text: Buffer): boolean {
  for (let i = 0; i < text.length; i++) if ((text[i] as number) < 0x20) return true;
  return false;
}

export class JsonListSplitter {
  private readonly stack: Frame[] = [];
  private readonly keyDepth: number;
  private inString = false;
  private escape = false;
  private offset = 0;
  private done = false;
  private listsSeen = 0;

  /** Depth (stack length) of the list while inside it; -1 outside. */
  private listDepth = -1;
  private listState = LIST_OPENED;
  private index = 0;
  /** The element being cut out: the chunks of its text so far, and what it is. */
  private element: Buffer[] | null = null;
  private elementKind: ListElementKind | null = null;

  private readonly skeleton: Buffer[] = [];
  private skeletonBytes = 0;
  /** The skeleton's length when the list opened, and what closes the brackets open then. */
  private beforeList: { bytes: number; closers: string } | null = null;
  private keyBytes: Buffer[] | null = null;

  constructor(
    private readonly sink: ListSink,
    private readonly options: ListSplitterOptions,
  ) {
    this.keyDepth = Math.max(...options.paths.map((p) => p.length));
  }

  /** How many elements the list has had so far. */
  get elements(): number {
    return this.index;
  }

  write(chunk: Buffer): void {
    let skelStart = this.listDepth === -1 ? 0 : -1;
    let elStart = this.element ? 0 : -1;
    let keyStart = this.keyBytes ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      if (this.inString) {
        // Most of a document is inside strings: jump to the quote that ends this one.
        const end = this.closingQuote(chunk, i);
        if (end === -1) break;
        i = end;
        this.inString = false;
        if (keyStart !== -1) {
          (this.keyBytes as Buffer[]).push(chunk.subarray(keyStart, i + 1));
          this.finishKey();
          keyStart = -1;
        } else if (this.elementKind === 'string') {
          this.emit(chunk.subarray(elStart, i + 1));
          elStart = -1;
        }
        continue;
      }
      const b = chunk[i] as number;
      if (isSpace(b)) {
        // A space ends a number, true, false or null: "[1 2]" is two elements with no comma between them.
        if (this.elementKind === 'scalar' && this.stack.length === this.listDepth) this.elementKind = null;
        continue;
      }
      if (this.done) throw this.error('text after the end of the body', i);
      const depth = this.stack.length;
      if (depth === 0 && b !== OPEN_OBJECT) throw this.error('the body is not a JSON object', i);

      if (depth === this.listDepth) {
        if (this.elementKind === 'scalar') {
          // The letters of a number, true, false or null run on to the comma or bracket after them.
          if (b === QUOTE || b === OPEN_OBJECT || b === OPEN_ARRAY) {
            throw this.error(`a missing comma between elements of the ${this.options.listName}`, i);
          }
          if (b !== COMMA && b !== CLOSE_ARRAY && b !== CLOSE_OBJECT) continue;
          this.elementKind = null;
        }
        if (b === COMMA) {
          if (this.listState !== AFTER_ELEMENT) throw this.error(`a comma without an element before it in the ${this.options.listName}`, i);
          this.listState = AFTER_COMMA;
          continue;
        }
        if (b === CLOSE_ARRAY) {
          if (this.listState === AFTER_COMMA) throw this.error(`a comma before the end of the ${this.options.listName}`, i);
          this.stack.pop();
          this.listDepth = -1;
          skelStart = i;
          continue;
        }
        if (b === CLOSE_OBJECT) throw this.error('unbalanced brackets', i);
        if (this.listState === AFTER_ELEMENT) throw this.error(`a missing comma between elements of the ${this.options.listName}`, i);
        this.listState = AFTER_ELEMENT;
        if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
          this.element = [];
          this.elementKind = b === OPEN_OBJECT ? 'object' : 'array';
          elStart = i;
          this.push({ array: b === OPEN_ARRAY, key: null, expectKey: b === OPEN_OBJECT, lastKey: null }, i);
        } else if (b === QUOTE) {
          this.element = [];
          this.elementKind = 'string';
          elStart = i;
          this.inString = true;
        } else {
          this.elementKind = 'scalar';
          this.sink.element(null, this.index++, 'scalar');
        }
        continue;
      }

      if (b === QUOTE) {
        this.inString = true;
        const top = this.stack[depth - 1];
        if (!this.element && depth <= this.keyDepth && top && !top.array && top.expectKey) {
          this.keyBytes = [];
          keyStart = i;
        }
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        const parent = this.stack[depth - 1];
        const key = !this.element && parent && !parent.array ? parent.lastKey : null;
        this.push({ array: b === OPEN_ARRAY, key, expectKey: b === OPEN_OBJECT, lastKey: null }, i);
        if (b === OPEN_ARRAY && !this.element && depth <= this.keyDepth && this.atListPath()) {
          if (this.listsSeen++ > 0) throw this.error(`the body has more than one ${this.options.listName}`, i);
          // Keep "[" in the skeleton and leave the elements out of it.
          if (skelStart !== -1) this.keep(chunk.subarray(skelStart, i + 1), i);
          skelStart = -1;
          this.beforeList = {
            bytes: this.skeletonBytes,
            closers: this.stack
              .map((f) => (f.array ? ']' : '}'))
              .reverse()
              .join(''),
          };
          this.listDepth = this.stack.length;
          this.listState = LIST_OPENED;
        }
        continue;
      }
      if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        const top = this.stack.pop();
        if (!top || top.array !== (b === CLOSE_ARRAY)) throw this.error('unbalanced brackets', i);
        if (this.stack.length === 0) this.done = true;
        else if (this.element && this.stack.length === this.listDepth) {
          this.emit(chunk.subarray(elStart, i + 1));
          elStart = -1;
        }
        continue;
      }
      if (b === COMMA) {
        const top = this.stack[depth - 1];
        if (top && !top.array) top.expectKey = true;
      }
      // ':' and the letters of numbers, true, false and null need no tracking.
    }
    if (skelStart !== -1 && this.listDepth === -1) this.keep(chunk.subarray(skelStart), n);
    if (elStart !== -1 && this.element) this.element.push(chunk.subarray(elStart));
    if (keyStart !== -1 && this.keyBytes) this.keyBytes.push(chunk.subarray(keyStart));
    this.offset += n;
  }

  /**
   * What the header says before the list (the list empty, the header cut there), once the list has
   * opened; undefined before, or when that part is not valid JSON (the end() then says why). The same
   * however the body was cut into chunks.
   */
  headerBeforeList(): unknown {
    if (!this.beforeList) return undefined;
    try {
      const text = Buffer.concat(this.skeleton).subarray(0, this.beforeList.bytes).toString('utf8');
      return JSON.parse(text + this.beforeList.closers);
    } catch {
      return undefined;
    }
  }

  /** The header: the body with an empty list. Throws when the body was cut short. */
  end(): unknown {
    if (this.stack.length > 0 || !this.done) throw new MalformedBodyError('the body ends before it is complete', this.offset);
    try {
      return JSON.parse(Buffer.concat(this.skeleton).toString('utf8'));
    } catch (e) {
      throw new MalformedBodyError(`the body outside its ${this.options.listName} is not valid JSON: ${(e as Error).message}`, this.offset);
    }
  }

  /**
   * The position of the quote that ends the string under way, searching from `from`; -1 when the
   * string goes on past this chunk. A quote ends the string unless an odd run of backslashes comes
   * right before it; `escape` carries a run's oddness from one chunk to the next.
   */
  private closingQuote(chunk: Buffer, from: number): number {
    let start = from;
    if (this.escape) {
      this.escape = false;
      start++;
    }
    for (let q = chunk.indexOf(QUOTE, start); ; q = chunk.indexOf(QUOTE, q + 1)) {
      const stop = q === -1 ? chunk.length : q;
      let backslashes = 0;
      while (stop - backslashes - 1 >= start && chunk[stop - backslashes - 1] === BACKSLASH) backslashes++;
      if (q === -1) {
        this.escape = backslashes % 2 === 1;
        return -1;
      }
      if (backslashes % 2 === 0) return q;
    }
  }

  private emit(last: Buffer): void {
    const parts = this.element as Buffer[];
    parts.push(last);
    const text = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    const kind = this.elementKind as ListElementKind;
    this.element = null;
    this.elementKind = null;
    this.sink.element(text, this.index++, kind);
  }

  private push(frame: Frame, i: number): void {
    if (this.stack.length >= MAX_DEPTH) throw this.error(`the body nests deeper than ${MAX_DEPTH} levels`, i);
    this.stack.push(frame);
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

  /** Whether the array just opened sits at one of the list's paths. */
  private atListPath(): boolean {
    const depth = this.stack.length - 1;
    return this.options.paths.some((path) => path.length === depth && path.every((key, j) => this.stack[j + 1]?.key === key));
  }

  private keep(part: Buffer, i: number): void {
    this.skeletonBytes += part.length;
    if (this.skeletonBytes > this.options.maxHeaderBytes) {
      throw this.error(`the body outside its ${this.options.listName} exceeds ${this.options.maxHeaderBytes} bytes`, i);
    }
    // Copy: the request's chunk must not be kept alive for the sake of a few header bytes.
    this.skeleton.push(Buffer.from(part));
  }

  private error(message: string, i: number): MalformedBodyError {
    return new MalformedBodyError(message, this.offset + i);
  }
}
