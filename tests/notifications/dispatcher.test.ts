import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enqueueNotification } from '../../notifications/outbox';
import { dispatchOnce, loggingSender, senderFromConfig, startNotificationDispatcher, webhookSender } from '../../notifications/dispatcher';
import { eventually, startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: number; dedupeKey: string; kind: string; subject: string };
}

/** A real local webhook receiver; `answer` decides each response's status. */
async function receiver(
  answer: (r: Received, n: number) => number,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const r = { at: Date.now(), headers: req.headers, raw, body: JSON.parse(raw) };
      received.push(r);
      res.statusCode = answer(r, received.length);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/gxp`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A kind of its own per test, so dispatchers here never take other test files' notifications. */
async function enqueue(kind: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    await enqueueNotification(stack.pool, {
      dedupeKey: `${kind}:${i}`,
      kind,
      recipients: ['role:qa_head'],
      subject: `notification ${i}`,
      body: { i },
    });
  }
}

async function rows(kind: string) {
  const { rows } = await stack.pool.query(
    `SELECT id::int AS id, status, attempts, last_error AS "lastError", sent_at AS "sentAt", next_attempt_at AS "nextAttemptAt"
       FROM notifications WHERE kind = $1 ORDER BY id`,
    [kind],
  );
  return rows;
}

describe('notification dispatcher', () => {
  it('delivers each notification exactly once, even with two dispatchers polling the outbox', async () => {
    const kind = `test_${randomUUID()}`;
    const hook = await receiver(() => 204);
    await enqueue(kind, 12);
    expect(await enqueueNotification(stack.pool, { dedupeKey: `${kind}:0`, kind, recipients: ['x'], subject: 'again' })).toBe(false);
    const opts = { kinds: [kind], pollIntervalMs: 20, batchSize: 5 };
    const stops = [
      startNotificationDispatcher(stack.pool, webhookSender(hook.url), quiet, opts),
      startNotificationDispatcher(stack.pool, webhookSender(hook.url), quiet, opts),
    ];
    try {
      await eventually(async () => ((await rows(kind)).every((r) => r.status === 'sent') ? true : undefined), 15_000, 50);
    } finally {
      await Promise.all(stops.map((stop) => stop()));
      await hook.close();
    }
    const ids = hook.received.map((r) => r.body.id).sort((a, b) => a - b);
    expect(ids).toEqual((await rows(kind)).map((r) => r.id));
    expect((await rows(kind)).every((r) => r.attempts === 1 && r.sentAt && r.lastError === null)).toBe(true);
    const first = hook.received.find((r) => r.body.dedupeKey === `${kind}:0`)!;
    expect(first.headers['idempotency-key']).toBe(`${kind}:0`);
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.body).toMatchObject({ kind, subject: 'notification 0' });
  });

  it('retries a failing webhook with exponential backoff, then delivers once', async () => {
    const kind = `test_${randomUUID()}`;
    const hook = await receiver((_r, n) => (n <= 3 ? 503 : 200));
    await enqueue(kind, 1);
    const baseDelayMs = 300;
    const stop = startNotificationDispatcher(stack.pool, webhookSender(hook.url), quiet, {
      kinds: [kind],
      pollIntervalMs: 20,
      baseDelayMs,
    });
    try {
      const failing = await eventually(
        async () => {
          const [row] = await rows(kind);
          return row.attempts >= 1 && row.status === 'pending' ? row : undefined;
        },
        10_000,
        10,
      );
      expect(failing.lastError).toBe('webhook answered 503');
      await eventually(async () => ((await rows(kind))[0].status === 'sent' ? true : undefined), 15_000, 50);
    } finally {
      await stop();
      await hook.close();
    }
    expect(hook.received).toHaveLength(4);
    const gaps = hook.received.slice(1).map((r, i) => r.at - hook.received[i]!.at);
    // 300 ms, 600 ms, 1200 ms, counted from the start of each attempt's transaction: a send that took
    // long to arrive (tens of milliseconds on a loaded machine) shortens the gap after it by as much.
    // A fifth of each gap leaves room for that and still tells doubling from a fixed interval.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(0.8 * baseDelayMs * 2 ** i));
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    const [row] = await rows(kind);
    expect(row).toMatchObject({ status: 'sent', attempts: 4, lastError: null });
  });

  it('gives up after maxAttempts and marks the notification failed with the last error', async () => {
    const kind = `test_${randomUUID()}`;
    await enqueue(kind, 1);
    const failing = { name: 'broken', send: async () => Promise.reject(new Error('mail relay refused')) };
    const opts = { kinds: [kind], baseDelayMs: 1, maxAttempts: 3 };
    const outcomes = [];
    for (let round = 0; round < 3; round += 1) {
      // Each attempt once the (1 ms) backoff has passed.
      outcomes.push(
        await eventually(
          async () => {
            const r = await dispatchOnce(stack.pool, failing, quiet, opts);
            return r.retrying + r.failed === 1 ? r : undefined;
          },
          5_000,
          5,
        ),
      );
    }
    expect(outcomes).toEqual([
      { sent: 0, retrying: 1, failed: 0 },
      { sent: 0, retrying: 1, failed: 0 },
      { sent: 0, retrying: 0, failed: 1 },
    ]);
    expect((await rows(kind))[0]).toMatchObject({ status: 'failed', attempts: 3, lastError: 'mail relay refused' });
    // A failed notification is not picked up again.
    expect(await dispatchOnce(stack.pool, failing, quiet, opts)).toEqual({ sent: 0, retrying: 0, failed: 0 });
  });

  it('reports an unreachable webhook without its URL, and signs the body when a secret is configured', async () => {
    const kind = `test_${randomUUID()}`;
    await enqueue(kind, 1);
    const closed = await receiver(() => 200);
    await closed.close();
    await dispatchOnce(stack.pool, webhookSender(`${closed.url}?token=s3cret`, { timeoutMs: 2000 }), quiet, { kinds: [kind] });
    const [row] = await rows(kind);
    expect(row.lastError).toMatch(/^webhook unreachable/);
    expect(row.lastError).not.toContain('s3cret');

    const hook = await receiver(() => 200);
    const secret = 'a-shared-secret-of-some-length';
    await stack.pool.query(`UPDATE notifications SET next_attempt_at = now() WHERE kind = $1`, [kind]);
    const sender = senderFromConfig({ NOTIFICATION_WEBHOOK_URL: hook.url, NOTIFICATION_WEBHOOK_SECRET: secret }, quiet);
    expect(sender.name).toBe('webhook');
    await dispatchOnce(stack.pool, sender, quiet, { kinds: [kind] });
    await hook.close();
    expect(hook.received).toHaveLength(1);
    const expected = `sha256=${createHmac('sha256', secret).update(hook.received[0]!.raw).digest('hex')}`;
    expect(hook.received[0]!.headers['x-signature']).toBe(expected);
  });

  it('logs notifications when no webhook is configured', async () => {
    const kind = `test_${randomUUID()}`;
    await enqueue(kind, 2);
    const lines: object[] = [];
    const log = { ...quiet, info: (obj: object) => void lines.push(obj) };
    const sender = senderFromConfig({}, log);
    expect(sender.name).toBe('log');
    expect(await dispatchOnce(stack.pool, loggingSender(log), quiet, { kinds: [kind] })).toEqual({ sent: 2, retrying: 0, failed: 0 });
    expect(lines).toEqual([
      { notification: expect.objectContaining({ kind, subject: 'notification 0', recipients: ['role:qa_head'] }) },
      { notification: expect.objectContaining({ kind, subject: 'notification 1' }) },
    ]);
  });
});
