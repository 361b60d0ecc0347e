import { z } from 'zod';
import { parseEpc, parseGtin, parseLot, parseSerial } from './gs1';
import { isoDate, isoDateTime } from './iso-time';
import { lineText, safeString } from './text';

/**
 * Request shapes for serialization master data (products, batches, repository reports). Every
 * string passes the storable-text rules first (domain/text.ts), so a GS1 message, which quotes
 * the value, never quotes a control character or a lone surrogate.
 */

export const gtinSchema = safeString().transform((v, ctx) => {
  const r = parseGtin(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.error.message });
    return z.NEVER;
  }
  return r.value as string;
});

export const lotSchema = safeString().transform((v, ctx) => {
  const r = parseLot(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.error.message });
    return z.NEVER;
  }
  return r.value as string;
});

const count = z.number().int().min(1).max(1_000_000);

export const productSchema = z
  .object({
    gtin: gtinSchema,
    name: lineText(200),
    unitsPerBundle: count.optional(),
    unitsPerCase: count,
    casesPerPallet: count,
    aggregationRequired: z.boolean().default(true),
  })
  .strict();
export type ProductInput = z.infer<typeof productSchema>;

export const BATCH_STATUSES = ['planned', 'in_production', 'released', 'rejected'] as const;

export const batchSchema = z
  .object({
    lot: lotSchema,
    gtin: gtinSchema,
    expiry: isoDate,
    plannedQuantity: z.number().int().min(1).max(10_000_000),
    line: lineText(50),
    status: z.enum(BATCH_STATUSES).optional(),
  })
  .strict();
export type BatchInput = z.infer<typeof batchSchema>;

/** A serial the repository acknowledged: its AI 21 value, or the SGTIN as EPC URN / Digital Link. */
const reportedSerial = safeString().transform((v, ctx) => {
  if (v.startsWith('urn:') || /^https?:/i.test(v)) {
    const r = parseEpc(v);
    if (r.ok && r.value.kind === 'sgtin') return { gtin: r.value.gtin as string, serial: r.value.serial as string };
    ctx.addIssue({ code: 'custom', message: r.ok ? 'is not an SGTIN' : r.error.message });
    return z.NEVER;
  }
  const r = parseSerial(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.error.message });
    return z.NEVER;
  }
  return { gtin: null, serial: r.value as string };
});

export const repositoryReportSchema = z
  .object({
    target: z.enum(['EMVS', 'DSCSA']),
    reportedAt: isoDateTime,
    serials: z.array(reportedSerial).max(10_000_000),
    /** Where two products share the lot; may also name the lot again (it must then match the path). */
    gtin: gtinSchema.optional(),
    lot: lotSchema.optional(),
  })
  .strict();
export type RepositoryReportInput = z.infer<typeof repositoryReportSchema>;
