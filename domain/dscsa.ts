import { z } from 'zod';
import {
  DECOMMISSIONED_STATUSES,
  expiryContradicts,
  expirySchema,
  parseExpiry,
  serialSchema,
  type AlertedPack,
  type OwnPackData,
} from './emvs';
import { hasValidCheckDigit } from './gs1';
import { isoDateTime } from './iso-time';
import { gtinSchema, lotSchema } from './master-data';
import { safeString } from './text';

/**
 * DSCSA verification of product identifiers, in the fields of the GS1 Lightweight Messaging Standard
 * (LMS): the request names GTIN, serial, lot and expiry; the response says verified or not, why not
 * (verificationFailureReason), and what else the manufacturer wants the requester to know
 * (additionalInfo). Pure: the answer is decided from the company's own data, read by the service.
 */

/** LMS verificationFailureReason values. */
export const DSCSA_FAILURE_REASONS = [
  'No_match_GTIN_Serial',
  'No_match_GTIN_Serial_Lot_Expiry',
  'No_match_GTIN_Serial_Lot',
  'No_match_GTIN_Serial_Expiry',
  'No_reason_provided',
  'Not_for_re-distribution',
  'Manufacturer_policy',
] as const;
export type DscsaFailureReason = (typeof DSCSA_FAILURE_REASONS)[number];

/** LMS additionalInfo values. */
export const DSCSA_ADDITIONAL_INFO = ['Expired', 'ExpirationExtended', 'Recalled', 'Suspect', 'Illegitimate'] as const;
export type DscsaAdditionalInfo = (typeof DSCSA_ADDITIONAL_INFO)[number];

/** A GLN: 13 digits, the last its check digit. */
export const glnSchema = safeString()
  .regex(/^\d{13}$/, 'a GLN has 13 digits')
  .refine(hasValidCheckDigit, 'the GLN check digit is wrong');

/** How LMS names the use of a verification (dscsaSaleableReturn, …): letters and digits. */
const contextSchema = safeString().regex(/^[A-Za-z][A-Za-z0-9_-]{0,49}$/, 'a context is a word of up to 50 letters, digits, _ or -');

/** A request and its response as a verification router or requester logged them, sent in to be recorded. */
export const recordVerificationSchema = z
  .object({
    gtin: gtinSchema,
    serialNumber: serialSchema,
    lotNumber: lotSchema,
    /** LMS `exp`: YYMMDD (DD 00 for the month), or an ISO date. */
    expirationDate: expirySchema,
    verified: z.boolean(),
    verificationFailureReason: z.enum(DSCSA_FAILURE_REASONS).optional(),
    additionalInfo: z.enum(DSCSA_ADDITIONAL_INFO).optional(),
    requesterGLN: glnSchema,
    responderGLN: glnSchema,
    correlationUUID: z.uuid(),
    verificationTimestamp: isoDateTime,
    context: contextSchema.optional(),
  })
  .strict()
  .refine((v) => !(v.verified && v.verificationFailureReason), {
    message: 'a verified response has no verificationFailureReason',
    path: ['verificationFailureReason'],
  });
export type RecordVerificationInput = z.infer<typeof recordVerificationSchema>;

/** The query of a verification request (LMS): the expiry, and who asks, for what, under which correlation UUID. */
export const verifyQuerySchema = z
  .object({
    exp: expirySchema,
    linkType: safeString().max(100).optional(),
    context: contextSchema.optional(),
    reqGLN: glnSchema.optional(),
    corrUUID: z.uuid().optional(),
  })
  .strict();

/** The path of a verification request: GTIN, lot, serial. */
export const verifyPathSchema = z.object({ gtin: gtinSchema, lot: lotSchema, serial: serialSchema }).strict();

/** The LMS verification response. */
export const verificationResponseSchema = z
  .object({
    verificationTimestamp: z.string(),
    responderGLN: z.string().optional(),
    data: z
      .object({
        verified: z.boolean(),
        verificationFailureReason: z.enum(DSCSA_FAILURE_REASONS).optional(),
        additionalInfo: z.enum(DSCSA_ADDITIONAL_INFO).optional(),
      })
      .strict(),
    corrUUID: z.string(),
  })
  .strict();
export type VerificationResponse = z.infer<typeof verificationResponseSchema>;
export type VerificationAnswer = VerificationResponse['data'];

const isDecommissioned = (status: string) => (DECOMMISSIONED_STATUSES as readonly string[]).includes(status);

/**
 * The manufacturer's answer from its commissioning data. Verified: the serial was commissioned under
 * the GTIN, in the lot, with the expiry the request names, and is neither out of circulation nor held.
 * A pack the company destroyed, sampled or decommissioned is answered "Not_for_re-distribution"; one
 * of a batch on hold "Manufacturer_policy" (a deviation withholds it). `today` (YYYY-MM-DD) tells
 * whether a verified pack has expired.
 */
export function answerVerification(pack: Required<AlertedPack>, own: OwnPackData, today: string): VerificationAnswer {
  const unit = own.unit;
  if (!unit || unit.commissionings === 0) return { verified: false, verificationFailureReason: 'No_match_GTIN_Serial' };
  const lotDiffers = unit.lot !== pack.lot;
  const expiryDiffers = unit.expiry !== null && expiryContradicts(pack.expiry, unit.expiry);
  if (lotDiffers && expiryDiffers) return { verified: false, verificationFailureReason: 'No_match_GTIN_Serial_Lot_Expiry' };
  if (lotDiffers) return { verified: false, verificationFailureReason: 'No_match_GTIN_Serial_Lot' };
  if (expiryDiffers) return { verified: false, verificationFailureReason: 'No_match_GTIN_Serial_Expiry' };
  if (isDecommissioned(unit.status)) return { verified: false, verificationFailureReason: 'Not_for_re-distribution' };
  if (own.holds.length > 0) return { verified: false, verificationFailureReason: 'Manufacturer_policy' };
  const expiry = unit.expiry ?? isoExpiry(pack.expiry);
  return expiry !== null && expiry < today ? { verified: true, additionalInfo: 'Expired' } : { verified: true };
}

/** The last day an expiry covers, as YYYY-MM-DD (the month's last day for DD 00). */
function isoExpiry(value: string): string | null {
  const e = parseExpiry(value);
  if (!e) return null;
  const day = e.day ?? new Date(Date.UTC(e.year, e.month, 0)).getUTCDate();
  return `${e.year}-${String(e.month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
