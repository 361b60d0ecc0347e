import fc from 'fast-check';
import {
  DEFAULT_COMPANY_PREFIX_LENGTH,
  Gs1Error,
  formatEpcDigitalLink,
  formatEpcUrn,
  formatLgtinDigitalLink,
  formatLgtinUrn,
  formatSgtinDigitalLink,
  formatSgtinUrn,
  formatSsccDigitalLink,
  formatSsccUrn,
  parseEpc,
  parseSgtinUrn,
  parseSsccUrn,
  unwrap,
  type Epc,
} from '../../../domain/gs1';
import { companyPrefixLength, cset82Text, gtin14, sscc18 } from './arbitraries';

describe('EPC pure-identity URNs', () => {
  it('matches the Tag Data Standard examples', () => {
    expect(formatSgtinUrn('80614141123458', '6789', 7)).toBe('urn:epc:id:sgtin:0614141.812345.6789');
    expect(formatSsccUrn('106141412345678908', 7)).toBe('urn:epc:id:sscc:0614141.1234567890');
    expect(formatLgtinUrn('80614141123458', '6789AB', 7)).toBe('urn:epc:class:lgtin:0614141.812345.6789AB');
    expect(parseEpc('urn:epc:id:sgtin:0614141.812345.6789')).toEqual({
      ok: true,
      value: { kind: 'sgtin', gtin: '80614141123458', serial: '6789' },
    });
    expect(parseEpc('urn:epc:id:sscc:0614141.1234567890')).toEqual({ ok: true, value: { kind: 'sscc', sscc: '106141412345678908' } });
    expect(parseEpc('urn:epc:class:lgtin:4012345.012345.998877')).toEqual({
      ok: true,
      value: { kind: 'lgtin', gtin: '04012345123456', lot: '998877' },
    });
  });

  it('percent-encodes the reserved CSET 82 characters of a serial, and decodes them', () => {
    const urn = formatSgtinUrn('80614141123458', 'A/B%C&D"E<F>G?H', 7);
    expect(urn).toBe('urn:epc:id:sgtin:0614141.812345.A%2FB%25C%26D%22E%3CF%3EG%3FH');
    expect(unwrap(parseEpc(urn))).toMatchObject({ serial: 'A/B%C&D"E<F>G?H' });
    // Over-escaped but legal characters are accepted too.
    expect(unwrap(parseEpc('urn:epc:id:sgtin:0614141.812345.%21x'))).toMatchObject({ serial: '!x' });
  });

  it('refuses a raw reserved character, a bad escape and a wrong partition', () => {
    expect(parseEpc('urn:epc:id:sgtin:0614141.812345.A/B')).toMatchObject({ ok: false, error: { code: 'bad_serial' } });
    expect(parseEpc('urn:epc:id:sgtin:0614141.812345.A%2')).toMatchObject({ ok: false, error: { code: 'bad_serial' } });
    expect(parseEpc('urn:epc:id:sgtin:0614141.812345.A%7E')).toMatchObject({ ok: false, error: { code: 'bad_serial' } }); // ~ is not CSET 82
    expect(parseEpc('urn:epc:id:sgtin:0614141.81234.6789')).toMatchObject({ ok: false, error: { code: 'bad_length' } });
    expect(parseEpc('urn:epc:id:sgtin:06141.81234567.6789')).toMatchObject({ ok: false, error: { code: 'bad_company_prefix_length' } });
    expect(parseEpc('urn:epc:id:sscc:0614141.123456789')).toMatchObject({ ok: false, error: { code: 'bad_length' } });
    expect(parseEpc('urn:epc:id:sgtin:0614141.812345.')).toMatchObject({ ok: false, error: { code: 'bad_serial' } });
    expect(parseEpc('urn:epc:id:grai:0614141.12345.400')).toMatchObject({ ok: false, error: { code: 'unsupported_scheme' } });
    expect(parseEpc('LOT42')).toMatchObject({ ok: false, error: { code: 'unsupported_scheme' } });
    expect(() => formatSgtinUrn('80614141123458', '1', 5)).toThrow(Gs1Error);
    expect(() => formatSgtinUrn('80614141123457', '1')).toThrow(expect.objectContaining({ code: 'bad_check_digit' }));
  });

  it('round-trips any SGTIN, SSCC and LGTIN through its URN for every company prefix length', () => {
    fc.assert(
      fc.property(gtin14, sscc18, cset82Text, companyPrefixLength, (gtin, sscc, text, cpl) => {
        const sgtin = unwrap(parseSgtinUrn(formatSgtinUrn(gtin, text, cpl)));
        expect(sgtin).toEqual({ gtin, serial: text, companyPrefixLength: cpl });
        expect(unwrap(parseSsccUrn(formatSsccUrn(sscc, cpl)))).toEqual({ sscc, companyPrefixLength: cpl });
        expect(unwrap(parseEpc(formatLgtinUrn(gtin, text, cpl)))).toEqual({ kind: 'lgtin', gtin, lot: text });
      }),
    );
  });

  it('defaults the company prefix length to 7', () => {
    expect(DEFAULT_COMPANY_PREFIX_LENGTH).toBe(7);
    expect(formatSgtinUrn('80614141123458', '1')).toBe('urn:epc:id:sgtin:0614141.812345.1');
  });
});

describe('GS1 Digital Link URIs', () => {
  it('formats and parses the canonical forms on id.gs1.org', () => {
    expect(formatSgtinDigitalLink('80614141123458', '6789')).toBe('https://id.gs1.org/01/80614141123458/21/6789');
    expect(formatSsccDigitalLink('106141412345678908')).toBe('https://id.gs1.org/00/106141412345678908');
    expect(formatLgtinDigitalLink('80614141123458', 'L1')).toBe('https://id.gs1.org/01/80614141123458/10/L1');
    expect(unwrap(parseEpc('https://id.gs1.org/01/80614141123458/21/6789'))).toEqual({
      kind: 'sgtin',
      gtin: '80614141123458',
      serial: '6789',
    });
    expect(unwrap(parseEpc('https://id.gs1.org/00/106141412345678908'))).toEqual({ kind: 'sscc', sscc: '106141412345678908' });
    expect(unwrap(parseEpc('https://id.gs1.org/01/80614141123458/10/L1'))).toEqual({ kind: 'lgtin', gtin: '80614141123458', lot: 'L1' });
  });

  it('accepts other domains, resolver paths, short GTINs, lot before serial, query and fragment', () => {
    expect(unwrap(parseEpc('https://example.com/dl/01/4006381333931/10/ABC/21/12%2F3?exp=261231#x'))).toEqual({
      kind: 'sgtin',
      gtin: '04006381333931',
      serial: '12/3',
    });
    expect(formatSgtinDigitalLink('4006381333931', 'S1', { domain: 'http://brand.example/dl/', lot: 'A-B' })).toBe(
      'http://brand.example/dl/01/04006381333931/10/A-B/21/S1',
    );
  });

  it('reads a consumer product variant (AI 22) before the lot and serial, and checks it as CSET 82', () => {
    expect(unwrap(parseEpc('https://id.gs1.org/01/80614141123458/22/2A/21/6789'))).toEqual({
      kind: 'sgtin',
      gtin: '80614141123458',
      serial: '6789',
    });
    expect(unwrap(parseEpc('https://id.gs1.org/01/80614141123458/22/2A/10/L1'))).toEqual({
      kind: 'lgtin',
      gtin: '80614141123458',
      lot: 'L1',
    });
    expect(parseEpc('https://id.gs1.org/01/80614141123458/21/6789/22/2A')).toMatchObject({ ok: false, error: { code: 'bad_uri' } });
    expect(parseEpc('https://id.gs1.org/01/80614141123458/22/a~b/21/6789')).toMatchObject({
      ok: false,
      error: { code: 'bad_uri', message: expect.stringContaining('AI 22') },
    });
    expect(parseEpc(`https://id.gs1.org/01/80614141123458/22/${'V'.repeat(21)}/21/6789`)).toMatchObject({
      ok: false,
      error: { code: 'bad_uri' },
    });
  });

  it('refuses a GTIN alone, qualifiers out of order, an unknown qualifier and bad keys', () => {
    expect(parseEpc('https://id.gs1.org/01/80614141123458')).toMatchObject({ ok: false, error: { code: 'bad_uri' } });
    expect(parseEpc('https://id.gs1.org/01/80614141123458/21/1/10/L')).toMatchObject({ ok: false, error: { code: 'bad_uri' } });
    expect(parseEpc('https://id.gs1.org/01/80614141123458/17/261231')).toMatchObject({ ok: false, error: { code: 'bad_uri' } });
    expect(parseEpc('https://id.gs1.org/01/80614141123457/21/1')).toMatchObject({ ok: false, error: { code: 'bad_check_digit' } });
    expect(parseEpc('https://id.gs1.org/00/106141412345678908/21/1')).toMatchObject({ ok: false, error: { code: 'bad_uri' } });
    expect(parseEpc('https://id.gs1.org/01/80614141123458/21/a%20b')).toMatchObject({ ok: false, error: { code: 'bad_serial' } });
    expect(parseEpc('https://id.gs1.org/01/80614141123458/21/%E0%A4%A')).toMatchObject({ ok: false, error: { code: 'bad_uri' } });
    expect(parseEpc('ftp://id.gs1.org/00/106141412345678908')).toMatchObject({ ok: false, error: { code: 'unsupported_scheme' } });
  });

  it('round-trips any key through its Digital Link and between both spellings', () => {
    const epc: fc.Arbitrary<Epc> = fc.oneof(
      fc.record({ kind: fc.constant('sgtin' as const), gtin: gtin14, serial: cset82Text }),
      fc.record({ kind: fc.constant('sscc' as const), sscc: sscc18 }),
      fc.record({ kind: fc.constant('lgtin' as const), gtin: gtin14, lot: cset82Text }),
    ) as fc.Arbitrary<Epc>;
    fc.assert(
      fc.property(epc, companyPrefixLength, fc.constantFrom('https://id.gs1.org', 'https://example.com/r'), (e, cpl, domain) => {
        const dl = formatEpcDigitalLink(e, domain);
        expect(unwrap(parseEpc(dl))).toEqual(e);
        const urn = formatEpcUrn(e, cpl);
        expect(unwrap(parseEpc(urn))).toEqual(e);
        expect(formatEpcDigitalLink(unwrap(parseEpc(urn)), domain)).toBe(dl);
      }),
    );
  });
});
