import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import { formatDeviationId } from '../domain/deviation';
import { enqueueNotification } from '../notifications/outbox';

/**
 * The claims of monitoring signals (monitoring_signals): exactly one deviation per batch and signal.
 * Claiming a signal, binding it to a deviation (a number allocated now, or the deviation already open
 * on the line for the same symptom), its alert in the outbox and its audit row are one transaction:
 * a point judged again finds its claims and adds nothing. The claim keeps the deviation's input, so a
 * claim whose action was lost (the worker died between the commit and the start) is carried out with
 * the same number and content. EMVS alerts and DSCSA verifications are claimed here too, one claim per
 * alert, with a scope of their own (ClaimScope: product, batch and cause instead of line and symptom).
 */

/** What a line monitor found and would claim (or an EMVS alert, or a DSCSA verification: see ClaimScope). */
export interface SignalClaim {
  /** Null only for an alert or verification naming a batch the company does not have. */
  batchId: string | null;
  signal: string;
  /** Null only for an alert or verification whose batch has no line. */
  line: string | null;
  gtin: string;
  lot: string;
  kind: 'threshold' | 'rule' | 'emvs_alert' | 'dscsa_verification';
  metric: string;
  symptom: string;
  severity: string;
  /** Null only for an alert or verification: no reconciliation found it. */
  reportId: string | null;
  /** One line, for the alert and the audit trail. */
  summary: string;
  /** What was found, kept with the claim and sent to a deviation it is linked to. */
  evidence: object;
}

export type ClaimedSignal<I> = { deviationId: string; delivered: boolean; fresh: boolean } & (
  { disposition: 'opened'; input: I } | { disposition: 'linked'; evidence: unknown }
);

export interface ClaimOptions<I> {
  /** The input of the deviation the signal opens, under the number just allocated for it, from the claim's evidence. */
  deviationInput(deviationId: string, evidence: unknown): I;
  /** Who the alert goes to (roles as `role:<name>`). */
  recipients: string[];
  /** The monitor's clock: the year of a new number. */
  at: string;
  /** Where the claim belongs, when it is not a line monitor's (its line and symptom). */
  scope?: ClaimScope;
}

/**
 * Which claims take turns, and which open deviation a new claim is a recurrence of. A line monitor's
 * claims take turns per line and link to the deviation open on the line for the same symptom; an
 * alert's claims take turns per product, batch and cause and link to the deviation an alert of the
 * same product, batch and cause opened.
 */
export interface ClaimScope {
  /** Claims with the same key take turns (an advisory lock). */
  key: string;
  /** The open deviation the claim is a recurrence of, or null: the claim opens one. */
  openDeviation(client: PoolClient): Promise<string | null>;
  /** Who the audit trail names for the decision. */
  actor: string;
}

interface ClaimRow {
  disposition: 'opened' | 'linked';
  deviation_id: string;
  deviation_input: unknown;
  evidence: unknown;
  delivered_at: Date | null;
}

/** Claims on one line take turns (the monitor judges one point at a time; a retried attempt may overlap the one it replaces). */
const lockScope = (client: PoolClient, key: string) => client.query('SELECT pg_advisory_xact_lock(1600, hashtext($1))', [key]);

/** A line monitor's scope: its line, and the deviation open on it for the claim's symptom. */
const lineScope = (claim: SignalClaim): ClaimScope => ({
  key: claim.line ?? '',
  openDeviation: (client) => (claim.line === null ? Promise.resolve(null) : openDeviationFor(client, claim.line, claim.symptom)),
  actor: 'monitoring',
});

function asClaimed<I>(row: ClaimRow, fresh: boolean): ClaimedSignal<I> {
  const common = { deviationId: row.deviation_id, delivered: row.delivered_at !== null, fresh };
  return row.disposition === 'opened'
    ? { ...common, disposition: 'opened', input: row.deviation_input as I }
    : { ...common, disposition: 'linked', evidence: row.evidence };
}

/**
 * The claim's row, its parameters numbered from `first`: (batch, signal) is unique, a claim without a
 * batch counting as one batch (two forms of the condition, so that each uses the key).
 */
function claimKey(batchId: string | null, signal: string, first = 1): { where: string; params: string[] } {
  return batchId === null
    ? { where: `batch_id IS NULL AND signal = $${first}`, params: [signal] }
    : { where: `batch_id = $${first} AND signal = $${first + 1}`, params: [batchId, signal] };
}

async function existingClaim(client: PoolClient, batchId: string | null, signal: string): Promise<ClaimRow | undefined> {
  const key = claimKey(batchId, signal);
  const { rows } = await client.query<ClaimRow>(
    `SELECT disposition, deviation_id, deviation_input, evidence, delivered_at FROM monitoring_signals WHERE ${key.where}`,
    key.params,
  );
  return rows[0];
}

/**
 * The deviation a signal of this line and symptom is a recurrence of: one open in the read model, or
 * one monitoring opened whose workflow has not written the read model yet (the first of them). A
 * deviation a link could not reach before is not one.
 */
async function openDeviationFor(client: PoolClient, line: string, symptom: string): Promise<string | null> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT c.id FROM (
       SELECT d.id, d.detected_at AS since FROM deviations d
        WHERE d.status = 'open' AND d.lines @> ARRAY[$1]::text[] AND d.symptom = $2
       UNION ALL
       SELECT s.deviation_id, s.claimed_at FROM monitoring_signals s
        WHERE s.disposition = 'opened' AND s.line = $1 AND s.symptom = $2
          AND NOT EXISTS (SELECT 1 FROM deviations d WHERE d.id = s.deviation_id AND d.status <> 'open')) c
      WHERE NOT EXISTS (SELECT 1 FROM monitoring_signals u WHERE u.unreachable = c.id)
      GROUP BY c.id ORDER BY min(c.since), c.id LIMIT 1`,
    [line, symptom],
  );
  return rows[0]?.id ?? null;
}

async function allocateDeviationId(client: PoolClient, at: string): Promise<string> {
  const { rows } = await client.query<{ n: string }>(`SELECT nextval('deviation_number_seq') AS n`);
  return formatDeviationId(new Date(at).getUTCFullYear(), Number(rows[0]!.n));
}

async function alertAndAudit(
  client: PoolClient,
  claim: SignalClaim,
  outcome: { disposition: 'opened' | 'linked'; deviationId: string; unreachable?: string },
  recipients: string[],
  actor: string,
): Promise<void> {
  const opened = outcome.disposition === 'opened';
  const dedupeKey = `monitoring:${claim.batchId ?? `${claim.gtin}/${claim.lot}`}:${claim.signal}${outcome.unreachable ? ':reopened' : ''}`;
  const where = claim.line === null ? `Batch ${claim.lot}` : `Line ${claim.line}`;
  const subject = opened
    ? `${where}: ${claim.summary}; deviation ${outcome.deviationId} opened`
    : `${where}: ${claim.summary}; recurrence of open deviation ${outcome.deviationId}`;
  const record = {
    signal: claim.signal,
    disposition: outcome.disposition,
    deviation: outcome.deviationId,
    line: claim.line,
    gtin: claim.gtin,
    lot: claim.lot,
    metric: claim.metric,
    symptom: claim.symptom,
    severity: claim.severity,
    reportId: claim.reportId,
    ...(outcome.unreachable ? { unreachable: outcome.unreachable } : {}),
  };
  await enqueueNotification(client, {
    dedupeKey,
    deviationId: outcome.deviationId,
    kind: 'monitoring_signal',
    recipients,
    subject,
    body: { ...record, summary: claim.summary },
  });
  await appendAudit(client, {
    actor,
    action: opened ? 'monitoring.deviation_opened' : 'monitoring.signal_linked',
    entityType: 'monitoring_signal',
    entityId: claim.batchId === null ? claim.signal : `${claim.batchId}:${claim.signal}`,
    deviationId: outcome.deviationId,
    after: record,
    reason: claim.summary,
    details: { alert: dedupeKey },
  });
}

/** Claims the signal for the batch, or answers the claim made before (`fresh: false`). */
export async function claimSignal<I extends object>(pool: Pool, claim: SignalClaim, opts: ClaimOptions<I>): Promise<ClaimedSignal<I>> {
  return withTransaction(pool, (client) => claimSignalIn(client, claim, opts));
}

/** claimSignal inside the caller's transaction: the claim commits, or not, with what the caller writes beside it. */
export async function claimSignalIn<I extends object>(
  client: PoolClient,
  claim: SignalClaim,
  opts: ClaimOptions<I>,
): Promise<ClaimedSignal<I>> {
  const scope = opts.scope ?? lineScope(claim);
  await lockScope(client, scope.key);
  const existing = await existingClaim(client, claim.batchId, claim.signal);
  if (existing) return asClaimed<I>(existing, false);
  const openOne = await scope.openDeviation(client);
  const deviationId = openOne ?? (await allocateDeviationId(client, opts.at));
  const input = openOne ? null : opts.deviationInput(deviationId, claim.evidence);
  const { rows } = await client.query<ClaimRow>(
    `INSERT INTO monitoring_signals (batch_id, signal, line, gtin, lot, kind, metric, symptom, severity, report_id, evidence,
                                     disposition, deviation_id, deviation_input)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     RETURNING disposition, deviation_id, deviation_input, evidence, delivered_at`,
    [
      claim.batchId,
      claim.signal,
      claim.line,
      claim.gtin,
      claim.lot,
      claim.kind,
      claim.metric,
      claim.symptom,
      claim.severity,
      claim.reportId,
      JSON.stringify(claim.evidence),
      openOne ? 'linked' : 'opened',
      deviationId,
      input === null ? null : JSON.stringify(input),
    ],
  );
  await alertAndAudit(client, claim, { disposition: openOne ? 'linked' : 'opened', deviationId }, opts.recipients, scope.actor);
  return asClaimed<I>(rows[0]!, true);
}

/** The claim's action was carried out (the deviation started, or told). */
export async function markDelivered(pool: Pool, batchId: string | null, signal: string): Promise<void> {
  const key = claimKey(batchId, signal);
  await pool.query(`UPDATE monitoring_signals SET delivered_at = COALESCE(delivered_at, now()) WHERE ${key.where}`, key.params);
}

/**
 * A link whose deviation could not be told (it closed after the claim found it open): the claim
 * opens a deviation of its own instead, and that deviation is never a link target again. A retry
 * answers the claim as it now stands. Null when there is no such claim.
 */
export async function openInsteadOfLink<I extends object>(
  pool: Pool,
  ref: { batchId: string | null; signal: string; unreachable: string },
  opts: ClaimOptions<I>,
): Promise<ClaimedSignal<I> | null> {
  return withTransaction(pool, async (client) => {
    const { rows: claims } = await client.query<SignalClaim & { disposition: string; deviation_id: string; line: string }>(
      `SELECT batch_id::text AS "batchId", signal, line, gtin, lot, kind, metric, symptom, severity, report_id AS "reportId",
              evidence, disposition, deviation_id
         FROM monitoring_signals WHERE ${claimKey(ref.batchId, ref.signal).where}`,
      claimKey(ref.batchId, ref.signal).params,
    );
    const claim = claims[0];
    if (!claim) return null;
    const scope = opts.scope ?? lineScope(claim);
    await lockScope(client, scope.key);
    const current = (await existingClaim(client, ref.batchId, ref.signal))!;
    if (current.disposition !== 'linked' || current.deviation_id !== ref.unreachable || current.delivered_at !== null) {
      return asClaimed<I>(current, false);
    }
    const deviationId = await allocateDeviationId(client, opts.at);
    const { rows } = await client.query<ClaimRow>(
      `UPDATE monitoring_signals SET disposition = 'opened', deviation_id = $1, deviation_input = $2, unreachable = $3
        WHERE ${claimKey(ref.batchId, ref.signal, 4).where}
        RETURNING disposition, deviation_id, deviation_input, evidence, delivered_at`,
      [
        deviationId,
        JSON.stringify(opts.deviationInput(deviationId, claim.evidence)),
        ref.unreachable,
        ...claimKey(ref.batchId, ref.signal, 4).params,
      ],
    );
    const summary = `${(claim.evidence as { summary?: string }).summary ?? claim.signal} (deviation ${ref.unreachable} had closed)`;
    await alertAndAudit(
      client,
      { ...claim, summary },
      { disposition: 'opened', deviationId, unreachable: ref.unreachable },
      opts.recipients,
      scope.actor,
    );
    return asClaimed<I>(rows[0]!, true);
  });
}
