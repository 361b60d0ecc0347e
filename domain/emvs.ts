import { z } from 'zod';
import type { Severity, Symptom } from './deviation';
import { parseSerial } from './gs1';
import { isoDateTime } from './iso-time';
import { gtinSchema, lotSchema } from './master-data';
import type { Role } from './roles';
import { freeText, lineText, safeString } from './text';

/**
 * EMVS alerts (EU FMD) and negative DSCSA verifications, judged against the company's own
 * serialization data: was the pack's serial commissioned here, in the batch and with the expiry the
 * pack shows, uploaded to the repository, still active? A pack the company's data cannot account for
 * is its own error to correct (the marketing authorisation holder's, MAH); a pack its data accounts
 * for completely, alerted all the same, is suspected of being falsified. Pure: the service reads the
 * data, this decides.
 */

/** Where the finding comes from: the EU hub's alert, or a DSCSA verification answered "not verified". */
export type AlertFramework = 'eu_fmd' | 'dscsa';

/** The pack as the alert or verification names it. */
export interface AlertedPack {
  gtin: string;
  lot: string;
  serial: string;
  /** GS1 YYMMDD (DD 00: the month as a whole) or an ISO date; absent when the sender gave none. */
  expiry?: string;
}

/** Unit statuses (serialized_items) that mean the company took the pack out of circulation itself. */
export const DECOMMISSIONED_STATUSES = ['destroyed', 'sampled', 'decommissioned'] as const;

/** What the company's own data says of the pack, read when the alert arrives (and kept as its evidence). */
export interface OwnPackData {
  /** The GTIN is the company's: product master data, a batch, or a unit of it. */
  productKnown: boolean;
  /** The batch the pack names (GTIN and lot), when the company has it. */
  batch: { id: string; expiry: string | null; line: string | null } | null;
  /** The unit (GTIN and serial), when any event named it; commissioned only when commissionings > 0. */
  unit: {
    commissionings: number;
    /** The batch that commissioned it first. */
    batchId: string | null;
    lot: string | null;
    expiry: string | null;
    line: string | null;
    status: string;
    statusAt: string | null;
  } | null;
  /**
   * In a repository report (target EMVS) of the batch that commissioned it: null when not asked
   * (DSCSA has no central repository) or when the unit was never commissioned.
   */
  uploaded: boolean | null;
  /** Deviations holding the pack's batch (open holds on its lot, or its commissioning lot). */
  holds: string[];
}

export const ALERT_CLASSIFICATIONS = ['not_own_product', 'mah_error', 'suspected_falsification'] as const;
export type AlertClassification = (typeof ALERT_CLASSIFICATIONS)[number];

/** Why, in one word: with the product and batch, the scope of one deviation. */
export const ALERT_CAUSES = [
  'not_own_product',
  'not_commissioned',
  'batch_mismatch',
  'expiry_mismatch',
  'not_uploaded',
  'decommissioned',
  'suspected_falsification',
] as const;
export type AlertCause = (typeof ALERT_CAUSES)[number];

export interface AlertVerdict {
  classification: AlertClassification;
  cause: AlertCause;
  /** What the own data showed, one sentence each, in the order checked. */
  findings: string[];
}

const CAUSE_WORDS: Record<AlertCause, string> = {
  not_own_product: 'not a product of this company',
  not_commissioned: 'serial never commissioned',
  batch_mismatch: 'serial commissioned in another batch',
  expiry_mismatch: 'expiry differs from the batch',
  not_uploaded: 'serial never uploaded to EMVS',
  decommissioned: 'serial decommissioned by the company',
  suspected_falsification: 'genuine, active serial alerted',
};

export const causeInWords = (cause: AlertCause): string => CAUSE_WORDS[cause];

/** A GS1 date (AI 17, YYMMDD) or an ISO date, as year, month and day (null: DD was 00, the whole month). */
export interface ExpiryDate {
  year: number;
  month: number;
  day: number | null;
}

const DAYS_IN_MONTH = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * Reads an expiry: YYMMDD is taken as 20YY (packs on the market now expire this century), a day of
 * 00 names the month; YYYY-MM-DD as written. Null when it is neither, or no such date exists.
 */
export function parseExpiry(value: string): ExpiryDate | null {
  const gs1 = /^(\d{2})(\d{2})(\d{2})$/.exec(value);
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const parts = gs1 ? [2000 + Number(gs1[1]), Number(gs1[2]), Number(gs1[3])] : iso ? iso.slice(1).map(Number) : null;
  if (!parts) return null;
  const [year, month, day] = parts as [number, number, number];
  if (month < 1 || month > 12) return null;
  if (day === 0) return gs1 ? { year, month, day: null } : null;
  if (day > DAYS_IN_MONTH(year, month)) return null;
  return { year, month, day };
}

/** The pack's expiry contradicts the batch's (YYYY-MM-DD): another month, or another day when the pack names one. */
export function expiryContradicts(packExpiry: string, batchExpiry: string): boolean {
  const pack = parseExpiry(packExpiry);
  const batch = parseExpiry(batchExpiry);
  if (!pack || !batch) return false;
  return pack.year !== batch.year || pack.month !== batch.month || (pack.day !== null && pack.day !== batch.day);
}

const isDecommissioned = (status: string) => (DECOMMISSIONED_STATUSES as readonly string[]).includes(status);

/**
 * The verdict on an alerted pack. The checks run from the coarsest to the finest, and the first that
 * fails names the cause: a pack the company's data does not account for (never commissioned, another
 * batch, another expiry, never uploaded, taken out of circulation by the company) is the company's
 * own error to correct; one its data accounts for completely, yet alerted, is suspected falsified.
 */
export function classifyAlert(framework: AlertFramework, pack: AlertedPack, own: OwnPackData): AlertVerdict {
  const findings: string[] = [];
  const verdict = (classification: AlertClassification, cause: AlertCause): AlertVerdict => ({ classification, cause, findings });
  const unit = own.unit;
  const commissioned = unit !== null && unit.commissionings > 0;

  if (!own.productKnown && !commissioned) {
    findings.push(`GTIN ${pack.gtin} is in no product master data, batch or unit of this company.`);
    return verdict('not_own_product', 'not_own_product');
  }
  findings.push(
    own.batch
      ? `Batch ${pack.lot} of GTIN ${pack.gtin} is known (expiry ${own.batch.expiry ?? 'not recorded'}${own.batch.line ? `, line ${own.batch.line}` : ''}).`
      : `Batch ${pack.lot} of GTIN ${pack.gtin} is not in the company's data.`,
  );
  if (!commissioned) {
    findings.push(`Serial ${pack.serial} was never commissioned under GTIN ${pack.gtin}.`);
    return verdict('mah_error', 'not_commissioned');
  }
  findings.push(
    `Serial ${pack.serial} was commissioned in batch ${unit.lot ?? '(unknown)'}${unit.commissionings > 1 ? ` (${unit.commissionings} times)` : ''}; its status is ${unit.status}${unit.statusAt ? ` since ${unit.statusAt}` : ''}.`,
  );
  if (unit.lot !== pack.lot) {
    findings.push(`The pack names batch ${pack.lot}, the serial belongs to batch ${unit.lot ?? '(unknown)'}.`);
    return verdict('mah_error', 'batch_mismatch');
  }
  if (pack.expiry !== undefined && unit.expiry !== null && expiryContradicts(pack.expiry, unit.expiry)) {
    findings.push(`The pack names expiry ${pack.expiry}, batch ${unit.lot} expires ${unit.expiry}.`);
    return verdict('mah_error', 'expiry_mismatch');
  }
  if (framework === 'eu_fmd') {
    if (own.uploaded === false) {
      findings.push(`Serial ${pack.serial} is in no EMVS repository report of batch ${unit.lot}.`);
      return verdict('mah_error', 'not_uploaded');
    }
    findings.push(`Serial ${pack.serial} was uploaded to EMVS in a repository report of batch ${unit.lot}.`);
  }
  if (isDecommissioned(unit.status)) {
    findings.push(`The company took serial ${pack.serial} out of circulation itself (${unit.status}).`);
    return verdict('mah_error', 'decommissioned');
  }
  if (own.holds.length > 0) findings.push(`The batch is on hold for ${own.holds.join(', ')}.`);
  findings.push(
    framework === 'eu_fmd'
      ? 'Commissioned, uploaded and active in the company’s data, and alerted all the same: suspected falsification.'
      : 'Commissioned and active in the company’s data, matching batch and expiry, and not verified all the same: suspect product.',
  );
  return verdict('suspected_falsification', 'suspected_falsification');
}

/** The deviation a verdict opens: critical when falsification is suspected (patient safety), major for the company's own error. */
export function alertSeverity(verdict: Pick<AlertVerdict, 'classification'>): Severity {
  return verdict.classification === 'suspected_falsification' ? 'critical' : 'major';
}

/** The symptom a cause is filed under (the board, recurrences and a line's monitoring group deviations by it). */
export function alertSymptom(cause: AlertCause): Symptom {
  return cause === 'not_uploaded' ? 'missing_report' : 'other';
}

/** A suspected falsification reported through EMVS starts the EU FMD notification clock at once (Delegated Regulation (EU) 2016/161, Art. 18). */
export function startsRegulatoryClock(framework: AlertFramework, verdict: Pick<AlertVerdict, 'classification'>): boolean {
  return framework === 'eu_fmd' && verdict.classification === 'suspected_falsification';
}

/**
 * Who may record alerts and verifications, and change an alert's status: the integration that relays
 * them (the on-boarding partner's or verification router's connector, with an integration API key or
 * the configured capture key, like EPCIS capture), and QA leads and the head of QA, who enter one by
 * hand from the hub's alert management. Each opens deviations, so nobody else may.
 */
export const ALERT_RECORDERS = ['integration', 'qa_lead', 'qa_head'] as const satisfies readonly Role[];

// ---------------------------------------------------------------------------------------------
// The EMVS alert as the on-boarding partner passes it on, and its status.

/** Alert codes of the EU hub (Level 5 alerts: A2, A3, A7, A24, A52, A68, …). */
const alertCode = safeString().regex(/^A\d{1,3}$/, 'an alert code is "A" and 1–3 digits (A2, A3, A7, A24, A52, A68)');
/** NMVS return codes: NMVS_ and upper-case letters, digits and underscores (NMVS_NC_PC_02). */
const returnCode = safeString().regex(/^NMVS_[A-Z0-9_]{1,60}$/, 'an NMVS return code, e.g. NMVS_NC_PC_02');

export const serialSchema = safeString().transform((v, ctx) => {
  const r = parseSerial(v);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.error.message });
    return z.NEVER;
  }
  return r.value as string;
});

/** An expiry as packs carry it (GS1 YYMMDD, DD 00 for the month) or as an ISO date. */
export const expirySchema = safeString().refine((v) => parseExpiry(v) !== null, {
  message: 'an expiry is a GS1 date YYMMDD (DD 00 for the whole month) or an ISO date YYYY-MM-DD',
});

/** Alert IDs as NMVSs issue them: printable ASCII without spaces. */
const alertId = safeString()
  .min(1)
  .max(100)
  .regex(/^[!-~]+$/, 'an alert ID is 1–100 printable ASCII characters without spaces');

/** Statuses of the EMVO alert management: new, active (seen), under investigation, escalated, closed. */
export const EMVS_ALERT_STATUSES = ['new', 'active', 'under_investigation', 'escalated', 'closed'] as const;
export type EmvsAlertStatus = (typeof EMVS_ALERT_STATUSES)[number];

export const emvsAlertSchema = z
  .object({
    alertId,
    alertCode,
    /** The NMVS return code the end user's transaction got. */
    returnCode: returnCode.optional(),
    /** The alert message, as the hub words it. */
    message: lineText(500).optional(),
    /** The product code: a GTIN (product code scheme GS1). */
    productCode: gtinSchema,
    batch: lotSchema,
    serialNumber: serialSchema,
    expiryDate: expirySchema.optional(),
    /** The national system that raised it: ISO 3166-1 alpha-2 (XI for Northern Ireland). */
    market: safeString().regex(/^[A-Z]{2}$/, 'a market is an ISO 3166-1 alpha-2 code, e.g. DE'),
    raisedAt: isoDateTime,
    status: z.enum(EMVS_ALERT_STATUSES).default('new'),
  })
  .strict();
export type EmvsAlertInput = z.infer<typeof emvsAlertSchema>;

export const emvsAlertStatusSchema = z
  .object({
    status: z.enum(EMVS_ALERT_STATUSES),
    /** Why: what was found, the closure reason given to the hub. */
    reason: freeText(2000, 3),
  })
  .strict();

export const emvsAlertListQuerySchema = z
  .object({
    status: z.enum(EMVS_ALERT_STATUSES).optional(),
    classification: z.enum(ALERT_CLASSIFICATIONS).optional(),
    lot: lotSchema.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();

/** A status may change to any other until the alert is closed; closed is final (the hub's alert is closed). */
export function statusChangeProblem(from: EmvsAlertStatus, to: EmvsAlertStatus): string | null {
  if (from === 'closed') return 'the alert is closed; its status no longer changes';
  if (from === to) return `the alert is already ${to}`;
  return null;
}
