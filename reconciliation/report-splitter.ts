/**
 * Splits a repository report arriving in chunks into its serials without holding the body: the
 * strings of the top-level `serials` array are handed out one by one; everything else (a few
 * scalar fields) is kept as a small skeleton whose `serials` array is empty, parsed at the end.
 * Like the EPCIS event-list splitter, it tracks only strings, nesting and top-level keys.
 */

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export class ReportSyntaxError extends Error {}

export interface ReportSink {
  /** A string element of `serials`, decoded, with its index. */
  serial(value: string, index: number): void;
  /** An element of `serials` that is not a string. */
  notAString(index: number): void;
}

interface Frame {
  array: boolean;
  expectKey: boolean;
  lastKey: string | null;
}

export class ReportSplitter {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escape = false;
  private hasEscape = false;
  private offset = 0;
  private done = false;
  private started = false;
  private listDepth = -1;
  private listsSeen = 0;
  private index = 0;
  private inScalar = false;
  private item: Buffer[] | null = null;
  private keyBytes: Buffer[] | null = null;
  private readonly skeleton: Buffer[] = [];
  private skeletonBytes = 0;

  constructor(
    private readonly sink: ReportSink,
    private readonly maxHeaderBytes = 1024 * 1024,
  ) {}

  get serials(): number {
    return this.index;
  }

  write(chunk: Buffer): void {
    let skelStart = this.listDepth === -1 ? 0 : -1;
    let itemStart = this.item ? 0 : -1;
    let keyStart = this.keyBytes ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) {
          this.escape = true;
          this.hasEscape = true;
        } else if (b === QUOTE) {
          this.inString = false;
          if (keyStart !== -1) {
            this.keyBytes!.push(chunk.subarray(keyStart, i + 1));
            this.finishKey();
            keyStart = -1;
          }
          if (itemStart !== -1) {
            this.item!.push(chunk.subarray(itemStart, i + 1));
            this.finishItem();
            itemStart = -1;
          }
        }
        continue;
      }
      if (isSpace(b)) continue;
      if (this.done) throw new ReportSyntaxError(`text after the end of the body (byte ${this.offset + i})`);
      const depth = this.stack.length;
      if (depth === this.listDepth) {
        // Directly inside `serials`: an element, a comma or the end of the list.
        if (b === COMMA || b === CLOSE_ARRAY) {
          this.inScalar = false;
          if (b === CLOSE_ARRAY) {
            this.stack.pop();
            this.listDepth = -1;
            skelStart = i;
          }
          continue;
        }
        if (b === QUOTE) {
          this.inString = true;
          this.hasEscape = false;
          this.item = [];
          itemStart = i;
          continue;
        }
        if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
          this.sink.notAString(this.index++);
          this.stack.push({ array: b === OPEN_ARRAY, expectKey: b === OPEN_OBJECT, lastKey: null });
          continue;
        }
        if (b === CLOSE_OBJECT) throw new ReportSyntaxError(`unbalanced brackets (byte ${this.offset + i})`);
        if (!this.inScalar) {
          this.sink.notAString(this.index++);
          this.inScalar = true;
        }
        continue;
      }
      if (b === QUOTE) {
        this.inString = true;
        const top = this.stack[depth - 1];
        if (this.listDepth === -1 && depth === 1 && top && top.expectKey) {
          this.keyBytes = [];
          keyStart = i;
        }
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        if (!this.started && b !== OPEN_OBJECT) throw new ReportSyntaxError('the body is not a JSON object');
        this.started = true;
        const parent = this.stack[depth - 1];
        this.stack.push({ array: b === OPEN_ARRAY, expectKey: b === OPEN_OBJECT, lastKey: null });
        if (b === OPEN_ARRAY && this.listDepth === -1 && depth === 1 && parent && !parent.array && parent.lastKey === 'serials') {
          if (this.listsSeen++ > 0) throw new ReportSyntaxError('the report has "serials" twice');
          if (skelStart !== -1) this.keep(chunk.subarray(skelStart, i + 1));
          skelStart = -1;
          this.listDepth = this.stack.length;
        }
        continue;
      }
      if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        const top = this.stack.pop();
        if (!top || top.array !== (b === CLOSE_ARRAY)) throw new ReportSyntaxError(`unbalanced brackets (byte ${this.offset + i})`);
        if (this.stack.length === 0) this.done = true;
        continue;
      }
      if (b === COMMA) {
        const top = this.stack[depth - 1];
        if (top && !top.array) top.expectKey = true;
      }
    }
    if (skelStart !== -1 && this.listDepth === -1) this.keep(chunk.subarray(skelStart));
    if (itemStart !== -1 && this.item) this.item.push(chunk.subarray(itemStart));
    if (keyStart !== -1 && this.keyBytes) this.keyBytes.push(chunk.subarray(keyStart));
    this.offset += n;
  }

  /** The report without its serials (`serials` an empty array when it was one). */
  end(): Record<string, unknown> {
    if (!this.started || this.stack.length > 0 || this.inString) throw new ReportSyntaxError('the body ends before it is complete');
    let header: unknown;
    try {
      header = JSON.parse(Buffer.concat(this.skeleton).toString('utf8'));
    } catch (e) {
      throw new ReportSyntaxError(`the body is not valid JSON: ${(e as Error).message}`);
    }
    return header as Record<string, unknown>;
  }

  private finishItem(): void {
    const raw = this.item!.length === 1 ? this.item![0]! : Buffer.concat(this.item!);
    this.item = null;
    let value: string;
    if (this.hasEscape) {
      try {
        value = JSON.parse(raw.toString('utf8')) as string;
      } catch {
        throw new ReportSyntaxError(`serials.${this.index} is not a valid JSON string`);
      }
    } else value = raw.toString('utf8', 1, raw.length - 1);
    this.sink.serial(value, this.index++);
  }

  private finishKey(): void {
    const raw = Buffer.concat(this.keyBytes!).toString('utf8');
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

  private keep(part: Buffer): void {
    this.skeletonBytes += part.length;
    if (this.skeletonBytes > this.maxHeaderBytes) throw new ReportSyntaxError(`the report outside its serials exceeds ${this.maxHeaderBytes} bytes`);
    this.skeleton.push(Buffer.from(part));
  }
}
