import { createHash } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import canonicalize from 'canonicalize';
import { defaultPayloadConverter } from '@temporalio/common';
import { readArchivedRuns } from '../../audit/history';
import type { RequestRow } from '../../audit/middleware';
import { appendAuditRows } from '../../audit/trail';
import { placeDistributionHolds, type PlacedHold } from '../../containment/distribution-holds';
import { withTransaction, type PoolClient } from '../../db/pool';
import { recordDeviationStart, recordOpening } from '../../containment/deviation-starts';
import { distributionHoldReason } from '../../domain/holds';
import { formatDeviationId, type OpenDeviationRequest } from '../../domain/deviation';
import { PRODUCTION_POLICY, resolvePolicy } from '../../domain/policy';
import { getStateQuery } from '../../workflows/messages';
import type { DeviationInput, DeviationState, Stage } from '../../workflows/types';
import type { ApiContext } from '../context';
import { notFound, unprocessable } from '../problem';
import { deviationStarts } from './deviation-starts';

export interface OpenResult {
  id: string;
  created: boolean;
  stage: Stage;
  /** The deviation's distribution holds as the answer leaves: every batch's, unless placing them here failed. */
  holds: PlacedHold[];
}

function requestHash(request: OpenDeviationRequest): string {
  return createHash('sha256')
    .update(canonicalize(request) ?? '')
    .digest('hex');
}

/**
 * Opens a deviation: the number becomes the workflow ID, so Temporal itself refuses a second
 * workflow for the same number. With an Idempotency-Key the number is bound to the key first
 * (a unique row), so concurrent or repeated requests all land on the one deviation.
 */
interface BoundKey {
  deviation_id: string;
  request_hash: string;
  created_at: Date;
}

/**
 * The key's binding, made now when there is none, in one statement (one round trip on the request's
 * path): a key seen before takes no number; a new key takes the next one, formatted as
 * formatDeviationId does (DEV-year-number, at least six digits); when a concurrent request bound
 * the key first, its binding wins (ON CONFLICT returns it).
 */
async function bindKey(ctx: ApiContext, key: string, hash: string, now: Date): Promise<BoundKey> {
  const { rows } = await ctx.pool.query<BoundKey>(
    `WITH known AS (
       SELECT deviation_id, request_hash, created_at FROM idempotency_keys WHERE idempotency_key = $1
     ), next AS (
       SELECT nextval('deviation_number_seq')::text AS n WHERE NOT EXISTS (SELECT 1 FROM known)
     ), bound AS (
       INSERT INTO idempotency_keys (idempotency_key, request_hash, deviation_id)
       SELECT $1, $2, 'DEV-' || $3::int || '-' || lpad(n, greatest(6, length(n)), '0') FROM next
       ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
       RETURNING deviation_id, request_hash, created_at
     )
     SELECT * FROM known UNION ALL SELECT * FROM bound`,
    [key, hash, now.getUTCFullYear()],
  );
  return rows[0]!;
}

/**
 * Opens a deviation: its distribution holds, the record of the request and the start of its workflow
 * commit in one transaction, and the answer leaves; the workflow is started from that record right
 * after (containment/deviation-starts.ts). Containment so waits neither for Temporal nor for other
 * deviations' starts under a burst, and a deviation opened while Temporal is unreachable is held at
 * once and started when it is back. The number is the workflow ID, so a start carried out twice is
 * one workflow; with an Idempotency-Key the number is bound to the key first, and the start is
 * recorded once per number, so repeated or concurrent requests all land on the one deviation.
 *
 * `requestRow` gives the request's own audit row once the number is known, to be written with the
 * holds (null where the request is not audited here).
 */
export async function openDeviation(
  ctx: ApiContext,
  request: OpenDeviationRequest,
  idempotencyKey: string | undefined,
  requestRow: (id: string) => RequestRow | null = () => null,
): Promise<OpenResult> {
  const now = new Date();
  let bound: { id: string; detectedAt: string } | null = null;
  if (idempotencyKey) {
    const hash = requestHash(request);
    const binding = await bindKey(ctx, idempotencyKey, hash, now);
    if (binding.request_hash !== hash) {
      throw unprocessable('This Idempotency-Key was already used with a different request body.');
    }
    bound = { id: binding.deviation_id, detectedAt: binding.created_at.toISOString() };
  }
  const inputFor = (id: string, detectedAt: string): DeviationInput => ({
    ...request,
    reportedBy: request.reportedBy ?? 'monitoring',
    id,
    detectedAt,
    policy: resolvePolicy(ctx.policy ?? PRODUCTION_POLICY, request.severity),
  });

  const starts = deviationStarts(ctx);
  let input: DeviationInput | undefined;
  const holds = await starts.opening(async () => {
    try {
      let row: RequestRow | null = null;
      const placed = await withTransaction(
        ctx.pool,
        async (client, tx) => {
          // Without a key the number comes from the sequence, in BEGIN's round trip.
          input = bound ? inputFor(bound.id, bound.detectedAt) : inputFor(numberTaken(tx.begunRows, now), now.toISOString());
          const recorded = await recordOpening(client, input, distributionHoldReason(input.id, input.title));
          if (!recorded) {
            tx.rollBackOnReturn();
            return null;
          }
          row = requestRow(input.id);
          await appendAuditRows(client, row ? [...recorded.audits, row.entry] : recorded.audits);
          return recorded.holds;
        },
        bound ? {} : { withBegin: `SELECT nextval('deviation_number_seq') AS n` },
      );
      if (placed) (row as RequestRow | null)?.written();
      return placed;
    } catch (err) {
      if (!input) throw err;
      // The holds refused (the database refusing one): the deviation opens with its start alone, its
      // workflow places the holds, and the audit middleware records the request as for any other.
      ctx.log.warn({ deviation: input.id, err }, 'holds not placed at opening; the workflow places them');
      const opening = input;
      return (await withTransaction(ctx.pool, (client) => recordDeviationStart(client, opening))) ? [] : null;
    }
  });
  const id = input?.id ?? bound!.id;
  if (!holds || !input) return { id, created: false, stage: await currentStage(ctx, id), holds: await holdsOf(ctx, id) };
  ctx.log.info({ deviation: id }, 'deviation opened');
  starts.kick(input);
  return { id, created: true, stage: 'detection', holds };
}

function numberTaken(rows: unknown[], now: Date): string {
  const n = (rows[0] as { n?: string } | undefined)?.n;
  if (!n) throw new Error('no deviation number taken');
  return formatDeviationId(now.getUTCFullYear(), Number(n));
}

async function holdsInTransaction(client: PoolClient, input: DeviationInput, requestRow: RequestRow | null): Promise<PlacedHold[]> {
  const { holds, audits } = await placeDistributionHolds(client, {
    deviationId: input.id,
    lots: input.batches,
    reason: distributionHoldReason(input.id, input.title),
    placedBy: 'system',
  });
  await appendAuditRows(client, requestRow ? [...audits, requestRow.entry] : audits);
  return holds;
}

/**
 * The distribution holds of a deviation opened by an EMVS alert or a DSCSA verification, placed once
 * its workflow exists and before the answer leaves: product must not ship while a deviation waits
 * for a worker. The workflow's containment places the same holds in any case (the first to come
 * places each, the other finds it), so a failure here costs the answer nothing but the holds' early
 * placement: it is logged, and the workflow places them.
 */
export async function placeHoldsAtOpening(ctx: ApiContext, input: DeviationInput): Promise<PlacedHold[]> {
  try {
    return await withTransaction(ctx.pool, (client) => holdsInTransaction(client, input, null));
  } catch (err) {
    ctx.log.warn({ deviation: input.id, err }, 'holds not placed at opening; the workflow places them');
    return [];
  }
}

async function holdsOf(ctx: ApiContext, id: string): Promise<PlacedHold[]> {
  const { rows } = await ctx.pool.query<{ lot: string; id: string; placed_at: Date }>(
    'SELECT lot, id::text, placed_at FROM holds WHERE deviation_id = $1 ORDER BY id',
    [id],
  );
  return rows.map((r) => ({ lot: r.lot, holdId: `H${r.id}`, placedAt: r.placed_at.toISOString() }));
}

export async function queryState(ctx: ApiContext, id: string): Promise<DeviationState> {
  const query = () => ctx.temporal.workflow.getHandle(id).query(getStateQuery);
  try {
    return await query();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    // Opened a moment ago (or while Temporal was away): its workflow is started, then asked.
    if (await deviationStarts(ctx).ensureStarted(id)) return query();
    const archived = await archivedFinalState(ctx, id);
    if (archived) return archived;
    throw notFound(`No deviation ${id}.`);
  }
}

/**
 * A closed deviation Temporal no longer holds (past retention, or deleted) answers from its archived
 * history: the workflow's result, in the completion event of its last run, is its final state.
 */
async function archivedFinalState(ctx: ApiContext, id: string): Promise<DeviationState | undefined> {
  const runs = await readArchivedRuns(ctx.pool, id);
  const events = runs.at(-1)?.history.events ?? [];
  const completed = events.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes;
  const payload = completed?.result?.payloads?.[0];
  return payload ? (defaultPayloadConverter.fromPayload(payload) as DeviationState) : undefined;
}

/** The stage for a quick answer: the workflow if it answers within two seconds, else the read model. */
async function currentStage(ctx: ApiContext, id: string): Promise<Stage> {
  try {
    const state = await ctx.temporal.withDeadline(Date.now() + 2000, () => queryState(ctx, id));
    return state.stage;
  } catch {
    const { rows } = await ctx.pool.query<{ stage: Stage }>('SELECT stage FROM deviations WHERE id = $1', [id]);
    return rows[0]?.stage ?? 'detection';
  }
}
