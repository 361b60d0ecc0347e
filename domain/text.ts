import { z } from 'zod';

/**
 * Text that can be stored is the only text accepted. PostgreSQL refuses U+0000 in text and jsonb,
 * and a lone UTF-16 surrogate cannot be encoded as UTF-8 (Temporal's payloads and failures, the
 * database, every log line). Either one, let in, fails later and far away: an activity retried for
 * ever, a workflow failure the worker cannot send. So every string of every body, query and Update
 * goes through one of these schemas, and their messages name the rule, never the value.
 */

/** C0 controls and DEL, except tab, line feed and carriage return (kept in free text). */
const CONTROL_IN_FREE_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
/** Every C0 control and DEL: identifiers, names and one-line fields have no line breaks. */
const CONTROL_IN_LINE = /[\u0000-\u001F\u007F]/;
/** In unicode mode a well-formed pair is one code point, so this matches only a lone surrogate. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export const TEXT_RULES = {
  control: 'control characters are not allowed',
  surrogate: 'the text is not valid Unicode (a lone surrogate)',
} as const;

/** True when the string can be stored and sent anywhere the product sends text. */
export function isStorableText(value: string, multiline = true): boolean {
  return !(multiline ? CONTROL_IN_FREE_TEXT : CONTROL_IN_LINE).test(value) && !LONE_SURROGATE.test(value);
}

/** The string with anything unstorable replaced by U+FFFD, for messages that must quote input. */
export function storableCopy(value: string): string {
  return value.replace(/[\uD800-\uDFFF]/gu, '\uFFFD').replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '\uFFFD');
}

function withTextRules(schema: z.ZodString, multiline: boolean): z.ZodString {
  return schema
    .refine((v) => !LONE_SURROGATE.test(v), { message: TEXT_RULES.surrogate, abort: true })
    .refine((v) => !(multiline ? CONTROL_IN_FREE_TEXT : CONTROL_IN_LINE).test(v), { message: TEXT_RULES.control, abort: true });
}

/**
 * A storable string: refuses C0 controls (tab, newline and carriage return are kept when
 * `multiline`) and lone surrogates, before any other check of the string. Chain `.trim()`,
 * `.min()`, `.max()`, `.regex()` on the result as on any zod string.
 */
export function safeString(opts: { multiline?: boolean } = {}): z.ZodString {
  // The checks run as a preprocess-free first step: z.string() then the two refinements, which
  // abort, so a later regex or length message never runs on (or quotes) unstorable text.
  return withTextRules(z.string(), opts.multiline ?? false);
}

/** Free text a person writes (descriptions, justifications, comments): line breaks allowed. */
export const freeText = (max: number, min = 1) => safeString({ multiline: true }).trim().min(min).max(max);

/** One line: titles, names, references, identifiers. */
export const lineText = (max: number, min = 1) => safeString().trim().min(min).max(max);
