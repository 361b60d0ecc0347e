import type { Lot, Serial } from './cset82';
import {
  formatLgtinDigitalLink,
  formatSgtinDigitalLink,
  formatSsccDigitalLink,
  parseDigitalLink,
  DEFAULT_DIGITAL_LINK_DOMAIN,
} from './digital-link';
import {
  DEFAULT_COMPANY_PREFIX_LENGTH,
  formatLgtinUrn,
  formatSgtinUrn,
  formatSsccUrn,
  parseLgtinUrn,
  parseSgtinUrn,
  parseSsccUrn,
} from './epc-urn';
import { clip, type Gtin14, type Sscc18 } from './keys';
import { fail, ok, type Result } from './result';

/**
 * One identifier as EPCIS carries it, whatever its spelling (EPC URN or Digital Link). Capture and
 * reconciliation key on these fields, never on the URI text: the same SGTIN has one URN per
 * company-prefix partition and endless Digital Link spellings.
 */
export type Epc =
  { kind: 'sgtin'; gtin: Gtin14; serial: Serial } | { kind: 'sscc'; sscc: Sscc18 } | { kind: 'lgtin'; gtin: Gtin14; lot: Lot };

/**
 * Parses an SGTIN, SSCC or LGTIN given as an EPC URN (`urn:epc:id:sgtin:…`, `urn:epc:id:sscc:…`,
 * `urn:epc:class:lgtin:…`) or a GS1 Digital Link URI (`https://…/01/{gtin}/21/{serial}`,
 * `/00/{sscc}`, `/01/{gtin}/10/{lot}`). Returns a Result: `{ ok: false, error }` names the problem
 * in words fit for a problem+json answer; it never throws. A Digital Link naming both lot and
 * serial is an SGTIN (the lot is dropped: the serial already identifies the instance).
 */
export function parseEpc(uri: string): Result<Epc> {
  if (/^urn:/i.test(uri)) {
    const lower = uri.slice(0, 20).toLowerCase();
    if (lower.startsWith('urn:epc:id:sgtin:')) {
      const r = parseSgtinUrn(uri);
      return r.ok ? ok({ kind: 'sgtin', gtin: r.value.gtin, serial: r.value.serial }) : r;
    }
    if (lower.startsWith('urn:epc:id:sscc:')) {
      const r = parseSsccUrn(uri);
      return r.ok ? ok({ kind: 'sscc', sscc: r.value.sscc }) : r;
    }
    if (lower.startsWith('urn:epc:class:lgtin:')) {
      const r = parseLgtinUrn(uri);
      return r.ok ? ok({ kind: 'lgtin', gtin: r.value.gtin, lot: r.value.lot }) : r;
    }
    return fail('unsupported_scheme', `"${clip(uri, 80)}" is not an SGTIN, SSCC or LGTIN EPC URN`);
  }
  if (/^https?:\/\//i.test(uri)) {
    const r = parseDigitalLink(uri);
    if (!r.ok) return r;
    const k = r.value;
    return ok(k.kind === 'sgtin' ? { kind: 'sgtin', gtin: k.gtin, serial: k.serial } : k);
  }
  return fail('unsupported_scheme', `"${clip(uri, 80)}" is neither an EPC URN nor a GS1 Digital Link URI`);
}

/** The pure-identity URN of an EPC; `companyPrefixLength` defaults to DEFAULT_COMPANY_PREFIX_LENGTH (7). */
export function formatEpcUrn(epc: Epc, companyPrefixLength = DEFAULT_COMPANY_PREFIX_LENGTH): string {
  switch (epc.kind) {
    case 'sgtin':
      return formatSgtinUrn(epc.gtin, epc.serial, companyPrefixLength);
    case 'sscc':
      return formatSsccUrn(epc.sscc, companyPrefixLength);
    case 'lgtin':
      return formatLgtinUrn(epc.gtin, epc.lot, companyPrefixLength);
  }
}

/** The GS1 Digital Link URI of an EPC on `domain` (default https://id.gs1.org). */
export function formatEpcDigitalLink(epc: Epc, domain = DEFAULT_DIGITAL_LINK_DOMAIN): string {
  switch (epc.kind) {
    case 'sgtin':
      return formatSgtinDigitalLink(epc.gtin, epc.serial, { domain });
    case 'sscc':
      return formatSsccDigitalLink(epc.sscc, domain);
    case 'lgtin':
      return formatLgtinDigitalLink(epc.gtin, epc.lot, domain);
  }
}
