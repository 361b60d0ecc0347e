/**
 * GS1 parsers answer with a Result rather than throwing: identifiers arrive by the hundred thousand
 * in EPCIS documents, and capture wants to list every bad one (event index, field, reason) without
 * paying for an exception per item. Formatters, which receive keys the caller has already checked,
 * throw a typed `Gs1Error` instead — a bad key there is a programming error.
 */
export type Gs1ErrorCode =
  | 'not_digits'
  | 'bad_length'
  | 'bad_check_digit'
  | 'bad_serial'
  | 'bad_lot'
  | 'bad_company_prefix_length'
  | 'bad_uri'
  | 'unsupported_scheme';

export interface Gs1Problem {
  code: Gs1ErrorCode;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: Gs1Problem };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(code: Gs1ErrorCode, message: string): Result<T> => ({ ok: false, error: { code, message } });

/** Thrown by formatters and by `unwrap`; carries the same code as the Result's problem. */
export class Gs1Error extends Error {
  constructor(
    readonly code: Gs1ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Gs1Error';
  }
}

/** The value of an ok Result, or a thrown Gs1Error naming the problem. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new Gs1Error(result.error.code, result.error.message);
}
