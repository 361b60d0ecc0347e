import { createHmac } from 'node:crypto';
import { withTransaction, type Pool } from '../db/pool';
import type { AppConfig } from '../lib/config';

/** One outbox row as a sender sees it. */
export interface NotificationMessage {
  id: number;
  dedupeKey: string;
  kind: string;
  deviationId: string | null;
  recipients: string[];
  subject: string;
  body: Record<string, unknown>;
  createdAt: Date;
  /** Attempts before this one. */
  attempts: number;
}

/** Delivers one notification or throws; a throw means "try again later". */
export interface NotificationSender {
  readonly name: string;
  send(message: NotificationMessage): Promise<void>;
}

type Log = {
  info: (obj: object, msg: string) => void;
  warn: (obj: object, msg: string) => void;
  error: (obj: object, msg: string) => void;
};

/** A notification as every sender hands it on (a log line, a webhook's body). */
function notificationMessage(m: Parameters<NotificationSender['send']>[0]) {
  const { id, dedupeKey, kind, deviationId, recipients, subject, body } = m;
  return { id, dedupeKey, kind, deviationId, recipients, subject, body };
}

/** The default: notifications become structured log lines (someone's log pipeline routes them). */
export function loggingSender(log: Pick<Log, 'info'>): NotificationSender {
  return {
    name: 'log',
    async send(m) {
      log.info({ notification: notificationMessage(m) }, 'notification');
    },
  };
}

export interface WebhookOptions {
  /** When set, X-Signature: sha256=<HMAC-SHA256 of the body> lets the receiver check the sender. */
  secret?: string;
  timeoutMs?: number;
}

/**
 * POSTs each notification as JSON. Any answer but 2xx, a timeout or a network error is a failure
 * to retry. Idempotency-Key carries the dedupe key: a crash between delivery and the outbox update
 * sends the same notification again, and the receiver can tell.
 */
export function webhookSender(url: string, opts: WebhookOptions = {}): NotificationSender {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    name: 'webhook',
    async send(m) {
      const body = JSON.stringify({ ...notificationMessage(m), createdAt: m.createdAt.toISOString() });
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'Idempotency-Key': m.dedupeKey,
        'X-Notification-Id': String(m.id),
      };
      if (opts.secret) headers['X-Signature'] = `sha256=${createHmac('sha256', opts.secret).update(body).digest('hex')}`;
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      } catch (err) {
        // The message only: the URL may carry a token of the receiver's, and errors end up in logs and the outbox.
        const cause =
          err instanceof Error
            ? err.name === 'TimeoutError'
              ? `no answer within ${timeoutMs} ms`
              : ((err.cause as Error | undefined)?.message ?? err.message)
            : String(err);
        throw new Error(`webhook unreachable: ${cause}`);
      }
      await res.arrayBuffer().catch(() => undefined); // drain, so the connection is reused
      if (!res.ok) throw new Error(`webhook answered ${res.status}`);
    },
  };
}

/** The webhook sender when NOTIFICATION_WEBHOOK_URL is set, the logging sender otherwise. */
export function senderFromConfig(
  config: Pick<AppConfig, 'NOTIFICATION_WEBHOOK_URL' | 'NOTIFICATION_WEBHOOK_SECRET'>,
  log: Pick<Log, 'info'>,
): NotificationSender {
  return config.NOTIFICATION_WEBHOOK_URL
    ? webhookSender(config.NOTIFICATION_WEBHOOK_URL, { secret: config.NOTIFICATION_WEBHOOK_SECRET })
    : loggingSender(log);
}

export interface DispatcherOptions {
  pollIntervalMs?: number;
  /** Notifications handled per round before the dispatcher looks again without waiting. */
  batchSize?: number;
  /** After this many failed attempts a notification is marked failed and left for people to look at. */
  maxAttempts?: number;
  /** The wait after the first failure; it doubles with each further failure, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Only these kinds (a dispatcher per channel); all kinds when absent. */
  kinds?: string[];
}

const DEFAULTS = { pollIntervalMs: 1000, batchSize: 20, maxAttempts: 10, baseDelayMs: 5000, maxDelayMs: 60 * 60 * 1000 };

/** Exponential backoff: base, 2×base, 4×base … capped. */
export function backoffMs(failedAttempts: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
}

export interface DispatchRound {
  sent: number;
  retrying: number;
  failed: number;
}

/**
 * One round: claims due notifications one at a time with FOR UPDATE SKIP LOCKED (so any number of
 * dispatchers never take the same row), hands each to the sender and records the outcome in the
 * same transaction that holds the row. A row is marked sent once; a crash before that commit
 * leaves it pending, to be sent again (at least once on the wire, with its Idempotency-Key).
 * A deviation's notifications go out in the order they were issued: one waits while an earlier one
 * of its deviation is pending (being retried, or being sent by another dispatcher), so after an
 * outage the SLA breach never arrives before the reminders that led up to it. One that failed for
 * good no longer holds the others back.
 */
export async function dispatchOnce(
  pool: Pool,
  sender: NotificationSender,
  log: Log,
  options: DispatcherOptions = {},
): Promise<DispatchRound> {
  const opts = { ...DEFAULTS, ...options };
  const round: DispatchRound = { sent: 0, retrying: 0, failed: 0 };
  // A row that failed in this round waits for the next one, however short its backoff.
  const seen: number[] = [];
  for (let i = 0; i < opts.batchSize; i += 1) {
    const handled = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<NotificationMessage>(
        `SELECT id::int AS id, dedupe_key AS "dedupeKey", kind, deviation_id AS "deviationId", recipients, subject, body,
                created_at AS "createdAt", attempts
           FROM notifications n
          WHERE status = 'pending' AND next_attempt_at <= now()
            AND ($1::text[] IS NULL OR kind = ANY ($1))
            AND id <> ALL ($2::bigint[])
            AND NOT EXISTS (SELECT 1 FROM notifications e
                             WHERE e.deviation_id = n.deviation_id AND e.id < n.id AND e.status = 'pending'
                               AND ($1::text[] IS NULL OR e.kind = ANY ($1)))
          ORDER BY next_attempt_at, id
          LIMIT 1
          FOR UPDATE SKIP LOCKED`,
        [opts.kinds ?? null, seen],
      );
      const message = rows[0];
      if (!message) return false;
      seen.push(message.id);
      try {
        await sender.send(message);
        await client.query(
          `UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`,
          [message.id],
        );
        round.sent += 1;
      } catch (err) {
        const attempts = message.attempts + 1;
        const error = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
        const giveUp = attempts >= opts.maxAttempts;
        const delay = backoffMs(attempts, opts.baseDelayMs, opts.maxDelayMs);
        await client.query(
          `UPDATE notifications
              SET attempts = $2, last_error = $3, status = $4,
                  next_attempt_at = now() + make_interval(secs => $5::double precision / 1000)
            WHERE id = $1`,
          [message.id, attempts, error, giveUp ? 'failed' : 'pending', delay],
        );
        if (giveUp) {
          round.failed += 1;
          log.error(
            { notificationId: message.id, kind: message.kind, attempts, error, sender: sender.name },
            'notification failed for good',
          );
        } else {
          round.retrying += 1;
          log.warn(
            { notificationId: message.id, kind: message.kind, attempts, retryInMs: delay, error, sender: sender.name },
            'notification delivery failed; will retry',
          );
        }
      }
      return true;
    });
    if (!handled) break;
  }
  return round;
}

/**
 * Runs dispatch rounds until stopped: straight on while there is work, every pollIntervalMs when
 * idle. Returns a stop function that resolves once the round in flight has finished.
 */
export function startNotificationDispatcher(
  pool: Pool,
  sender: NotificationSender,
  log: Log,
  options: DispatcherOptions = {},
): () => Promise<void> {
  const opts = { ...DEFAULTS, ...options };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;

  const loop = async () => {
    while (!stopped) {
      let busy = false;
      try {
        const round = await dispatchOnce(pool, sender, log, opts);
        busy = round.sent + round.retrying + round.failed >= opts.batchSize;
      } catch (err) {
        // The database was unreachable or similar: keep going, the next round tries again.
        log.error({ err: { message: (err as Error).message } }, 'notification dispatch round failed');
      }
      if (!busy && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, opts.pollIntervalMs);
        });
      }
    }
  };
  inFlight = loop();
  log.info({ sender: sender.name, kinds: opts.kinds ?? 'all' }, 'notification dispatcher started');

  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    wake?.();
    await inFlight;
    log.info({ sender: sender.name }, 'notification dispatcher stopped');
  };
}
