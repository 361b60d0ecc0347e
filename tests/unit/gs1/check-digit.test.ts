import fc from 'fast-check';
import { gs1CheckDigit, hasValidCheckDigit, parseGtin, parseSscc, withCheckDigit } from '../../../domain/gs1';

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

describe('GS1 mod-10 check digit', () => {
  it('matches published keys', () => {
    expect(gs1CheckDigit('8061414112345')).toBe(8); // TDS example GTIN 80614141123458
    expect(gs1CheckDigit('10614141234567890')).toBe(8); // TDS example SSCC 106141412345678908
    expect(hasValidCheckDigit('4006381333931')).toBe(true); // a retail EAN-13
    expect(hasValidCheckDigit('4006381333932')).toBe(false);
  });

  it('catches every single-digit corruption of any key', () => {
    fc.assert(
      fc.property(digits(7, 17), fc.nat(), fc.integer({ min: 1, max: 9 }), (data, pos, delta) => {
        const key = withCheckDigit(data);
        const i = pos % key.length;
        const corrupted = `${key.slice(0, i)}${(Number(key[i]) + delta) % 10}${key.slice(i + 1)}`;
        expect(hasValidCheckDigit(key)).toBe(true);
        expect(hasValidCheckDigit(corrupted)).toBe(false);
      }),
    );
  });

  it('is unchanged by leading zeros, so GTIN-8/12/13 pad to GTIN-14', () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 12, 13, 14), digits(13, 13), (len, data) => {
        const short = withCheckDigit(data.slice(0, len - 1));
        const r = parseGtin(short);
        expect(r).toEqual({ ok: true, value: short.padStart(14, '0') });
      }),
    );
  });
});

describe('GTIN and SSCC parsing', () => {
  it('normalises each GTIN length to GTIN-14', () => {
    expect(parseGtin('96385074')).toEqual({ ok: true, value: '00000096385074' }); // GTIN-8
    expect(parseGtin('036000291452')).toEqual({ ok: true, value: '00036000291452' }); // UPC-A
    expect(parseGtin('4006381333931')).toEqual({ ok: true, value: '04006381333931' }); // EAN-13
    expect(parseGtin('80614141123458')).toEqual({ ok: true, value: '80614141123458' });
  });

  it('refuses wrong lengths, non-digits and bad check digits with the reason', () => {
    expect(parseGtin('1234567890')).toMatchObject({ ok: false, error: { code: 'bad_length' } });
    expect(parseGtin('8061414112345X')).toMatchObject({ ok: false, error: { code: 'not_digits' } });
    expect(parseGtin('80614141123457')).toMatchObject({
      ok: false,
      error: { code: 'bad_check_digit', message: expect.stringContaining('expected 8') },
    });
    expect(parseGtin('')).toMatchObject({ ok: false, error: { code: 'not_digits' } });
    expect(parseSscc('106141412345678908')).toEqual({ ok: true, value: '106141412345678908' });
    expect(parseSscc('106141412345678909')).toMatchObject({ ok: false, error: { code: 'bad_check_digit' } });
    expect(parseSscc('10614141234567890')).toMatchObject({ ok: false, error: { code: 'bad_length' } });
  });

  it('catches every single-digit corruption of an SSCC and a GTIN-14', () => {
    fc.assert(
      fc.property(digits(17, 17), digits(13, 13), fc.nat(), fc.integer({ min: 1, max: 9 }), (s, g, pos, delta) => {
        for (const [key, parse] of [
          [withCheckDigit(s), parseSscc],
          [withCheckDigit(g), parseGtin],
        ] as const) {
          expect(parse(key).ok).toBe(true);
          const i = pos % key.length;
          const bad = `${key.slice(0, i)}${(Number(key[i]) + delta) % 10}${key.slice(i + 1)}`;
          expect(parse(bad)).toMatchObject({ ok: false, error: { code: 'bad_check_digit' } });
        }
      }),
    );
  });
});
