import { z } from 'zod';
import { freeText, lineText, safeString } from './text';
import { isoDateTime } from './iso-time';
import { lotNumberSchema } from './deviation';
import { riskAssessmentSchema, rootCauseAnalysisSchema } from './rca';
import { SHA256_HEX, SIGNATURE_MEANINGS } from './signatures';

/**
 * Payloads of every lifecycle step. The API validates request bodies with these schemas and the
 * workflow's Update validators validate the same payloads again, so nothing malformed reaches
 * history even when a client talks to Temporal directly.
 */
const text = freeText(5000);
const shortText = lineText(300);

/** Who completed a step. Until electronic signatures land this is the person's login, given by the caller. */
export const actorSchema = lineText(100);

/** What the API builds after re-authenticating the signer; the workflow stores it as given. */
export const signatureSchema = z
  .object({
    signerId: safeString().min(1).max(100),
    login: safeString().min(1).max(100),
    printedName: safeString().min(1).max(200),
    roles: z.array(safeString().min(1).max(50)).min(1).max(20),
    meaning: z.enum(SIGNATURE_MEANINGS),
    signedAt: isoDateTime,
    recordHash: z.string().regex(SHA256_HEX),
    comment: text.optional(),
  })
  .strict();

/** Signing a sign-off task (the request body carries only the comment, meaning and password). */
export const signTaskSchema = z.object({ taskId: z.string().regex(/^T\d{1,4}$/), signature: signatureSchema }).strict();
export const rejectTaskSchema = z.object({ taskId: z.string().regex(/^T\d{1,4}$/), signature: signatureSchema, reason: text }).strict();

export const EVIDENCE_KINDS = ['reconciliation_report', 'epcis_document', 'hold', 'batch_record', 'document'] as const;
export const addEvidenceSchema = z
  .object({
    items: z
      .array(
        z
          .object({
            kind: z.enum(EVIDENCE_KINDS),
            ref: shortText,
            title: shortText,
            sha256: z
              .string()
              .regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256')
              .optional(),
          })
          .strict()
          .refine((e) => e.kind !== 'document' || e.sha256 !== undefined, {
            message: 'a document is attached by its SHA-256',
            path: ['sha256'],
          }),
      )
      .min(1)
      .max(100),
  })
  .strict();

export const FUNCTIONS = ['manufacturing', 'qa', 'it', 'validation', 'supply_chain', 'regulatory'] as const;
export const addContributionSchema = z.object({ function: z.enum(FUNCTIONS), summary: text }).strict();

export const recordRootCauseAnalysisSchema = z.object({ analysis: rootCauseAnalysisSchema }).strict();
export const recordRiskAssessmentSchema = z.object({ assessment: riskAssessmentSchema }).strict();

export const reportSuspectProductSchema = z
  .object({
    framework: z.enum(['dscsa', 'eu_fmd']),
    finding: z.enum(['illegitimate', 'suspected_falsified']),
    details: text,
  })
  .strict()
  .refine((r) => (r.framework === 'dscsa') === (r.finding === 'illegitimate'), {
    message: 'DSCSA findings are "illegitimate"; EU FMD findings are "suspected_falsified"',
    path: ['finding'],
  });

export const REGULATORY_RECIPIENTS = ['fda_form_3911', 'trading_partner', 'national_competent_authority', 'emvo_alert'] as const;
export const recordRegulatoryNotificationSchema = z
  .object({ recipient: z.enum(REGULATORY_RECIPIENTS), reference: shortText, summary: text, notifiedAt: isoDateTime.optional() })
  .strict();

export const submitInvestigationReportSchema = z.object({ summary: text, rootCause: text }).strict();
export const approveSchema = z.object({ comment: text.optional() }).strict();
export const rejectSchema = z.object({ reason: text }).strict();

export const CAPA_TYPES = ['correction', 'corrective', 'preventive'] as const;
export const CHANGE_KINDS = ['sop', 'equipment', 'computerized_system', 'training'] as const;
export const addCapaActionSchema = z
  .object({
    type: z.enum(CAPA_TYPES),
    description: text,
    owner: actorSchema,
    dueDate: isoDateTime,
    changeControl: z
      .object({ kind: z.enum(CHANGE_KINDS), description: text })
      .strict()
      .optional(),
  })
  .strict();

const actionId = z.string().regex(/^A\d{1,4}$/, 'an action ID such as A1');
export const completeCapaActionSchema = z
  .object({ actionId, evidence: text, evidenceRefs: z.array(shortText).max(50).default([]) })
  .strict();
export const cancelCapaActionSchema = z.object({ actionId, justification: text }).strict();

export const impactAssessmentSchema = z
  .object({
    validationStatusAffected: z.boolean(),
    requalificationRequired: z.boolean(),
    systemsAffected: z.array(shortText).max(50),
    summary: text,
  })
  .strict();
/** A change-control approval or verification: an electronic signature (absent only in histories recorded before signatures). */
export const signChangeControlSchema = z.object({ comment: text.optional(), signature: signatureSchema.optional() }).strict();
export const recordImplementationSchema = z.object({ summary: text }).strict();

export const decideEffectivenessSchema = z.object({ effective: z.boolean(), rationale: text }).strict();

export const recordDispositionSchema = z
  .object({ lot: lotNumberSchema, disposition: z.enum(['release', 'reject']), reason: text })
  .strict();

export const requestExtensionSchema = z
  .object({
    deadline: z.string().regex(/^[A-Za-z0-9:_-]{1,60}$/, 'a deadline key such as T3 or r1:investigation'),
    newDueAt: isoDateTime,
    justification: text,
  })
  .strict();

export const cancelDeviationSchema = z.object({ justification: text, signature: signatureSchema }).strict();

export type AddCapaAction = z.infer<typeof addCapaActionSchema>;
export type ImpactAssessment = z.infer<typeof impactAssessmentSchema>;
