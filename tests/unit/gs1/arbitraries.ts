import fc from 'fast-check';
import { CSET82, withCheckDigit } from '../../../domain/gs1';

export const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
export const gtin14 = digits(13).map(withCheckDigit);
export const sscc18 = digits(17).map(withCheckDigit);
export const cset82Text = fc.string({ unit: fc.constantFrom(...CSET82), minLength: 1, maxLength: 20 });
export const companyPrefixLength = fc.integer({ min: 6, max: 12 });
