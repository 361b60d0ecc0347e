import { DIGITS, withCheckDigit } from './check-digit';
import { isCset82, parseLot, parseSerial, type Lot, type Serial } from './cset82';
import { clip, parseGtin, parseSscc, type Gtin14, type Sscc18 } from './keys';
import { fail, Gs1Error, ok, type Result } from './result';

/**
 * EPC pure-identity URNs (GS1 EPC Tag Data Standard §6):
 *   urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial   (13 digits around the first dot)
 *   urn:epc:id:sscc:CompanyPrefix.ExtensionSerialRef         (17 digits in all)
 *   urn:epc:class:lgtin:CompanyPrefix.IndicatorItemRef.Lot
 * The check digit is not in the URN; it is recomputed. Where the company prefix ends cannot be
 * read from a GTIN or SSCC alone (it needs GS1's prefix-length table), so the formatters take the
 * length as a parameter.
 */

/**
 * Used when the caller does not know the company prefix length. Seven digits is the most common
 * length issued by GS1 member organisations and the conventional default of EPC tooling; the
 * partition only moves the dot, so a wrong guess still round-trips to the same GTIN/SSCC and serial.
 */
export const DEFAULT_COMPANY_PREFIX_LENGTH = 7;
export const MIN_COMPANY_PREFIX_LENGTH = 6;
export const MAX_COMPANY_PREFIX_LENGTH = 12;

/**
 * CSET 82 characters that the TDS (table A-1) requires percent-encoded in a URN component, because
 * they are reserved in URIs. Every other CSET 82 character appears as itself.
 */
const URN_ESCAPED = new Set(['"', '%', '&', '/', '<', '>', '?']);

export function encodeUrnComponent(s: string): string {
  let out = '';
  for (const c of s) out += URN_ESCAPED.has(c) ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : c;
  return out;
}

/**
 * Decodes %XX escapes. Escapes of any CSET 82 character are accepted (some encoders escape more
 * than they must); a raw reserved character, or an escape outside CSET 82, is refused.
 */
/** CSET 82 without the characters a URN must escape: a component made of these alone decodes to itself. */
const URN_PLAIN = /^[!'()*+,\-.0-9:;=A-Z_a-z]*$/;

export function decodeUrnComponent(s: string): string | null {
  // The usual serial has no escapes; skip building a copy of it.
  if (URN_PLAIN.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      const decoded = String.fromCharCode(parseInt(hex, 16));
      if (!isCset82(decoded)) return null;
      out += decoded;
      i += 2;
    } else {
      if (URN_ESCAPED.has(c) || !isCset82(c)) return null;
      out += c;
    }
  }
  return out;
}

function checkPrefixLength(n: number): void {
  if (!Number.isInteger(n) || n < MIN_COMPANY_PREFIX_LENGTH || n > MAX_COMPANY_PREFIX_LENGTH) {
    throw new Gs1Error(
      'bad_company_prefix_length',
      `a company prefix has ${MIN_COMPANY_PREFIX_LENGTH} to ${MAX_COMPANY_PREFIX_LENGTH} digits, not ${n}`,
    );
  }
}

/** CompanyPrefix.IndicatorItemRef: the indicator digit moves behind the company prefix. */
function gtinToUrnDigits(gtin: Gtin14, companyPrefixLength: number): string {
  checkPrefixLength(companyPrefixLength);
  return `${gtin.slice(1, 1 + companyPrefixLength)}.${gtin[0]}${gtin.slice(1 + companyPrefixLength, 13)}`;
}

function mustGtin(gtin: string): Gtin14 {
  const r = parseGtin(gtin);
  if (!r.ok) throw new Gs1Error(r.error.code, r.error.message);
  return r.value;
}

function mustText(r: Result<string>): string {
  if (!r.ok) throw new Gs1Error(r.error.code, r.error.message);
  return r.value;
}

export function formatSgtinUrn(gtin: string, serial: string, companyPrefixLength = DEFAULT_COMPANY_PREFIX_LENGTH): string {
  const g = mustGtin(gtin);
  return `urn:epc:id:sgtin:${gtinToUrnDigits(g, companyPrefixLength)}.${encodeUrnComponent(mustText(parseSerial(serial)))}`;
}

export function formatLgtinUrn(gtin: string, lot: string, companyPrefixLength = DEFAULT_COMPANY_PREFIX_LENGTH): string {
  const g = mustGtin(gtin);
  return `urn:epc:class:lgtin:${gtinToUrnDigits(g, companyPrefixLength)}.${encodeUrnComponent(mustText(parseLot(lot)))}`;
}

export function formatSsccUrn(sscc: string, companyPrefixLength = DEFAULT_COMPANY_PREFIX_LENGTH): string {
  const r = parseSscc(sscc);
  if (!r.ok) throw new Gs1Error(r.error.code, r.error.message);
  checkPrefixLength(companyPrefixLength);
  const s = r.value;
  return `urn:epc:id:sscc:${s.slice(1, 1 + companyPrefixLength)}.${s[0]}${s.slice(1 + companyPrefixLength, 17)}`;
}

/** Splits `CompanyPrefix.IndicatorItemRef` into a GTIN-14 and the prefix length, checking the partition. */
function gtinFromUrnDigits(
  companyPrefix: string,
  indicatorItemRef: string,
  uri: string,
): Result<{ gtin: Gtin14; companyPrefixLength: number }> {
  if (!DIGITS.test(companyPrefix) || !DIGITS.test(indicatorItemRef)) {
    return fail('bad_uri', `"${clip(uri, 80)}": company prefix and indicator/item reference must be digits`);
  }
  const cpl = companyPrefix.length;
  if (cpl < MIN_COMPANY_PREFIX_LENGTH || cpl > MAX_COMPANY_PREFIX_LENGTH) {
    return fail('bad_company_prefix_length', `"${clip(uri, 80)}": a company prefix has 6 to 12 digits, not ${cpl}`);
  }
  if (cpl + indicatorItemRef.length !== 13) {
    return fail(
      'bad_length',
      `"${clip(uri, 80)}": company prefix and indicator/item reference must have 13 digits together, not ${cpl + indicatorItemRef.length}`,
    );
  }
  const gtin = withCheckDigit(`${indicatorItemRef[0]}${companyPrefix}${indicatorItemRef.slice(1)}`) as Gtin14;
  return ok({ gtin, companyPrefixLength: cpl });
}

export interface ParsedSgtinUrn {
  gtin: Gtin14;
  serial: Serial;
  companyPrefixLength: number;
}

/**
 * The product part of the last SGTIN URN parsed, and its GTIN: a document names thousands of units
 * of one product in a row, and the GTIN's check digit need not be worked out for each.
 */
let lastProduct: { companyPrefix: string; indicatorItemRef: string; key: { gtin: Gtin14; companyPrefixLength: number } } | null = null;

export function parseSgtinUrn(uri: string): Result<ParsedSgtinUrn> {
  const m = /^urn:epc:id:sgtin:([^.]*)\.([^.]*)\.(.*)$/i.exec(uri);
  if (!m) return fail('bad_uri', `"${clip(uri, 80)}" is not urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial`);
  const companyPrefix = m[1] as string;
  const indicatorItemRef = m[2] as string;
  if (!lastProduct || lastProduct.companyPrefix !== companyPrefix || lastProduct.indicatorItemRef !== indicatorItemRef) {
    const parsed = gtinFromUrnDigits(companyPrefix, indicatorItemRef, uri);
    if (!parsed.ok) return parsed;
    lastProduct = { companyPrefix, indicatorItemRef, key: parsed.value };
  }
  const key = lastProduct.key;
  const decoded = decodeUrnComponent(m[3] as string);
  if (decoded === null)
    return fail('bad_serial', `"${clip(uri, 80)}": the serial has a character that is not CSET 82 or must be percent-encoded`);
  const serial = parseSerial(decoded);
  if (!serial.ok) return serial;
  return ok({ gtin: key.gtin, companyPrefixLength: key.companyPrefixLength, serial: serial.value });
}

export interface ParsedLgtinUrn {
  gtin: Gtin14;
  lot: Lot;
  companyPrefixLength: number;
}

export function parseLgtinUrn(uri: string): Result<ParsedLgtinUrn> {
  const m = /^urn:epc:class:lgtin:([^.]*)\.([^.]*)\.(.*)$/i.exec(uri);
  if (!m) return fail('bad_uri', `"${clip(uri, 80)}" is not urn:epc:class:lgtin:CompanyPrefix.IndicatorItemRef.Lot`);
  const key = gtinFromUrnDigits(m[1] as string, m[2] as string, uri);
  if (!key.ok) return key;
  const decoded = decodeUrnComponent(m[3] as string);
  if (decoded === null)
    return fail('bad_lot', `"${clip(uri, 80)}": the lot has a character that is not CSET 82 or must be percent-encoded`);
  const lot = parseLot(decoded);
  if (!lot.ok) return lot;
  return ok({ ...key.value, lot: lot.value });
}

export interface ParsedSsccUrn {
  sscc: Sscc18;
  companyPrefixLength: number;
}

export function parseSsccUrn(uri: string): Result<ParsedSsccUrn> {
  const m = /^urn:epc:id:sscc:([0-9]*)\.([0-9]*)$/i.exec(uri);
  if (!m) return fail('bad_uri', `"${clip(uri, 80)}" is not urn:epc:id:sscc:CompanyPrefix.ExtensionSerialRef (digits)`);
  const [companyPrefix, extSerial] = [m[1] as string, m[2] as string];
  const cpl = companyPrefix.length;
  if (cpl < MIN_COMPANY_PREFIX_LENGTH || cpl > MAX_COMPANY_PREFIX_LENGTH) {
    return fail('bad_company_prefix_length', `"${clip(uri, 80)}": a company prefix has 6 to 12 digits, not ${cpl}`);
  }
  if (cpl + extSerial.length !== 17) {
    return fail(
      'bad_length',
      `"${clip(uri, 80)}": company prefix and extension/serial reference must have 17 digits together, not ${cpl + extSerial.length}`,
    );
  }
  return ok({ sscc: withCheckDigit(`${extSerial[0]}${companyPrefix}${extSerial.slice(1)}`) as Sscc18, companyPrefixLength: cpl });
}
