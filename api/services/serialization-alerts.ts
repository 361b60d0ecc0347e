import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import canonicalize from 'canonicalize';
import { appendAudit } from '../../audit/trail';
import { withTransaction, type PoolClient, type Queryable } from '../../db/pool';
import { openDeviationSchema } from '../../domain/deviation';
import {
  alertSeverity,
  alertSymptom,
  causeInWords,
  classifyAlert,
  startsRegulatoryClock,
  statusChangeProblem,
  type AlertFramework,
  type AlertVerdict,
  type AlertedPack,
  type EmvsAlertInput,
  type EmvsAlertStatus,
  type OwnPackData,
} from '../../domain/emvs';
import { answerVerification, type RecordVerificationInput, type VerificationResponse } from '../../domain/dscsa';
import { PRODUCTION_POLICY, resolvePolicy } from '../../domain/policy';
import { after, startRounds } from '../../lib/background-rounds';
import { readOwnPackData, openAlertDeviation } from '../../monitoring/alert-cross-check';
import {
  claimSignalIn,
  markDelivered,
  openInsteadOfLink,
  type ClaimOptions,
  type ClaimScope,
  type ClaimedSignal,
} from '../../monitoring/signals';
import { enqueueNotification } from '../../notifications/outbox';
import { getStateQuery, monitoringSignal, REFUSAL, reportSuspectProduct } from '../../workflows/messages';
import type { DeviationInput, MonitoringSignalRecord, SerializationAlertRecord } from '../../workflows/types';
import type { ApiContext } from '../context';
import { conflict, notFound } from '../problem';
import { placeHoldsAtOpening } from './deviations';
import { deviationStarts } from './deviation-starts';
import { startDeviationWorkflow } from '../../containment/deviation-starts';

/**
 * EMVS alerts and DSCSA verifications into deviations, by the mechanism the line monitors use
 * (monitoring/signals.ts): each alert, cross-checked against the company's own data
 * (monitoring/alert-cross-check.ts) and classified (domain/emvs.ts), is claimed once in
 * monitoring_signals, in the same transaction as its own record and audit row. The claim binds it to
 * a deviation: a number allocated for it, or the deviation an alert of the same product, batch and
 * cause opened and that is still open (a recurrence). Then, outside the transaction, the claim is
 * delivered: the deviation started (its number is its workflow ID, so it starts once) or told by the
 * `monitoringSignal` signal, and for a suspected falsification reported through EMVS, its regulatory
 * notification clock started with the `reportSuspectProduct` step. A claim not delivered (Temporal
 * down, the API stopped between commit and delivery) is delivered by the next round of
 * startAlertDelivery, which every API process runs.
 */

/** Who an alert's claim alerts: QA (who decide and notify), its approvers, and serialization systems. */
const ALERT_RECIPIENTS = ['role:qa_lead', 'role:qa_head', 'role:qa_approver', 'role:it'];
/** The actor the audit trail names for decisions taken on an alert's arrival, and the deviation's reporter. */
const ACTORS: Record<AlertFramework, string> = { eu_fmd: 'emvs', dscsa: 'dscsa' };
/** How long a request waits for its claim's delivery before answering (delivery goes on after). */
const INLINE_DELIVERY_MS = 10_000;
/** How long delivery waits for a deviation just started to leave detection (where its steps are refused). */
const DETECTION_WAIT_MS = 30_000;

const sha256 = (value: unknown) =>
  createHash('sha256')
    .update(canonicalize(value) ?? '')
    .digest('hex');

/** What a claim keeps: the signal's record and what a deviation opened for it says and does. */
interface AlertClaimEvidence {
  summary: string;
  record: MonitoringSignalRecord;
  title: string;
  description: string;
  source: 'emvs' | 'dscsa';
  severity: ReturnType<typeof alertSeverity>;
  symptom: ReturnType<typeof alertSymptom>;
  lots: string[];
  lines: string[];
}

/** The alert (or verification), described for the claim: what it is, and where it came from. */
interface AlertFacts {
  framework: AlertFramework;
  /** The alert ID, or the verification's correlation UUID. */
  reference: string;
  pack: AlertedPack;
  code: string | null;
  detail: string | null;
  origin: string | null;
  raisedAt: string;
  receivedBy: string;
}

const CLASSIFICATION_WORDS = { mah_error: "the company's own error", suspected_falsification: 'suspected falsification' } as const;

function describe(facts: AlertFacts, verdict: AlertVerdict & { classification: 'mah_error' | 'suspected_falsification' }) {
  const { pack } = facts;
  const what =
    facts.framework === 'eu_fmd'
      ? `EMVS alert ${facts.code ?? ''}${facts.origin ? ` (${facts.origin})` : ''}`
      : `DSCSA verification not verified${facts.code ? ` (${facts.code})` : ''}`;
  const verdictWords = `${causeInWords(verdict.cause)}: ${CLASSIFICATION_WORDS[verdict.classification]}`;
  const title = `${what} on batch ${pack.lot}: ${verdictWords}`.slice(0, 200);
  const summary = `${what} for serial ${pack.serial} of batch ${pack.lot} (GTIN ${pack.gtin}): ${verdictWords}`;
  const source =
    facts.framework === 'eu_fmd'
      ? `Opened on EMVS alert ${facts.reference} (code ${facts.code}${facts.detail ? `, NMVS return code ${facts.detail}` : ''}) raised ${facts.raisedAt} by the ${facts.origin} national system`
      : `Opened on DSCSA verification ${facts.reference} answered "not verified"${facts.code ? ` (${facts.code})` : ''} at ${facts.raisedAt}${facts.origin ? ` to requester GLN ${facts.origin}` : ''}`;
  const description = [
    `${source}, received from ${facts.receivedBy}.`,
    `Pack: GTIN ${pack.gtin}, batch ${pack.lot}, serial ${pack.serial}${pack.expiry ? `, expiry ${pack.expiry}` : ''}.`,
    `Classified on receipt as ${CLASSIFICATION_WORDS[verdict.classification]} (${causeInWords(verdict.cause)}), from the company's own data:`,
    ...verdict.findings.map((f) => `- ${f}`),
  ].join('\n');
  return { title, summary, description };
}

function claimFor(
  facts: AlertFacts,
  own: OwnPackData,
  verdict: AlertVerdict & { classification: 'mah_error' | 'suspected_falsification' },
  at: string,
) {
  const { pack } = facts;
  const signal = `${facts.framework === 'eu_fmd' ? 'emvs' : 'dscsa'}:${facts.reference}`;
  const line = own.batch?.line ?? own.unit?.line ?? null;
  const alert: SerializationAlertRecord = {
    framework: facts.framework,
    reference: facts.reference,
    code: facts.code,
    detail: facts.detail,
    serial: pack.serial,
    expiry: pack.expiry ?? null,
    origin: facts.origin,
    raisedAt: facts.raisedAt,
    classification: verdict.classification,
    cause: verdict.cause,
    findings: verdict.findings,
    holds: own.holds,
  };
  const words = describe(facts, verdict);
  const record: MonitoringSignalRecord = {
    key: signal,
    signal,
    kind: facts.framework === 'eu_fmd' ? 'emvs_alert' : 'dscsa_verification',
    metric: verdict.cause,
    line,
    gtin: pack.gtin,
    lot: pack.lot,
    batchId: own.batch?.id ?? null,
    reportId: null,
    alert,
    summary: words.summary,
    detectedAt: at,
  };
  const evidence: AlertClaimEvidence = {
    ...words,
    record,
    source: facts.framework === 'eu_fmd' ? 'emvs' : 'dscsa',
    severity: alertSeverity(verdict),
    symptom: alertSymptom(verdict.cause),
    // (a serial commissioned in another batch concerns that batch too)
    lots: [...new Set([pack.lot, ...(own.unit?.lot ? [own.unit.lot] : [])])],
    lines: line ? [line] : [],
  };
  return {
    claim: {
      batchId: own.batch?.id ?? null,
      signal,
      line,
      gtin: pack.gtin,
      lot: pack.lot,
      kind: record.kind,
      metric: verdict.cause,
      symptom: evidence.symptom,
      severity: evidence.severity,
      reportId: null,
      summary: words.summary,
      evidence,
    },
    scope: {
      key: `alert:${pack.gtin}:${pack.lot}:${verdict.cause}`,
      openDeviation: (client: PoolClient) => openAlertDeviation(client, pack.gtin, pack.lot, verdict.cause),
      actor: ACTORS[facts.framework],
    } satisfies ClaimScope,
  };
}

/** The deviation a claim opens: what POST /deviations would start with the same content, reported by `emvs` or `dscsa`. */
function deviationInput(ctx: ApiContext, deviationId: string, evidence: AlertClaimEvidence, at: string): DeviationInput {
  const parsed = openDeviationSchema.safeParse({
    title: evidence.title,
    symptom: evidence.symptom,
    severity: evidence.severity,
    batches: evidence.lots,
    description: evidence.description,
    source: evidence.source,
    lines: evidence.lines,
    gtins: [evidence.record.gtin],
  });
  // (the alert's fields passed their own schemas; a deviation they cannot make is a defect, not bad input)
  if (!parsed.success) throw new Error(`alert ${evidence.record.signal} makes no valid deviation: ${parsed.error.message}`);
  const { reportedBy: _reportedBy, ...rest } = parsed.data;
  return {
    ...rest,
    reportedBy: evidence.source,
    id: deviationId,
    detectedAt: at,
    policy: resolvePolicy(ctx.policy ?? PRODUCTION_POLICY, evidence.severity),
    detection: evidence.record,
  };
}

const claimOptions = (ctx: ApiContext, at: string, scope: ClaimScope): ClaimOptions<DeviationInput> => ({
  deviationInput: (id, evidence) => deviationInput(ctx, id, evidence as AlertClaimEvidence, at),
  recipients: ALERT_RECIPIENTS,
  at,
  scope,
});

/** Cross-check, classify, and (for the company's own product) claim: inside the caller's transaction. */
async function judgeAndClaim(ctx: ApiContext, client: PoolClient, facts: AlertFacts, at: string) {
  const own = await readOwnPackData(client, facts.pack, facts.framework);
  const verdict = classifyAlert(facts.framework, facts.pack, own);
  if (verdict.classification === 'not_own_product') return { own, verdict, claimed: null, signal: null };
  const judged = { ...verdict, classification: verdict.classification };
  const { claim, scope } = claimFor(facts, own, judged, at);
  const claimed = await claimSignalIn(client, claim, claimOptions(ctx, at, scope));
  return { own, verdict, claimed, signal: claim.signal };
}

/** What the cross-check read, as kept with the alert. */
const crossCheckOf = (own: OwnPackData, verdict: AlertVerdict) => ({ ...own, findings: verdict.findings });

// ---------------------------------------------------------------------------------------------
// EMVS alerts

interface EmvsAlertRow {
  alert_id: string;
  alert_code: string;
  return_code: string | null;
  message: string | null;
  gtin: string;
  lot: string;
  serial: string;
  expiry: string | null;
  market: string;
  raised_at: Date;
  status: EmvsAlertStatus;
  status_reason: string | null;
  status_changed_at: Date | null;
  status_changed_by: string | null;
  received_at: Date;
  received_by: string;
  request_hash: string;
  cross_check: Record<string, unknown>;
  classification: string;
  cause: string;
  signal: string | null;
  deviation_id: string | null;
  clock_required: boolean;
  clock_started_at: Date | null;
  clock_refused: string | null;
  disposition?: string | null;
  delivered_at?: Date | null;
}

const ALERT_SELECT = `SELECT a.*, s.disposition, s.delivered_at FROM emvs_alerts a LEFT JOIN monitoring_signals s ON s.signal = a.signal AND s.kind = 'emvs_alert'`;

function alertView(row: EmvsAlertRow) {
  return {
    alertId: row.alert_id,
    alertCode: row.alert_code,
    returnCode: row.return_code,
    message: row.message,
    productCode: row.gtin,
    batch: row.lot,
    serialNumber: row.serial,
    expiryDate: row.expiry,
    market: row.market,
    raisedAt: row.raised_at.toISOString(),
    status: row.status,
    statusReason: row.status_reason,
    statusChangedAt: row.status_changed_at?.toISOString() ?? null,
    statusChangedBy: row.status_changed_by,
    receivedAt: row.received_at.toISOString(),
    receivedBy: row.received_by,
    classification: row.classification,
    cause: row.cause,
    crossCheck: row.cross_check,
    deviation: row.deviation_id
      ? { id: row.deviation_id, disposition: row.disposition ?? null, delivered: Boolean(row.delivered_at) }
      : null,
    regulatoryClock: row.clock_required
      ? { required: true, startedAt: row.clock_started_at?.toISOString() ?? null, refused: row.clock_refused }
      : { required: false },
  };
}
export type EmvsAlertView = ReturnType<typeof alertView>;

async function alertRow(db: Queryable, alertId: string): Promise<EmvsAlertRow | undefined> {
  const { rows } = await db.query<EmvsAlertRow>(`${ALERT_SELECT} WHERE a.alert_id = $1`, [alertId]);
  return rows[0];
}

/** Alerts of one ID take turns: the second of two concurrent posts finds the first's row. */
const lockKey = (client: PoolClient, key: string) => client.query('SELECT pg_advisory_xact_lock(1800, hashtext($1))', [key]);

/**
 * Records an alert, judges it and binds it to a deviation, all or nothing; the same alert again
 * (same ID and content) answers the record made the first time (`created: false`), the same ID with
 * other content is refused (409). The deviation is then started or told, and for a suspected
 * falsification its regulatory clock started, within a few seconds if Temporal answers.
 */
export async function receiveEmvsAlert(
  ctx: ApiContext,
  input: EmvsAlertInput,
  receivedBy: string,
): Promise<{ created: boolean; alert: EmvsAlertView }> {
  const hash = sha256(input);
  const at = new Date().toISOString();
  const pack: AlertedPack = {
    gtin: input.productCode,
    lot: input.batch,
    serial: input.serialNumber,
    ...(input.expiryDate ? { expiry: input.expiryDate } : {}),
  };
  const outcome = await withTransaction(ctx.pool, async (client) => {
    await lockKey(client, `emvs:${input.alertId}`);
    const existing = await alertRow(client, input.alertId);
    if (existing) {
      if (existing.request_hash !== hash)
        throw conflict(`Alert ${input.alertId} was received before with other content; nothing was changed.`);
      return { created: false, signal: existing.signal };
    }
    const facts: AlertFacts = {
      framework: 'eu_fmd',
      reference: input.alertId,
      pack,
      code: input.alertCode,
      detail: input.returnCode ?? null,
      origin: input.market,
      raisedAt: input.raisedAt,
      receivedBy,
    };
    const { own, verdict, claimed, signal } = await judgeAndClaim(ctx, client, facts, at);
    const clockRequired = claimed !== null && startsRegulatoryClock('eu_fmd', verdict);
    await client.query(
      `INSERT INTO emvs_alerts (alert_id, alert_code, return_code, message, gtin, lot, serial, expiry, market, raised_at, status,
                                received_by, request_hash, cross_check, classification, cause, signal, deviation_id, clock_required)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
      [
        input.alertId,
        input.alertCode,
        input.returnCode ?? null,
        input.message ?? null,
        input.productCode,
        input.batch,
        input.serialNumber,
        input.expiryDate ?? null,
        input.market,
        input.raisedAt,
        input.status,
        receivedBy,
        hash,
        JSON.stringify(crossCheckOf(own, verdict)),
        verdict.classification,
        verdict.cause,
        signal,
        claimed?.deviationId ?? null,
        clockRequired,
      ],
    );
    await appendAudit(client, {
      actor: receivedBy,
      action: 'emvs.alert_received',
      entityType: 'emvs_alert',
      entityId: input.alertId,
      deviationId: claimed?.deviationId ?? null,
      after: {
        alertCode: input.alertCode,
        returnCode: input.returnCode ?? null,
        gtin: input.productCode,
        lot: input.batch,
        serial: input.serialNumber,
        market: input.market,
        status: input.status,
        classification: verdict.classification,
        cause: verdict.cause,
        deviation: claimed ? { id: claimed.deviationId, disposition: claimed.disposition } : null,
        regulatoryClock: clockRequired,
      },
      reason: verdict.findings.at(-1) ?? null,
    });
    return { created: true, signal };
  });
  if (outcome.signal) await deliverWithin(ctx, outcome.signal);
  return { created: outcome.created, alert: alertView((await alertRow(ctx.pool, input.alertId))!) };
}

export async function emvsAlert(ctx: ApiContext, alertId: string) {
  const row = await alertRow(ctx.pool, alertId);
  if (!row) throw notFound(`No EMVS alert ${alertId}.`);
  const { rows: history } = await ctx.pool.query<{
    from_status: string;
    to_status: string;
    reason: string;
    changed_by: string;
    changed_at: Date;
  }>(`SELECT from_status, to_status, reason, changed_by, changed_at FROM emvs_alert_status_changes WHERE alert_id = $1 ORDER BY id`, [
    alertId,
  ]);
  return {
    ...alertView(row),
    statusHistory: history.map((h) => ({
      from: h.from_status,
      to: h.to_status,
      reason: h.reason,
      by: h.changed_by,
      at: h.changed_at.toISOString(),
    })),
  };
}

export async function listEmvsAlerts(
  ctx: ApiContext,
  q: { status?: string; classification?: string; lot?: string; limit: number; offset: number },
) {
  const { rows } = await ctx.pool.query<EmvsAlertRow & { total: string }>(
    `${ALERT_SELECT.replace('SELECT a.*', 'SELECT a.*, count(*) OVER () AS total')}
      WHERE ($1::text IS NULL OR a.status = $1) AND ($2::text IS NULL OR a.classification = $2) AND ($3::text IS NULL OR a.lot = $3)
      ORDER BY a.received_at DESC, a.alert_id LIMIT $4 OFFSET $5`,
    [q.status ?? null, q.classification ?? null, q.lot ?? null, q.limit, q.offset],
  );
  return { items: rows.map(alertView), total: Number(rows[0]?.total ?? 0), limit: q.limit, offset: q.offset };
}

/**
 * A status change of an alert (as the hub's alert management shows it): the alert's current status
 * changes, the change is appended to its history (append-only) and to the audit trail, together.
 */
export async function changeEmvsAlertStatus(
  ctx: ApiContext,
  alertId: string,
  change: { status: EmvsAlertStatus; reason: string },
  by: string,
) {
  await withTransaction(ctx.pool, async (client) => {
    const { rows } = await client.query<{ status: EmvsAlertStatus; deviation_id: string | null }>(
      'SELECT status, deviation_id FROM emvs_alerts WHERE alert_id = $1 FOR UPDATE',
      [alertId],
    );
    const current = rows[0];
    if (!current) throw notFound(`No EMVS alert ${alertId}.`);
    const problem = statusChangeProblem(current.status, change.status);
    if (problem) throw conflict(`Alert ${alertId}: ${problem}.`);
    await client.query(
      `UPDATE emvs_alerts SET status = $2, status_reason = $3, status_changed_at = now(), status_changed_by = $4 WHERE alert_id = $1`,
      [alertId, change.status, change.reason, by],
    );
    await client.query(
      `INSERT INTO emvs_alert_status_changes (alert_id, from_status, to_status, reason, changed_by) VALUES ($1, $2, $3, $4, $5)`,
      [alertId, current.status, change.status, change.reason, by],
    );
    await appendAudit(client, {
      actor: by,
      action: 'emvs.alert_status_changed',
      entityType: 'emvs_alert',
      entityId: alertId,
      deviationId: current.deviation_id,
      before: { status: current.status },
      after: { status: change.status },
      reason: change.reason,
    });
  });
  return emvsAlert(ctx, alertId);
}

// ---------------------------------------------------------------------------------------------
// DSCSA verifications

interface VerificationRow {
  id: string;
  channel: 'recorded' | 'answered';
  correlation_uuid: string;
  gtin: string;
  serial: string;
  lot: string;
  expiry: string | null;
  verified: boolean;
  failure_reason: string | null;
  additional_info: string | null;
  requester_gln: string | null;
  responder_gln: string | null;
  context: string | null;
  verified_at: Date;
  recorded_at: Date;
  recorded_by: string;
  request_hash: string | null;
  cross_check: Record<string, unknown> | null;
  classification: string | null;
  cause: string | null;
  signal: string | null;
  deviation_id: string | null;
  disposition?: string | null;
  delivered_at?: Date | null;
}

const VERIFICATION_SELECT = `SELECT v.*, s.disposition, s.delivered_at FROM dscsa_verifications v
  LEFT JOIN monitoring_signals s ON s.signal = v.signal AND s.kind = 'dscsa_verification'`;

function verificationView(row: VerificationRow) {
  return {
    id: `V${row.id}`,
    channel: row.channel,
    correlationUUID: row.correlation_uuid,
    gtin: row.gtin,
    serialNumber: row.serial,
    lotNumber: row.lot,
    expirationDate: row.expiry,
    verified: row.verified,
    verificationFailureReason: row.failure_reason,
    additionalInfo: row.additional_info,
    requesterGLN: row.requester_gln,
    responderGLN: row.responder_gln,
    context: row.context,
    verificationTimestamp: row.verified_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
    recordedBy: row.recorded_by,
    classification: row.classification,
    cause: row.cause,
    crossCheck: row.cross_check,
    deviation: row.deviation_id
      ? { id: row.deviation_id, disposition: row.disposition ?? null, delivered: Boolean(row.delivered_at) }
      : null,
  };
}

async function verificationRow(db: Queryable, channel: 'recorded' | 'answered', uuid: string): Promise<VerificationRow | undefined> {
  const { rows } = await db.query<VerificationRow>(`${VERIFICATION_SELECT} WHERE v.channel = $1 AND v.correlation_uuid = $2`, [
    channel,
    uuid,
  ]);
  return rows[0];
}

/**
 * Records a verification request and its response; one that was not verified, for a serial of the
 * company's own product, is cross-checked and classified like an EMVS alert and opens or links a
 * deviation (no regulatory clock: under DSCSA a suspect product is investigated first, and the
 * 24-hour notification is due once QA determines it illegitimate, `POST /deviations/{id}/suspect-product`).
 */
export async function recordDscsaVerification(ctx: ApiContext, input: RecordVerificationInput, recordedBy: string) {
  const hash = sha256(input);
  const at = new Date().toISOString();
  const outcome = await withTransaction(ctx.pool, async (client) => {
    await lockKey(client, `dscsa:${input.correlationUUID}`);
    const existing = await verificationRow(client, 'recorded', input.correlationUUID);
    if (existing) {
      if (existing.request_hash !== hash)
        throw conflict(`Verification ${input.correlationUUID} was recorded before with other content; nothing was changed.`);
      return { created: false, signal: existing.signal };
    }
    let judged: Awaited<ReturnType<typeof judgeAndClaim>> | null = null;
    if (!input.verified) {
      judged = await judgeAndClaim(
        ctx,
        client,
        {
          framework: 'dscsa',
          reference: input.correlationUUID,
          pack: { gtin: input.gtin, lot: input.lotNumber, serial: input.serialNumber, expiry: input.expirationDate },
          code: input.verificationFailureReason ?? null,
          detail: input.additionalInfo ?? null,
          origin: input.requesterGLN,
          raisedAt: input.verificationTimestamp,
          receivedBy: recordedBy,
        },
        at,
      );
    }
    await client.query(
      `INSERT INTO dscsa_verifications (channel, correlation_uuid, gtin, serial, lot, expiry, verified, failure_reason, additional_info,
                                        requester_gln, responder_gln, context, verified_at, recorded_by, request_hash, cross_check,
                                        classification, cause, signal, deviation_id)
       VALUES ('recorded', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
      [
        input.correlationUUID,
        input.gtin,
        input.serialNumber,
        input.lotNumber,
        input.expirationDate,
        input.verified,
        input.verificationFailureReason ?? null,
        input.additionalInfo ?? null,
        input.requesterGLN,
        input.responderGLN,
        input.context ?? null,
        input.verificationTimestamp,
        recordedBy,
        hash,
        judged ? JSON.stringify(crossCheckOf(judged.own, judged.verdict)) : null,
        judged?.verdict.classification ?? null,
        judged?.verdict.cause ?? null,
        judged?.signal ?? null,
        judged?.claimed?.deviationId ?? null,
      ],
    );
    await appendAudit(client, {
      actor: recordedBy,
      action: 'dscsa.verification_recorded',
      entityType: 'dscsa_verification',
      entityId: input.correlationUUID,
      deviationId: judged?.claimed?.deviationId ?? null,
      after: {
        gtin: input.gtin,
        lot: input.lotNumber,
        serial: input.serialNumber,
        verified: input.verified,
        verificationFailureReason: input.verificationFailureReason ?? null,
        classification: judged?.verdict.classification ?? null,
        cause: judged?.verdict.cause ?? null,
        deviation: judged?.claimed ? { id: judged.claimed.deviationId, disposition: judged.claimed.disposition } : null,
      },
    });
    return { created: true, signal: judged?.signal ?? null };
  });
  if (outcome.signal) await deliverWithin(ctx, outcome.signal);
  return {
    created: outcome.created,
    verification: verificationView((await verificationRow(ctx.pool, 'recorded', input.correlationUUID))!),
  };
}

export async function listDscsaVerifications(
  ctx: ApiContext,
  q: { channel?: string; verified?: boolean; lot?: string; limit: number; offset: number },
) {
  const { rows } = await ctx.pool.query<VerificationRow & { total: string }>(
    `${VERIFICATION_SELECT.replace('SELECT v.*', 'SELECT v.*, count(*) OVER () AS total')}
      WHERE ($1::text IS NULL OR v.channel = $1) AND ($2::boolean IS NULL OR v.verified = $2) AND ($3::text IS NULL OR v.lot = $3)
      ORDER BY v.recorded_at DESC, v.id DESC LIMIT $4 OFFSET $5`,
    [q.channel ?? null, q.verified ?? null, q.lot ?? null, q.limit, q.offset],
  );
  return { items: rows.map(verificationView), total: Number(rows[0]?.total ?? 0), limit: q.limit, offset: q.offset };
}

/**
 * Answers a verification request for the company's own product from its commissioning data (the
 * Lightweight Messaging Standard's response), and records the answer: one row per correlation UUID
 * (a request asked again under the same UUID is answered again, the first answer stays recorded).
 * Null when the GTIN is not the company's (the standard's 404: not in this responder's directory).
 */
export async function answerDscsaVerification(
  ctx: ApiContext,
  pack: Required<AlertedPack>,
  request: { reqGLN?: string; corrUUID?: string; context?: string },
  answeredFor: string,
): Promise<VerificationResponse | null> {
  const own = await readOwnPackData(ctx.pool, pack, 'dscsa');
  if (!own.productKnown) return null;
  const now = new Date();
  const data = answerVerification(pack, own, now.toISOString().slice(0, 10));
  const corrUUID = request.corrUUID ?? randomUUID();
  const responderGLN = ctx.config.DSCSA_RESPONDER_GLN;
  await ctx.pool.query(
    `INSERT INTO dscsa_verifications (channel, correlation_uuid, gtin, serial, lot, expiry, verified, failure_reason, additional_info,
                                      requester_gln, responder_gln, context, verified_at, recorded_by, cross_check)
     VALUES ('answered', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (channel, correlation_uuid) DO NOTHING`,
    [
      corrUUID,
      pack.gtin,
      pack.serial,
      pack.lot,
      pack.expiry,
      data.verified,
      data.verificationFailureReason ?? null,
      data.additionalInfo ?? null,
      request.reqGLN ?? null,
      responderGLN ?? null,
      request.context ?? null,
      now.toISOString(),
      answeredFor,
      JSON.stringify(own),
    ],
  );
  return { verificationTimestamp: now.toISOString(), ...(responderGLN ? { responderGLN } : {}), data, corrUUID };
}

// ---------------------------------------------------------------------------------------------
// Delivery: the claim's deviation started or told, then the regulatory clock

interface ClaimToDeliver {
  batch_id: string | null;
  signal: string;
  disposition: 'opened' | 'linked';
  deviation_id: string;
  deviation_input: DeviationInput | null;
  evidence: AlertClaimEvidence;
  delivered_at: Date | null;
}

const within = <T>(ctx: ApiContext, ms: number, fn: () => Promise<T>) => ctx.temporal.withDeadline(Date.now() + ms, fn);

/** Starts the deviation the claim opened; "already started" is the same deviation (its number is its workflow ID). */
async function startDeviation(ctx: ApiContext, input: DeviationInput): Promise<void> {
  await startDeviationWorkflow(ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, input, 10_000);
}

/** True when the deviation's workflow is gone or closed: a link can no longer reach it. */
async function unreachable(ctx: ApiContext, deviationId: string, err: unknown): Promise<boolean> {
  // Opened through the API a moment ago: its workflow is started now, and the link retried.
  if (err instanceof WorkflowNotFoundError && (await deviationStarts(ctx).ensureStarted(deviationId))) return false;
  if (err instanceof WorkflowNotFoundError) return true;
  try {
    const description = await within(ctx, 5_000, () => ctx.temporal.workflow.getHandle(deviationId).describe());
    return description.status.name !== 'RUNNING';
  } catch (e) {
    return e instanceof WorkflowNotFoundError;
  }
}

/** The claim's deviation started (opened) or told (linked), then the claim marked delivered. */
async function deliverLink(ctx: ApiContext, row: ClaimToDeliver): Promise<string> {
  if (row.delivered_at) return row.deviation_id;
  if (row.disposition === 'opened') {
    await startDeviation(ctx, row.deviation_input!);
    // As for a deviation opened through POST /deviations: held at once, whether or not a worker runs.
    await placeHoldsAtOpening(ctx, row.deviation_input!);
    await markDelivered(ctx.pool, row.batch_id, row.signal);
    return row.deviation_id;
  }
  try {
    await within(ctx, 10_000, () => ctx.temporal.workflow.getHandle(row.deviation_id).signal(monitoringSignal, row.evidence.record));
  } catch (err) {
    if (!(await unreachable(ctx, row.deviation_id, err))) throw err;
    // The deviation closed since the claim found it open: the alert opens one of its own.
    const at = new Date().toISOString();
    const { record } = row.evidence;
    const instead = await openInsteadOfLink(
      ctx.pool,
      { batchId: row.batch_id, signal: row.signal, unreachable: row.deviation_id },
      claimOptions(ctx, at, {
        key: `alert:${record.gtin}:${record.lot}:${record.metric}`,
        openDeviation: () => Promise.resolve(null),
        actor: row.evidence.source,
      }),
    );
    if (!instead) throw new Error(`no claim ${row.signal}`, { cause: err });
    await recordDeviationOf(ctx, row.signal, instead);
    return deliverLink(ctx, await claimRow(ctx.pool, row.signal));
  }
  await markDelivered(ctx.pool, row.batch_id, row.signal);
  return row.deviation_id;
}

/** The alert (or verification) follows its claim to the deviation it now opens. */
async function recordDeviationOf(ctx: ApiContext, signal: string, claimed: ClaimedSignal<DeviationInput>): Promise<void> {
  await ctx.pool.query('UPDATE emvs_alerts SET deviation_id = $2 WHERE signal = $1', [signal, claimed.deviationId]);
  await ctx.pool.query('UPDATE dscsa_verifications SET deviation_id = $2 WHERE signal = $1', [signal, claimed.deviationId]);
}

async function claimRow(db: Queryable, signal: string): Promise<ClaimToDeliver> {
  const { rows } = await db.query<ClaimToDeliver>(
    `SELECT batch_id::text, signal, disposition, deviation_id, deviation_input, evidence, delivered_at
       FROM monitoring_signals WHERE signal = $1 AND kind IN ('emvs_alert', 'dscsa_verification')`,
    [signal],
  );
  if (!rows[0]) throw new Error(`no claim ${signal}`);
  return rows[0];
}

const refusalOf = (err: unknown): { type: string; message: string } | null =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type
    ? { type: err.cause.type, message: err.cause.message }
    : null;

/**
 * Starts the EU FMD notification clock on the deviation (the `reportSuspectProduct` step, by `emvs`),
 * once: a clock already running for EU FMD on it counts as started. The step is refused while the
 * deviation is in detection (its first seconds), so that is waited out; refused for good (the
 * deviation closing, closed or cancelled), the refusal is kept and QA is asked to act by hand.
 */
async function startRegulatoryClock(ctx: ApiContext, alert: EmvsAlertRow, deviationId: string): Promise<void> {
  const handle = ctx.temporal.workflow.getHandle(deviationId);
  const details =
    `EMVS alert ${alert.alert_id} (${alert.alert_code}${alert.return_code ? `, ${alert.return_code}` : ''}) raised ${alert.raised_at.toISOString()} ` +
    `in market ${alert.market} for GTIN ${alert.gtin}, batch ${alert.lot}, serial ${alert.serial}: commissioned, uploaded to EMVS and active ` +
    `in the company's data, and alerted all the same. Suspected falsification, classified on receipt.`;
  const started = () => ctx.pool.query('UPDATE emvs_alerts SET clock_started_at = now() WHERE alert_id = $1', [alert.alert_id]);
  const waitUntil = Date.now() + DETECTION_WAIT_MS;
  // (a workflow just started may not answer a query before its first task has run: that is waited out too)
  const stateOf = () =>
    within(ctx, 10_000, () => handle.query(getStateQuery)).catch((err: unknown) => {
      if (Date.now() < waitUntil) return null;
      throw err;
    });
  for (;;) {
    const state = await stateOf();
    if (state?.regulatory.some((r) => r.framework === 'eu_fmd' && !r.completedAt)) return void (await started());
    if ((state === null || state.stage === 'detection') && Date.now() < waitUntil) {
      await sleep(250);
      continue;
    }
    try {
      await within(ctx, 15_000, () =>
        handle.executeUpdate(reportSuspectProduct, {
          args: [{ framework: 'eu_fmd', finding: 'suspected_falsified', details, by: 'emvs' }],
        }),
      );
      return void (await started());
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal?.type !== REFUSAL.stage) throw err;
      const again = await stateOf();
      if (again?.regulatory.some((r) => r.framework === 'eu_fmd' && !r.completedAt)) return void (await started());
      if ((again === null || again.stage === 'detection') && Date.now() < waitUntil) continue;
      await refuseClock(ctx, alert, deviationId, refusal.message);
      return;
    }
  }
}

async function refuseClock(ctx: ApiContext, alert: EmvsAlertRow, deviationId: string, why: string): Promise<void> {
  await withTransaction(ctx.pool, async (client) => {
    await client.query('UPDATE emvs_alerts SET clock_refused = $2 WHERE alert_id = $1 AND clock_refused IS NULL', [alert.alert_id, why]);
    await enqueueNotification(client, {
      dedupeKey: `emvs:${alert.alert_id}:clock-refused`,
      deviationId,
      kind: 'regulatory_notification_required',
      recipients: ['role:qa_head', 'role:qa_lead'],
      subject: `EMVS alert ${alert.alert_id}: suspected falsification; the notification clock could not start on ${deviationId} (${why}): report it by hand`,
      body: { alert: alert.alert_id, deviation: deviationId, refused: why },
    });
  });
}

/** Delivers one claim: its deviation started or told, then (an EMVS suspected falsification) its clock. Idempotent. */
export async function deliverAlertClaim(ctx: ApiContext, signal: string): Promise<void> {
  const deviationId = await deliverLink(ctx, await claimRow(ctx.pool, signal));
  const { rows } = await ctx.pool.query<EmvsAlertRow>(
    'SELECT * FROM emvs_alerts WHERE signal = $1 AND clock_required AND clock_started_at IS NULL AND clock_refused IS NULL',
    [signal],
  );
  if (rows[0]) await startRegulatoryClock(ctx, rows[0], deviationId);
}

/** Delivers the request's own claim, waiting a few seconds at most (delivery rounds carry on where it stopped). */
async function deliverWithin(ctx: ApiContext, signal: string): Promise<void> {
  const delivery = deliverAlertClaim(ctx, signal).catch((err: unknown) => {
    ctx.log.warn({ err: { message: (err as Error).message }, signal }, 'an alert deviation was not delivered yet; a delivery round will');
  });
  await Promise.race([delivery, sleep(INLINE_DELIVERY_MS, undefined, { ref: false })]);
}

/** Claims left behind this long are a delivery round's; younger ones are still their request's. */
const LEFT_BEHIND_MS = 30_000;

/** The claims waiting for delivery: undelivered, or an EMVS alert whose clock has not started. */
async function waitingClaims(db: Queryable, limit: number, leftBehindMs: number): Promise<string[]> {
  const { rows } = await db.query<{ signal: string }>(
    `SELECT signal FROM (
       SELECT signal, claimed_at AS since FROM monitoring_signals
        WHERE kind IN ('emvs_alert', 'dscsa_verification') AND delivered_at IS NULL AND claimed_at < now() - $1 * interval '1 millisecond'
       UNION
       SELECT signal, received_at FROM emvs_alerts
        WHERE clock_required AND clock_started_at IS NULL AND clock_refused IS NULL AND received_at < now() - $1 * interval '1 millisecond') w
      ORDER BY since LIMIT $2`,
    [leftBehindMs, limit],
  );
  return rows.map((r) => r.signal);
}

export interface AlertDelivery {
  stop(): Promise<void>;
}

/**
 * Delivery rounds for claims their request could not deliver (Temporal did not answer, the process
 * stopped after the commit): one when the API starts, then every `retryMs` while any waits. Every API
 * process runs them; two delivering the same claim do no harm (the start, the signal and the clock are
 * each idempotent).
 */
export function startAlertDelivery(ctx: ApiContext, options: { retryMs?: number; leftBehindMs?: number } = {}): AlertDelivery {
  const retryMs = options.retryMs ?? LEFT_BEHIND_MS;
  const leftBehindMs = options.leftBehindMs ?? LEFT_BEHIND_MS;
  let stopping = false;
  const rounds = startRounds(
    async () => {
      for (const signal of await waitingClaims(ctx.pool, 20, leftBehindMs)) {
        if (stopping || ctx.pool.ending) break;
        await deliverAlertClaim(ctx, signal).catch((err: unknown) => {
          if (!ctx.pool.ending)
            ctx.log.error({ err: { message: (err as Error).message }, signal }, 'alert delivery failed; retrying later');
        });
      }
      return after(retryMs);
    },
    {
      ending: () => ctx.pool.ending,
      afterFailureMs: retryMs,
      onFailure: (err) => ctx.log.error({ err: { message: (err as Error).message } }, 'alert delivery round failed'),
    },
  );
  return {
    async stop() {
      stopping = true;
      await rounds.stop();
    },
  };
}
