import fc from 'fast-check';
import { CSET82, parseLot, parseSerial } from '../../../domain/gs1';
import { cset82Text } from './arbitraries';

describe('serials (AI 21) and lots (AI 10)', () => {
  it('CSET 82 has exactly 82 distinct characters', () => {
    expect(new Set(CSET82).size).toBe(82);
  });

  it('accepts 1 to 20 characters of CSET 82', () => {
    fc.assert(fc.property(cset82Text, (s) => expect(parseSerial(s)).toEqual({ ok: true, value: s })));
    expect(parseLot('LOT-2026/0042').ok).toBe(true);
  });

  it('refuses empty, over-long and out-of-set serials, naming the character', () => {
    expect(parseSerial('')).toMatchObject({ ok: false, error: { code: 'bad_serial' } });
    expect(parseSerial('A'.repeat(21))).toMatchObject({ ok: false, error: { code: 'bad_serial', message: expect.stringContaining('21') } });
    for (const c of [' ', '#', '$', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~', 'é']) {
      expect(parseSerial(`AB${c}12`)).toMatchObject({
        ok: false,
        error: { code: 'bad_serial', message: expect.stringContaining(JSON.stringify(c)) },
      });
    }
    expect(parseLot('')).toMatchObject({ ok: false, error: { code: 'bad_lot' } });
  });
});
