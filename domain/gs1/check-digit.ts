/**
 * The GS1 mod-10 check digit shared by GTIN, SSCC, GLN and the rest: weights 3 and 1 alternate from
 * the rightmost data digit leftwards, so a key padded with leading zeros keeps its check digit
 * (that is why GTIN-8/12/13 normalise to GTIN-14 by padding alone).
 */
export function gs1CheckDigit(dataDigits: string): number {
  let sum = 0;
  for (let i = dataDigits.length - 1, weight = 3; i >= 0; i--, weight = 4 - weight) {
    sum += (dataDigits.charCodeAt(i) - 48) * weight;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when the last digit of `key` is the check digit of the ones before it. */
export function hasValidCheckDigit(key: string): boolean {
  if (key.length < 2 || !DIGITS.test(key)) return false;
  return gs1CheckDigit(key.slice(0, -1)) === key.charCodeAt(key.length - 1) - 48;
}

/** Appends the check digit to `dataDigits`. */
export function withCheckDigit(dataDigits: string): string {
  return `${dataDigits}${gs1CheckDigit(dataDigits)}`;
}

export const DIGITS = /^[0-9]+$/;
