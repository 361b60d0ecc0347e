import { z } from 'zod';
import { freeText, lineText, safeString } from './text';

export const SYMPTOMS = ['duplicate_serials', 'aggregation_error', 'missing_report', 'lost_packaging', 'other'] as const;
export const SEVERITIES = ['critical', 'major', 'minor'] as const;

export type Symptom = (typeof SYMPTOMS)[number];
/** `manual` is a person's; every other source is automatic detection. */
export const DEVIATION_SOURCES = ['manual', 'reconciliation', 'spc', 'emvs', 'dscsa'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Lot numbers follow GS1 AI (10): up to 20 characters, no control characters or spaces at the ends. */
export const lotNumberSchema = safeString()
  .trim()
  .min(1)
  .max(20)
  .regex(/^[!-~]+$/, 'a lot number is 1–20 printable ASCII characters without spaces');

const personSchema = lineText(100);

/** A packaging line's identifier, as a deviation names it and as the board filters by it. */
export const packagingLineSchema = lineText(50);

/**
 * The board's free text, matched as a substring (case ignored) of each deviation's ID, title,
 * symptom, reporter, batches and lines. One line, and short: no index narrows a substring search,
 * so every deviation is compared with it.
 */
export const DEVIATION_SEARCH_MAX_LENGTH = 100;
export const deviationSearchSchema = lineText(DEVIATION_SEARCH_MAX_LENGTH);

/** What a QA lead (or monitoring) supplies to open a deviation. */
export const openDeviationSchema = z
  .object({
    title: lineText(200, 3),
    symptom: z.enum(SYMPTOMS),
    severity: z.enum(SEVERITIES),
    batches: z
      .array(lotNumberSchema)
      .min(1, 'at least one affected batch')
      .max(500)
      .refine((lots) => new Set(lots).size === lots.length, 'each batch is listed once'),
    description: freeText(10_000),
    /** Taken from the signed-in user; a machine client (monitoring) may name the person responsible. */
    reportedBy: personSchema.optional(),
    /** How it was detected: by a person, or automatically (reconciliation, a chart, an EMVS alert, a DSCSA verification). */
    source: z.enum(DEVIATION_SOURCES).default('manual'),
    lines: z.array(packagingLineSchema).max(50).default([]),
    gtins: z
      .array(z.string().regex(/^\d{14}$/, 'a GTIN-14'))
      .max(100)
      .default([]),
  })
  .strict();

export type OpenDeviationRequest = z.infer<typeof openDeviationSchema>;

export const DEVIATION_ID_PATTERN = /^DEV-\d{4}-\d{6,}$/;

export function formatDeviationId(year: number, sequence: number): string {
  return `DEV-${year}-${String(sequence).padStart(6, '0')}`;
}
