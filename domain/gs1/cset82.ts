import { fail, ok, type Result } from './result';
import { clip } from './keys';

/**
 * GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1): the characters a
 * serial (AI 21) or lot (AI 10) may use. Notably absent: space, #, $, @, [, \, ], ^, `, {, |, }, ~.
 */
export const CSET82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`;
const CSET82_RE = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$/;

/** A serial number (AI 21): 1–20 characters of CSET 82. */
export type Serial = string & { readonly __brand: 'Serial' };
/** A batch/lot number (AI 10): 1–20 characters of CSET 82. */
export type Lot = string & { readonly __brand: 'Lot' };

export function isCset82(s: string): boolean {
  return CSET82_RE.test(s);
}

export function parseSerial(input: string): Result<Serial> {
  const problem = cset82Problem(input, 'serial (AI 21)');
  return problem ? fail('bad_serial', problem) : ok(input as Serial);
}

export function parseLot(input: string): Result<Lot> {
  const problem = cset82Problem(input, 'lot (AI 10)');
  return problem ? fail('bad_lot', problem) : ok(input as Lot);
}

function cset82Problem(input: string, what: string): string | null {
  if (input.length < 1 || input.length > 20) return `a ${what} has 1 to 20 characters; "${clip(input)}" has ${input.length}`;
  if (!CSET82_RE.test(input)) {
    const bad = [...input].find((c) => !CSET82.includes(c)) ?? '';
    return `a ${what} uses GS1 CSET 82 characters only; "${clip(input)}" contains ${JSON.stringify(bad)}`;
  }
  return null;
}
