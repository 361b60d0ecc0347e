import { createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db/pool';
import type { EventFilter } from '../domain/epcis-query';
import { AT_ONCE, after, startRounds } from '../lib/background-rounds';
import { conditions, queryDocument, rebuildEvents } from './query';
import { openToken } from './subscription-tokens';
import { filterOfParams, WHOLE_DOCUMENT } from './subscriptions';
import { destinationProblem, guardedLookup } from './webhook-destination';

/**
 * Delivery of webhook subscriptions: each event a subscription's query matches, recorded from its
 * initial record time on, is POSTed to its `dest` once, in the order of the record feed (migration
 * 2100: the order captures committed in, and within a capture the order of its document), as an
 * EPCISQueryDocument, with the HMAC-SHA256 of the body under the subscription's signatureToken in
 * GS1-Signature.
 *
 * Nothing here runs in capture's transaction: capture only enters its document in the feed (a
 * trigger), and every API process runs rounds of this loop (startSubscriptionDelivery). A round
 * numbers the documents committed since the last (one process at a time), then takes due
 * subscriptions one at a time with FOR UPDATE SKIP LOCKED, so two processes never deliver the same
 * subscription at once and its events keep their order. The cursor moves in the transaction that
 * holds the row, after the receiver answered 2xx: a crash between the answer and the commit sends
 * the same events again (at least once on the wire, under the same Idempotency-Key; receivers
 * dedupe by eventID), never skips one. A receiver that fails is retried with exponential backoff,
 * without end (its cursor keeps the place), with the same batch each time.
 */

type Log = {
  warn: (obj: object, msg: string) => void;
  error: (obj: object, msg: string) => void;
};

export interface DeliveryOptions {
  /** The AES key that opens subscriptions' tokens (epcis/subscription-tokens.ts); null when none is configured. */
  tokenKey: Buffer | null;
  /** Hosts a webhook may reach although loopback or private, and over http (EPCIS_SUBSCRIPTION_ALLOWED_HOSTS). */
  allowedHosts: readonly string[];
  /** Events in one POST. */
  batchSize?: number;
  /** Documents of the feed one look at a subscription covers. */
  windowDocuments?: number;
  /** The wait after the first failure; it doubles with each further failure, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  /** The wait between rounds when there is nothing to do. */
  pollIntervalMs?: number;
}

const DEFAULTS = {
  batchSize: 100,
  windowDocuments: 1000,
  baseDelayMs: 5_000,
  maxDelayMs: 60 * 60_000,
  timeoutMs: 10_000,
  pollIntervalMs: 1_000,
};

/** Numbering takes turns under this advisory lock (any constant unique to it). */
const FEED_LOCK = 4_711_002_100;
/** Documents numbered per turn. */
const FEED_BATCH = 5000;

/**
 * Numbers the documents committed since the last turn, in the order of their IDs. One process at a
 * time (a second one finding the lock taken does nothing): since each turn commits before the next
 * can start, a reader that sees a number has seen every smaller one.
 */
export async function sequenceFeed(pool: Pool): Promise<number> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [FEED_LOCK]);
    if (!rows[0]?.locked) return 0;
    const { rowCount } = await client.query(
      `UPDATE epcis_record_feed f SET seq = n.seq
         FROM (SELECT document_id, (SELECT coalesce(max(seq), 0) FROM epcis_record_feed) + row_number() OVER (ORDER BY document_id) AS seq
                 FROM epcis_record_feed WHERE seq IS NULL ORDER BY document_id LIMIT $1) n
        WHERE f.document_id = n.document_id`,
      [FEED_BATCH],
    );
    return rowCount ?? 0;
  });
}

interface DueSubscription {
  id: string;
  query_name: string;
  dest: string;
  token_sealed: Buffer | null;
  min_record_time: Date;
  cursor_seq: string;
  cursor_event: string;
  batch_through_seq: string | null;
  batch_through_event: string | null;
  attempts: number;
  params: Record<string, string>;
}

interface Position {
  seq: string;
  event: string;
}

/** The filter with the subscription's start: the later of its initial record time and the query's own GE_recordTime. */
function withStart(filter: EventFilter, start: Date): EventFilter {
  const own = filter.geRecordTime ? new Date(filter.geRecordTime) : null;
  return { ...filter, geRecordTime: own && own > start ? filter.geRecordTime : start.toISOString() };
}

/** The matching events after `after` up to `through` (inclusive), in feed order, at most `limit`. */
async function eventsBetween(db: Queryable, filter: EventFilter, after: Position, through: Position, limit: number) {
  const params: unknown[] = [];
  const where = await conditions(db, filter, params);
  const p = (v: unknown) => `$${params.push(v)}`;
  where.push(`(f.seq, e.id) > (${p(after.seq)}::bigint, ${p(after.event)}::bigint)`);
  where.push(`(f.seq, e.id) <= (${p(through.seq)}::bigint, ${p(through.event)}::bigint)`);
  // (the range on seq alone too: the planner reads the feed's unique index by it)
  where.push(`f.seq BETWEEN ${p(after.seq)}::bigint AND ${p(through.seq)}::bigint`);
  const { rows } = await db.query<{ id: string; seq: string }>(
    `SELECT e.id::text AS id, f.seq::text AS seq FROM epcis_events e JOIN epcis_record_feed f ON f.document_id = e.document_id
      WHERE ${where.join('\n AND ')} ORDER BY f.seq, e.id LIMIT ${p(limit)}`,
    params,
  );
  return rows;
}

export interface WebhookAnswer {
  ok: boolean;
  /** Why not, for the subscription's last_error: never the URL (it may carry the receiver's own token). */
  error?: string;
}

/** POSTs one body to a webhook, through the SSRF guard; no redirect is followed. */
export async function postToWebhook(
  dest: string,
  body: string,
  headers: Record<string, string>,
  opts: { allowedHosts: readonly string[]; timeoutMs: number },
): Promise<WebhookAnswer> {
  const problem = destinationProblem(dest, opts.allowedHosts);
  if (problem) return { ok: false, error: `destination refused: ${problem}` };
  const url = new URL(dest);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<WebhookAnswer>((resolve) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup(opts.allowedHosts),
        timeout: opts.timeoutMs,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        // The answer's body is not read: dropped after a little, so a receiver cannot hold the connection.
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > 64 * 1024) res.destroy();
        });
        res.on('error', () => undefined);
        res.on('close', () => resolve(status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `webhook answered ${status}` }));
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (err: Error & { code?: string }) =>
      resolve({ ok: false, error: `webhook unreachable: ${err.code ?? err.message}`.slice(0, 500) }),
    );
    req.on('close', () => clearTimeout(deadline));
    req.end(body);
  });
}

/** Exponential backoff: base, 2×base, 4×base … capped. */
const backoffMs = (failures: number, base: number, max: number) => Math.min(max, base * 2 ** Math.max(0, failures - 1));

type Step = 'idle' | 'advanced' | 'sent' | 'failed';

/** Looks at one subscription (held FOR UPDATE by the caller's transaction): sends its next batch, or moves its cursor past what does not match. */
async function deliverNext(
  client: PoolClient,
  s: DueSubscription,
  opts: Required<Omit<DeliveryOptions, 'tokenKey' | 'allowedHosts'>> & DeliveryOptions,
): Promise<Step> {
  const after: Position = { seq: s.cursor_seq, event: s.cursor_event };
  let through: Position;
  if (s.batch_through_seq !== null && s.batch_through_event !== null) {
    through = { seq: s.batch_through_seq, event: s.batch_through_event };
  } else {
    const { rows } = await client.query<{ max: string | null }>('SELECT max(seq)::text AS max FROM epcis_record_feed');
    const last = BigInt(rows[0]?.max ?? '0');
    const upper = BigInt(after.seq) + BigInt(opts.windowDocuments);
    const end = last < upper ? last : upper;
    if (end < BigInt(after.seq) || (end === BigInt(after.seq) && after.event === WHOLE_DOCUMENT)) return 'idle';
    through = { seq: end.toString(), event: WHOLE_DOCUMENT };
  }
  const filter = withStart(filterOfParams(s.params), s.min_record_time);
  const rows = await eventsBetween(client, filter, after, through, opts.batchSize + 1);
  if (rows.length === 0) {
    await client.query(
      `UPDATE epcis_subscriptions SET cursor_seq = $2, cursor_event = $3, batch_through_seq = NULL, batch_through_event = NULL,
              attempts = 0, last_error = NULL, next_attempt_at = now() WHERE id = $1`,
      [s.id, through.seq, through.event],
    );
    return 'advanced';
  }
  const batch = rows.slice(0, opts.batchSize);
  // A full batch ends at its last event; a batch holding every match of the window ends with the window.
  if (rows.length > opts.batchSize) through = { seq: batch[batch.length - 1]!.seq, event: batch[batch.length - 1]!.id };

  let token: string | null = null;
  if (s.token_sealed) {
    token = opts.tokenKey ? openToken(opts.tokenKey, s.id, s.token_sealed) : null;
    // Never sent unsigned when the client asked for signatures: the key is missing or was changed.
    if (token === null)
      return failed(client, s, through, 'the signatureToken cannot be opened: EPCIS_SUBSCRIPTION_KEY is missing or was changed', opts);
  }
  const page = await rebuildEvents(
    client,
    batch.map((r) => r.id),
  );
  const document = queryDocument(page, new Date());
  const queryResults = (document.epcisBody as { queryResults: Record<string, unknown> }).queryResults;
  (document.epcisBody as { queryResults: Record<string, unknown> }).queryResults = {
    ...queryResults,
    queryName: s.query_name,
    subscriptionID: s.id,
  };
  const body = JSON.stringify(document);
  const headers: Record<string, string> = {
    'Content-Type': 'application/ld+json',
    'GS1-EPCIS-Version': '2.0.0',
    'GS1-CBV-Version': '2.0.0',
    'GS1-EPC-Format': 'Never_Translates',
    'Idempotency-Key': `${s.id}:${after.seq}.${after.event}`,
  };
  if (token !== null) headers['GS1-Signature'] = `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;
  const answer = await postToWebhook(s.dest, body, headers, opts);
  if (!answer.ok) return failed(client, s, through, answer.error ?? 'webhook failed', opts);
  await client.query(
    `UPDATE epcis_subscriptions SET cursor_seq = $2, cursor_event = $3, batch_through_seq = NULL, batch_through_event = NULL,
            attempts = 0, last_error = NULL, next_attempt_at = now(), last_notified_at = now(), delivered_events = delivered_events + $4
      WHERE id = $1`,
    [s.id, through.seq, through.event, batch.length],
  );
  return 'sent';
}

async function failed(
  client: PoolClient,
  s: DueSubscription,
  through: Position,
  error: string,
  opts: { baseDelayMs: number; maxDelayMs: number },
): Promise<Step> {
  const attempts = s.attempts + 1;
  await client.query(
    `UPDATE epcis_subscriptions
        SET batch_through_seq = $2, batch_through_event = $3, attempts = $4, last_error = $5,
            next_attempt_at = now() + make_interval(secs => $6::double precision / 1000)
      WHERE id = $1`,
    [s.id, through.seq, through.event, attempts, error.slice(0, 1000), backoffMs(attempts, opts.baseDelayMs, opts.maxDelayMs)],
  );
  return 'failed';
}

export interface DeliveryRound {
  sent: number;
  failed: number;
  advanced: number;
}

/**
 * One round: the feed numbered, then each due subscription with something new after its cursor
 * looked at once, the longest waiting first. `log` hears of failures (never the token, nor the URL).
 */
export async function deliverSubscriptionsOnce(pool: Pool, log: Log, options: DeliveryOptions): Promise<DeliveryRound> {
  const opts = { ...DEFAULTS, ...options };
  await sequenceFeed(pool);
  const round: DeliveryRound = { sent: 0, failed: 0, advanced: 0 };
  const seen: string[] = [];
  for (;;) {
    const step = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<DueSubscription>(
        `SELECT s.id, s.query_name, s.dest, s.token_sealed, s.min_record_time, s.cursor_seq::text, s.cursor_event::text,
                s.batch_through_seq::text, s.batch_through_event::text, s.attempts, q.params
           FROM epcis_subscriptions s JOIN epcis_named_queries q ON q.name = s.query_name
          WHERE s.next_attempt_at <= now() AND s.id <> ALL ($1::uuid[])
            AND (s.batch_through_seq IS NOT NULL
                 OR s.cursor_seq < (SELECT coalesce(max(seq), 0) FROM epcis_record_feed)
                 OR (s.cursor_seq = (SELECT coalesce(max(seq), 0) FROM epcis_record_feed) AND s.cursor_event < $2::bigint))
          ORDER BY s.next_attempt_at, s.id
          LIMIT 1
          FOR UPDATE OF s SKIP LOCKED`,
        [seen, WHOLE_DOCUMENT],
      );
      const s = rows[0];
      if (!s) return null;
      seen.push(s.id);
      const result = await deliverNext(client, s, opts);
      if (result === 'failed') log.warn({ subscription: s.id, attempts: s.attempts + 1 }, 'EPCIS subscription delivery failed; will retry');
      return result;
    });
    if (step === null) break;
    if (step === 'sent') round.sent++;
    else if (step === 'failed') round.failed++;
    else if (step === 'advanced') round.advanced++;
  }
  return round;
}

/**
 * Runs delivery rounds until stopped: straight on while a round did something, every
 * pollIntervalMs when idle. Every API process runs one (api/main.ts).
 */
export function startSubscriptionDelivery(pool: Pool, log: Log, options: DeliveryOptions): { stop(): Promise<void> } {
  const opts = { ...DEFAULTS, ...options };
  return startRounds(
    async () => {
      const round = await deliverSubscriptionsOnce(pool, log, opts);
      return round.sent + round.advanced > 0 ? AT_ONCE : after(opts.pollIntervalMs);
    },
    {
      ending: () => pool.ending,
      afterFailureMs: opts.pollIntervalMs,
      onFailure: (err) => log.error({ err: { message: (err as Error).message } }, 'EPCIS subscription delivery round failed'),
    },
  );
}
