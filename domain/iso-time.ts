import { z } from 'zod';

/**
 * ISO 8601 dates and date-times as the product stores them. RFC 3339 (and so the EPCIS schema and
 * zod) allows two things PostgreSQL refuses to read: the year 0000 (1 BC), and a UTC offset of 16
 * hours or more. Such a value is refused with its reason, here and at capture, rather than failing
 * at the database as a server error. (Real offsets run from -12:00 to +14:00.)
 */
const YEAR_ZERO = 'the year 0000 cannot be stored; use a date from 0001-01-01 on';
const FAR_OFFSET = 'a UTC offset of 16 hours or more cannot be stored';

/** Why an RFC 3339 date or date-time (already of that form) cannot be stored; null when it can. */
export function unstorableTimeReason(value: string): string | null {
  if (value.startsWith('0000')) return YEAR_ZERO;
  // The offset ends the time part: hours, then minutes with or without a colon, or none (RFC 3339's
  // grammar wants minutes; the EPCIS schema's format check takes "+16" too).
  const time = value.search(/[Tt ]/);
  const offset = time < 0 ? null : /[+-](\d{2})(?::?\d{2})?$/.exec(value.slice(time));
  if (offset && Number(offset[1]) >= 16) return FAR_OFFSET;
  return null;
}

const storable = <T extends z.ZodType<string>>(schema: T) =>
  schema.superRefine((v, ctx) => {
    const reason = unstorableTimeReason(v);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

export const isoDate = storable(z.iso.date());
export const isoDateTime = storable(z.iso.datetime({ offset: true }));
