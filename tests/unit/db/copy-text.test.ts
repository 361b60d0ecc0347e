import fc from 'fast-check';
import { copyValue, escapeCopyBytes } from '../../../db/copy-text';

/** COPY text escaping, written the obvious way: each special character replaced by its escape. */
const reference = (s: string) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

describe('COPY text escaping', () => {
  it('escapes backslash, tab, newline and carriage return in raw bytes, whatever surrounds them', () => {
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('\\', '\t', '\n', '\r', 'a', '{', '"', 'é', '\u2028'),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
      ),
      maxLength: 200,
    });
    fc.assert(
      fc.property(text, (s) => {
        expect(escapeCopyBytes(Buffer.from(s, 'utf8')).toString('utf8')).toBe(reference(s));
      }),
    );
  });

  it('escapes the same way for a value given whole', () => {
    fc.assert(fc.property(fc.string({ maxLength: 100 }), (s) => expect(copyValue(s)).toBe(reference(s))));
    expect(copyValue(null)).toBe('\\N');
  });

  it('gives back the chunk itself when nothing needs escaping', () => {
    const chunk = Buffer.from('{"type":"ObjectEvent"}');
    expect(escapeCopyBytes(chunk)).toBe(chunk);
  });
});
