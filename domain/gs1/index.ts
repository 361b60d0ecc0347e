/**
 * GS1 keys and their URI spellings, pure and I/O-free.
 *
 * Error convention: every `parse*` returns a `Result` (`{ ok: true, value }` or
 * `{ ok: false, error: { code, message } }`) and never throws, so a caller validating a document
 * can collect every problem. Every `format*` takes keys the caller has already checked and throws
 * a `Gs1Error` (with the same `code`) when one is invalid. `unwrap` turns a Result into a value or
 * a thrown Gs1Error.
 */
export { gs1CheckDigit, hasValidCheckDigit, withCheckDigit } from './check-digit';
export { CSET82, isCset82, parseLot, parseSerial, type Lot, type Serial } from './cset82';
export { parseGtin, parseSscc, type Gtin14, type Sscc18 } from './keys';
export {
  DEFAULT_COMPANY_PREFIX_LENGTH,
  MAX_COMPANY_PREFIX_LENGTH,
  MIN_COMPANY_PREFIX_LENGTH,
  decodeUrnComponent,
  encodeUrnComponent,
  formatLgtinUrn,
  formatSgtinUrn,
  formatSsccUrn,
  parseLgtinUrn,
  parseSgtinUrn,
  parseSsccUrn,
  type ParsedLgtinUrn,
  type ParsedSgtinUrn,
  type ParsedSsccUrn,
} from './epc-urn';
export {
  DEFAULT_DIGITAL_LINK_DOMAIN,
  formatLgtinDigitalLink,
  formatSgtinDigitalLink,
  formatSsccDigitalLink,
  parseDigitalLink,
  type DigitalLinkKey,
  type DigitalLinkOptions,
} from './digital-link';
export { formatEpcDigitalLink, formatEpcUrn, parseEpc, type Epc } from './epc';
export { Gs1Error, unwrap, type Gs1ErrorCode, type Gs1Problem, type Result } from './result';
