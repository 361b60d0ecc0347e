import { z } from 'zod';
import { safeString } from './text';

/** The meaning of a signature, shown with it (21 CFR 11.50(a)(3)). */
export const SIGNATURE_MEANINGS = ['authored', 'reviewed', 'approved', 'verified', 'rejected'] as const;
export type SignatureMeaning = (typeof SIGNATURE_MEANINGS)[number];

/** Meanings that record an act of the signer's own (authoring, a rejection): no sign-off task asks for them. */
const NOT_ASKED_BY_TASKS = ['authored', 'rejected'] as const satisfies readonly SignatureMeaning[];
/** The meanings a sign-off task asks for, to pass its gate. */
export type TaskSignatureMeaning = Exclude<SignatureMeaning, (typeof NOT_ASKED_BY_TASKS)[number]>;
export const TASK_SIGNATURE_MEANINGS: readonly TaskSignatureMeaning[] = SIGNATURE_MEANINGS.filter(
  (m): m is TaskSignatureMeaning => !(NOT_ASKED_BY_TASKS as readonly string[]).includes(m),
);

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** What a caller supplies to append one signature to the ledger (validated before any I/O). */
export const signatureEntrySchema = z
  .object({
    taskId: safeString().min(1).max(200),
    deviationId: safeString().min(1).max(100),
    signerId: z.uuid(),
    login: safeString().min(1).max(64),
    printedName: safeString().min(1).max(200),
    meaning: z.enum(SIGNATURE_MEANINGS),
    /** UTC; defaults to the time of the append. Kept to the millisecond, the precision the hash covers. */
    signedAt: z.coerce.date().optional(),
    recordHash: z.string().regex(SHA256_HEX, 'a lower-case SHA-256 hex digest'),
    comment: safeString({ multiline: true }).max(5000).nullish(),
  })
  .strict();
export type SignatureEntry = z.input<typeof signatureEntrySchema>;
