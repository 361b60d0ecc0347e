import { DIGITS, gs1CheckDigit } from './check-digit';
import { fail, ok, type Result } from './result';

/** A GTIN-14: fourteen digits, the last its valid check digit. Branded so unchecked strings cannot pass. */
export type Gtin14 = string & { readonly __brand: 'Gtin14' };
/** An SSCC-18: eighteen digits, the last its valid check digit. */
export type Sscc18 = string & { readonly __brand: 'Sscc18' };

const GTIN_LENGTHS = new Set([8, 12, 13, 14]);

/**
 * GTIN-8, -12, -13 or -14, normalised to GTIN-14 (left-padded with zeros, which leaves the check
 * digit unchanged) after verifying its check digit.
 */
export function parseGtin(input: string): Result<Gtin14> {
  if (!DIGITS.test(input)) return fail('not_digits', `GTIN "${clip(input)}" must contain digits only`);
  if (!GTIN_LENGTHS.has(input.length)) {
    return fail('bad_length', `GTIN "${clip(input)}" has ${input.length} digits; a GTIN has 8, 12, 13 or 14`);
  }
  const expected = gs1CheckDigit(input.slice(0, -1));
  if (expected !== Number(input.at(-1))) {
    return fail('bad_check_digit', `GTIN ${input} has check digit ${input.at(-1)}; expected ${expected}`);
  }
  return ok(input.padStart(14, '0') as Gtin14);
}

/** An SSCC: exactly 18 digits (extension digit, company prefix, serial reference, check digit). */
export function parseSscc(input: string): Result<Sscc18> {
  if (!DIGITS.test(input)) return fail('not_digits', `SSCC "${clip(input)}" must contain digits only`);
  if (input.length !== 18) return fail('bad_length', `SSCC "${clip(input)}" has ${input.length} digits; an SSCC has 18`);
  const expected = gs1CheckDigit(input.slice(0, -1));
  if (expected !== Number(input.at(-1))) {
    return fail('bad_check_digit', `SSCC ${input} has check digit ${input.at(-1)}; expected ${expected}`);
  }
  return ok(input as Sscc18);
}

/** Keeps messages readable when someone sends a megabyte where a key belongs. */
export function clip(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
