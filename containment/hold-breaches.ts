import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import type { Logger } from '../lib/logger';
import { AT_ONCE, WHEN_ASKED, after, startRounds } from '../lib/background-rounds';
import { enqueueNotification } from '../notifications/outbox';
import { holdBreachesSignal } from '../workflows/messages';
import { startWaiting } from './deviation-starts';
import type { HoldBreach } from '../workflows/types';

/**
 * Hold breaches: a shipping or receiving event captured for product of a batch under an open hold.
 * Capture stores the event all the same (it happened); in its transaction, it records the breach
 * (hold_breaches, one row per hold and event) and the alert in the notification outbox, so both
 * exist exactly when the event does. The deviation's workflow learns of it by a signal, which
 * cannot be part of that transaction: hold_breaches is its outbox (signalled_at), delivered by
 * rounds that take whatever is waiting, whoever captured it (startHoldBreachDelivery).
 */

/** Who is alerted: the roles containment alerts when it places the holds (workflows/deviation/containment.ts). */
const ALERTED_ROLES = ['role:qa_lead', 'role:production', 'role:it', 'role:qa_approver'];
/** Identifiers kept per breach, in its row, the signal and the notification (the count says how many there were). */
const IDENTIFIERS_KEPT = 20;
/** Breaches listed in one notification, and carried by one signal. */
const BREACHES_PER_MESSAGE = 50;

interface BreachRow {
  id: string;
  hold_id: string;
  deviation_id: string;
  lot: string;
  biz_step: HoldBreach['bizStep'];
  event_id: string;
  event_time: Date;
  identifiers: string[];
  identifier_count: number;
  document_id: string;
  detected_at: Date;
}

const BREACH_COLUMNS =
  'id, hold_id, deviation_id, lot, biz_step, event_id, event_time, identifiers, identifier_count, document_id, detected_at';

const breachOf = (r: BreachRow): HoldBreach => ({
  id: `HB${r.id}`,
  holdId: `H${r.hold_id}`,
  lot: r.lot,
  bizStep: r.biz_step,
  eventId: r.event_id,
  eventTime: r.event_time.toISOString(),
  identifiers: r.identifiers,
  identifierCount: r.identifier_count,
  // (the capture job's ID, as GET /epcis/capture/{captureId} takes it)
  captureId: `C${r.document_id}`,
  detectedAt: r.detected_at.toISOString(),
});

/**
 * Inside the capture's transaction, once its events are stored and the units' and packages' state
 * follows them: the breaches among the document's new events, recorded with their notifications.
 * An event is matched by what it names: a unit by the batch that commissioned it, a class (LGTIN) by
 * its lot, a case by the units in it now, a pallet by the units in its cases now (as reconciliation
 * counts a package's contents: the current edges). Retracted events and error declarations are not
 * matched. Costs one query when no batch is on hold.
 */
export async function detectHoldBreaches(client: PoolClient, documentId: string): Promise<HoldBreach[]> {
  const { rowCount } = await client.query('SELECT 1 FROM holds WHERE disposition IS NULL LIMIT 1');
  if (!rowCount) return [];
  const { rows } = await client.query<BreachRow & { title: string | null }>(
    `WITH held AS MATERIALIZED (
       SELECT id, deviation_id, lot FROM holds WHERE disposition IS NULL
     ), named AS MATERIALIZED (
       SELECT e.id AS event_pk, l.kind, l.gtin, l.lot, n.key, COALESCE(l.epc_prefix || n.key, n.epc) AS identifier
         FROM epcis_events e
         JOIN epcis_event_identifiers l ON l.event_pk = e.id
        CROSS JOIN LATERAL unnest(l.keys, l.epcs) AS n(key, epc)
        WHERE e.document_id = $1 AND NOT e.is_declaration AND NOT e.retracted AND e.biz_step IN ('shipping', 'receiving')
          AND l.role IN ('epc', 'parent', 'child') AND l.kind IN ('sgtin', 'sscc', 'lgtin')
     ), lots AS (
       SELECT n.event_pk, n.identifier, b.lot
         FROM named n
         JOIN serialized_items si ON si.gtin = n.gtin AND si.serial = n.key
         JOIN batches b ON b.id = si.batch_id
        WHERE n.kind = 'sgtin'
       UNION
       SELECT n.event_pk, n.identifier, n.lot FROM named n WHERE n.kind = 'lgtin' AND n.lot IS NOT NULL
       UNION
       -- a case: the units packed into it that are in it still
       SELECT n.event_pk, n.identifier, b.lot
         FROM named n
         JOIN epcis_event_identifiers c
           ON c.role = 'child' AND c.parent = n.key AND c.kind = 'sgtin' AND c.event_type = 'AggregationEvent' AND c.action = 'ADD'
        CROSS JOIN LATERAL unnest(c.keys) AS u(serial)
         JOIN serialized_items si ON si.gtin = c.gtin AND si.serial = u.serial AND si.parent_sscc = n.key
         JOIN batches b ON b.id = si.batch_id
        WHERE n.kind = 'sscc'
       UNION
       -- a pallet: the units of the cases packed onto it that are on it still
       SELECT n.event_pk, n.identifier, b.lot
         FROM named n
         JOIN epcis_event_identifiers p
           ON p.role = 'child' AND p.parent = n.key AND p.kind = 'sscc' AND p.event_type = 'AggregationEvent' AND p.action = 'ADD'
        CROSS JOIN LATERAL unnest(p.keys) AS k(sscc)
         JOIN packages pk ON pk.sscc = k.sscc::char(18) AND pk.parent_sscc = n.key
         JOIN epcis_event_identifiers c
           ON c.role = 'child' AND c.parent = k.sscc AND c.kind = 'sgtin' AND c.event_type = 'AggregationEvent' AND c.action = 'ADD'
        CROSS JOIN LATERAL unnest(c.keys) AS u(serial)
         JOIN serialized_items si ON si.gtin = c.gtin AND si.serial = u.serial AND si.parent_sscc = k.sscc
         JOIN batches b ON b.id = si.batch_id
        WHERE n.kind = 'sscc'
     ), breached AS (
       SELECT h.id AS hold_id, h.deviation_id, h.lot, x.event_pk, array_agg(DISTINCT x.identifier) AS identifiers
         FROM lots x JOIN held h ON h.lot = x.lot
        GROUP BY h.id, h.deviation_id, h.lot, x.event_pk
     ), inserted AS (
       INSERT INTO hold_breaches (hold_id, deviation_id, lot, event_pk, event_id, document_id, biz_step, event_time, identifiers, identifier_count)
       SELECT b.hold_id, b.deviation_id, b.lot, e.id, e.event_id, e.document_id, e.biz_step, e.event_time,
              b.identifiers[1:${IDENTIFIERS_KEPT}], cardinality(b.identifiers)
         FROM breached b JOIN epcis_events e ON e.id = b.event_pk
        ORDER BY b.hold_id, e.id
       ON CONFLICT (hold_id, event_pk) DO NOTHING
       RETURNING ${BREACH_COLUMNS}
     )
     SELECT i.*, d.title FROM inserted i LEFT JOIN deviations d ON d.id = i.deviation_id ORDER BY i.id`,
    [documentId],
  );
  // One alert per hold and captured document, however many of its events breach the hold.
  const byHold = new Map<string, Array<BreachRow & { title: string | null }>>();
  for (const r of rows) byHold.set(r.hold_id, [...(byHold.get(r.hold_id) ?? []), r]);
  for (const [holdId, breaches] of byHold) {
    const first = breaches[0]!;
    const steps = [...new Set(breaches.map((b) => b.biz_step))].join(' and ');
    await enqueueNotification(client, {
      dedupeKey: `${first.deviation_id}:hold-breach:H${holdId}:C${documentId}`,
      deviationId: first.deviation_id,
      kind: 'hold_breach',
      recipients: ALERTED_ROLES,
      subject: `Hold breached: ${breaches.length === 1 ? 'a' : breaches.length} ${steps} event${breaches.length === 1 ? '' : 's'} captured for batch ${first.lot}, held by ${first.deviation_id}`,
      body: {
        deviation: first.deviation_id,
        ...(first.title ? { title: first.title } : {}),
        lot: first.lot,
        holdId: `H${holdId}`,
        captureId: `C${documentId}`,
        breachCount: breaches.length,
        breaches: breaches.slice(0, BREACHES_PER_MESSAGE).map(breachOf),
      },
    });
  }
  return rows.map(breachOf);
}

export interface DeliveryRound {
  /** Breaches the workflows now hold. */
  signalled: number;
  /** Breaches whose workflow has closed: they will never be told (the row says why). */
  undeliverable: number;
  /** True when a signal failed (Temporal unreachable, say): the rest wait for the next round. */
  failed: boolean;
  /** True when the round took all it could: there may be more waiting. */
  full: boolean;
}

export interface DeliveryOptions {
  /** Breaches taken per round. */
  batchSize?: number;
  /** How long one signal may take before the round gives up on it. */
  signalTimeoutMs?: number;
}

/**
 * One delivery round: claims the oldest breaches not yet told to their workflows (FOR UPDATE SKIP
 * LOCKED, so rounds in several processes never take the same ones), signals each deviation once
 * with its breaches, and records the outcome in the transaction that holds them. A process that
 * dies after a signal and before the commit leaves its breaches to be signalled again; the
 * workflow keeps each breach once.
 */
export async function deliverHoldBreaches(
  pool: Pool,
  temporal: Client,
  log: Logger,
  options: DeliveryOptions = {},
): Promise<DeliveryRound> {
  const batchSize = options.batchSize ?? BREACHES_PER_MESSAGE;
  const signalTimeoutMs = options.signalTimeoutMs ?? 10_000;
  return withTransaction(pool, async (client) => {
    const round: DeliveryRound = { signalled: 0, undeliverable: 0, failed: false, full: false };
    const { rows } = await client.query<BreachRow>(
      `SELECT ${BREACH_COLUMNS} FROM hold_breaches
        WHERE signalled_at IS NULL AND undeliverable IS NULL
        ORDER BY id LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
    round.full = rows.length === batchSize;
    const byDeviation = new Map<string, BreachRow[]>();
    for (const r of rows) byDeviation.set(r.deviation_id, [...(byDeviation.get(r.deviation_id) ?? []), r]);
    for (const [deviationId, breaches] of byDeviation) {
      const ids = breaches.map((b) => b.id);
      try {
        await temporal.withDeadline(Date.now() + signalTimeoutMs, () =>
          temporal.workflow.getHandle(deviationId).signal(holdBreachesSignal, { breaches: breaches.map(breachOf) }),
        );
        await client.query('UPDATE hold_breaches SET signalled_at = now(), last_signal_error = NULL WHERE id = ANY ($1::bigint[])', [ids]);
        round.signalled += ids.length;
      } catch (err) {
        const error = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
        // A deviation opened a moment ago whose workflow is not started yet: the signal waits for it.
        if (err instanceof WorkflowNotFoundError && !(await startWaiting(client, deviationId))) {
          // Closed or terminated: no signal will ever reach it. The breach and its alert stay.
          await client.query('UPDATE hold_breaches SET undeliverable = $2 WHERE id = ANY ($1::bigint[])', [
            ids,
            `the deviation's workflow takes no signal: ${error}`,
          ]);
          round.undeliverable += ids.length;
          log.warn(
            { deviation: deviationId, breaches: ids, error },
            "hold breaches not signalled: the deviation's workflow is not running",
          );
          continue;
        }
        await client.query('UPDATE hold_breaches SET last_signal_error = $2 WHERE id = ANY ($1::bigint[])', [ids, error]);
        round.failed = true;
        log.warn({ deviation: deviationId, breaches: ids, error }, 'hold breaches not signalled yet; will retry');
        break;
      }
    }
    return round;
  });
}

export interface HoldBreachDelivery {
  /** Runs a round as soon as the one under way (if any) has finished. */
  now(): void;
  /** Stops; resolves once the round under way has finished. */
  stop(): Promise<void>;
}

/**
 * Delivers hold breaches for as long as the pool is open: a round at once (what a process that
 * died left behind), then straight on while there is more, again on now(), and after a round
 * that could not reach Temporal or the database, every retryMs until one gets through. Rounds
 * never overlap within a process; when all is delivered, it waits without a timer.
 */
export function startHoldBreachDelivery(
  pool: Pool,
  temporal: Client,
  log: Logger,
  options: DeliveryOptions & { retryMs?: number } = {},
): HoldBreachDelivery {
  const retryMs = options.retryMs ?? 30_000;
  return startRounds(
    async () => {
      const round = await deliverHoldBreaches(pool, temporal, log, options);
      if (round.full && !round.failed) return AT_ONCE;
      return round.failed ? after(retryMs) : WHEN_ASKED;
    },
    {
      ending: () => pool.ending,
      afterFailureMs: retryMs,
      // The database was unreachable or similar: the breaches wait for the retry.
      onFailure: (err) => log.error({ err: { message: (err as Error).message } }, 'hold breach delivery round failed'),
    },
  );
}
