import { isCset82, parseLot, parseSerial, type Lot, type Serial } from './cset82';
import { clip, parseGtin, parseSscc, type Gtin14, type Sscc18 } from './keys';
import { Gs1Error, fail, ok, type Result } from './result';

/**
 * GS1 Digital Link URIs (GS1 Digital Link standard, URI syntax):
 *   https://id.gs1.org/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]
 *   https://id.gs1.org/00/{sscc}
 * Any http(s) domain is accepted, with any path before the primary key (a brand's resolver may live
 * under /dl/…); the query string (data attributes) and fragment are ignored for identification.
 */
export const DEFAULT_DIGITAL_LINK_DOMAIN = 'https://id.gs1.org';

export type DigitalLinkKey =
  { kind: 'sgtin'; gtin: Gtin14; serial: Serial; lot?: Lot } | { kind: 'lgtin'; gtin: Gtin14; lot: Lot } | { kind: 'sscc'; sscc: Sscc18 };

const DL_RE = /^(https?):\/\/([^/?#]+)(\/[^?#]*)?(?:\?[^#]*)?(?:#.*)?$/i;

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function parseDigitalLink(uri: string): Result<DigitalLinkKey> {
  const m = DL_RE.exec(uri);
  if (!m) return fail('bad_uri', `"${clip(uri, 80)}" is not an http(s) GS1 Digital Link URI`);
  const segments = (m[3] ?? '').split('/').slice(1);
  // The primary key is the last occurrence of /01/ or /00/ followed by a value: anything before is the resolver's own path.
  let start = -1;
  for (let i = segments.length - 2; i >= 0; i--) {
    if (segments[i] === '01' || segments[i] === '00') {
      start = i;
      break;
    }
  }
  if (start < 0) return fail('bad_uri', `"${clip(uri, 80)}" has no /01/{gtin} or /00/{sscc} path`);
  const pairs: Array<[string, string]> = [];
  const rest = segments.slice(start);
  if (rest.length % 2 !== 0) return fail('bad_uri', `"${clip(uri, 80)}": the path after the primary key must be /AI/value pairs`);
  for (let i = 0; i < rest.length; i += 2) {
    const value = decodeSegment(rest[i + 1] as string);
    if (value === null || value === '') return fail('bad_uri', `"${clip(uri, 80)}": AI ${rest[i]} has a malformed value`);
    pairs.push([rest[i] as string, value]);
  }
  const [[primaryAi, primaryValue], ...qualifiers] = pairs as [[string, string], ...Array<[string, string]>];

  if (primaryAi === '00') {
    if (qualifiers.length) return fail('bad_uri', `"${clip(uri, 80)}": an SSCC takes no key qualifiers`);
    const sscc = parseSscc(primaryValue);
    return sscc.ok ? ok({ kind: 'sscc', sscc: sscc.value }) : sscc;
  }

  const gtin = parseGtin(primaryValue);
  if (!gtin.ok) return gtin;
  // Key qualifiers of AI 01 come in this order, each at most once (22 consumer variant, 10 lot, 21 serial).
  const order = ['22', '10', '21'];
  let last = -1;
  let lot: Lot | undefined;
  let serial: Serial | undefined;
  for (const [ai, value] of qualifiers) {
    const at = order.indexOf(ai);
    if (at < 0) return fail('bad_uri', `"${clip(uri, 80)}": AI ${ai} is not a key qualifier of a GTIN`);
    if (at <= last) return fail('bad_uri', `"${clip(uri, 80)}": key qualifiers must appear once each in the order 22, 10, 21`);
    last = at;
    if (ai === '22') {
      // A consumer product variant (AI 22): up to 20 characters of CSET 82; it qualifies the GTIN
      // but is not part of the SGTIN or LGTIN it names.
      if (value.length > 20 || !isCset82(value)) return fail('bad_uri', `"${clip(uri, 80)}": AI 22 must be 1–20 characters of GS1 CSET 82`);
    } else if (ai === '10') {
      const r = parseLot(value);
      if (!r.ok) return r;
      lot = r.value;
    } else if (ai === '21') {
      const r = parseSerial(value);
      if (!r.ok) return r;
      serial = r.value;
    }
  }
  if (serial !== undefined)
    return ok(lot === undefined ? { kind: 'sgtin', gtin: gtin.value, serial } : { kind: 'sgtin', gtin: gtin.value, serial, lot });
  if (lot !== undefined) return ok({ kind: 'lgtin', gtin: gtin.value, lot });
  return fail('bad_uri', `"${clip(uri, 80)}" names a product (GTIN) but neither an instance (/21/) nor a lot (/10/)`);
}

/** Encodes a CSET 82 value for a path segment: everything outside RFC 3986's unreserved set and !'()* is escaped. */
const encodeSegment = (s: string): string => encodeURIComponent(s);

function base(domain: string): string {
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/i.test(domain)) throw new Gs1Error('bad_uri', `"${clip(domain, 80)}" is not an http(s) base URI`);
  return domain.replace(/\/+$/, '');
}

function must<T>(r: Result<T>): T {
  if (!r.ok) throw new Gs1Error(r.error.code, r.error.message);
  return r.value;
}

export interface DigitalLinkOptions {
  /** Scheme, host and optional path of the resolver; defaults to https://id.gs1.org. */
  domain?: string;
  /** Adds /10/{lot} before /21/{serial}. */
  lot?: string;
}

export function formatSgtinDigitalLink(gtin: string, serial: string, opts: DigitalLinkOptions = {}): string {
  const g = must(parseGtin(gtin));
  const s = must(parseSerial(serial));
  const lot = opts.lot === undefined ? '' : `/10/${encodeSegment(must(parseLot(opts.lot)))}`;
  return `${base(opts.domain ?? DEFAULT_DIGITAL_LINK_DOMAIN)}/01/${g}${lot}/21/${encodeSegment(s)}`;
}

export function formatLgtinDigitalLink(gtin: string, lot: string, domain = DEFAULT_DIGITAL_LINK_DOMAIN): string {
  return `${base(domain)}/01/${must(parseGtin(gtin))}/10/${encodeSegment(must(parseLot(lot)))}`;
}

export function formatSsccDigitalLink(sscc: string, domain = DEFAULT_DIGITAL_LINK_DOMAIN): string {
  return `${base(domain)}/00/${must(parseSscc(sscc))}`;
}
