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

/** Escapes raw bytes of a text value streamed in pieces (the bytes of multi-byte characters never match). */
export function escapeCopyBytes(chunk: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i] as number;
    if (b === 0x5c || b === 0x09 || b === 0x0a || b === 0x0d) extra++;
  }
  if (extra === 0) return chunk;
  const out = Buffer.allocUnsafe(chunk.length + extra);
  let j = 0;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i] as number;
    if (b === 0x5c || b === 0x09 || b === 0x0a || b === 0x0d) {
      out[j++] = 0x5c;
      out[j++] = b === 0x5c ? 0x5c : b === 0x09 ? 0x74 : b === 0x0a ? 0x6e : 0x72;
    } else out[j++] = b;
  }
  return out;
}
