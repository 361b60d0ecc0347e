/**
 * PostgreSQL COPY text format: columns separated by tabs, rows by newlines, NULL as \N, and the
 * backslash, tab, newline and carriage return inside a value escaped.
 */
const SPECIAL = /[\\\t\n\r]/;

export function copyValue(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const s = typeof value === 'string' ? value : String(value);
  if (!SPECIAL.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

export function copyRow(values: Array<string | number | boolean | null | undefined>): string {
  let out = '';
  for (let i = 0; i < values.length; i++) out += (i ? '\t' : '') + copyValue(values[i]);
  return `${out}\n`;
}

const SPECIAL_BYTES = [0x5c, 0x09, 0x0a, 0x0d] as const;
const ESCAPED = [Buffer.from('\\\\'), Buffer.from('\\t'), Buffer.from('\\n'), Buffer.from('\\r')] as const;

/**
 * Escapes raw bytes of a text value streamed in pieces (the bytes of multi-byte characters never
 * match). Documents have a few special bytes per kilobyte (a newline per event): the pieces between
 * them are found with Buffer.indexOf and copied whole.
 */
export function escapeCopyBytes(chunk: Buffer): Buffer {
  const next = SPECIAL_BYTES.map((b) => chunk.indexOf(b));
  if (next.every((p) => p < 0)) return chunk;
  const parts: Buffer[] = [];
  let start = 0;
  for (;;) {
    let which = -1;
    let at = chunk.length;
    for (let k = 0; k < next.length; k++) {
      const p = next[k] as number;
      if (p >= 0 && p < at) {
        at = p;
        which = k;
      }
    }
    if (which < 0) break;
    parts.push(chunk.subarray(start, at), ESCAPED[which] as Buffer);
    start = at + 1;
    next[which] = chunk.indexOf(SPECIAL_BYTES[which] as number, start);
  }
  parts.push(chunk.subarray(start));
  return Buffer.concat(parts);
}
