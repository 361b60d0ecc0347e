import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startNotificationDispatcher, webhookSender, type DispatcherOptions } from '../../notifications/dispatcher';
import { newDeviationRequest } from '../helpers/fixtures';
import { compressedPolicy, eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';
import { ownDatabase } from './helpers';

/**
 * The webhook receiver is down while two deviations run through containment (alert, two
 * reminders, the SLA breach each): every notification waits in the outbox, and once the receiver
 * is back each arrives exactly once, each deviation's in the order they were issued.
 *
 * The outage is ten minutes, against the dispatcher's own schedule (first retry after
 * 5 s, doubling, ten attempts). Both are compressed fifty-fold here: retries from 100 ms, doubling,
 * ten attempts, and the receiver down for 12 s, long enough that the containment clock (8 s,
 * policies/compressed.json) issues everything while it is down, and the first notification has
 * failed seven times, its next try 12.8 s after the first, as it would be 10.7 minutes after.
 */
const COMPRESSED_RETRIES: DispatcherOptions = { pollIntervalMs: 50, baseDelayMs: 100, maxDelayMs: 72_000, maxAttempts: 10 };
const OUTAGE_MS = 12_000;

let db: Awaited<ReturnType<typeof ownDatabase>>;
let stack: TestStack;
let lead: Record<string, string>;
let stopDispatcher: () => Promise<void> = async () => undefined;

interface Delivery {
  id: number;
  dedupeKey: string;
  deviationId: string;
  idempotencyKey: string;
}
const deliveries: Delivery[] = [];
const receiver: Server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (raw += c));
  req.on('end', () => {
    const body = JSON.parse(raw) as Omit<Delivery, 'idempotencyKey'>;
    deliveries.push({
      id: body.id,
      dedupeKey: body.dedupeKey,
      deviationId: body.deviationId,
      idempotencyKey: String(req.headers['idempotency-key']),
    });
    res.statusCode = 204;
    res.end();
  });
});
const listen = (port: number) => new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
/** Down: refuses connections, and the dispatcher's kept-alive connection to it is gone too. */
const takeDown = () =>
  new Promise<void>((resolve) => {
    receiver.close(() => resolve());
    receiver.closeAllConnections();
  });

beforeAll(async () => {
  // A database of its own: the dispatcher here delivers every pending notification it finds.
  db = await ownDatabase('webhook', 930_000);
  stack = await startStack({ config: testConfig({ DATABASE_URL: db.url }), policy: compressedPolicy() });
  lead = bearer((await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token);
  await listen(0);
}, 60_000);
afterAll(async () => {
  await stopDispatcher();
  if (receiver.listening) await takeDown();
  await stack?.stop();
  await db?.drop();
});

it('a webhook receiver down while notifications are issued: each delivered once when it is back, in order per deviation', async () => {
  const port = (receiver.address() as AddressInfo).port;
  stopDispatcher = startNotificationDispatcher(
    stack.pool,
    webhookSender(`http://127.0.0.1:${port}/hooks/gxp`, { timeoutMs: 2_000 }),
    { info: () => undefined, warn: () => undefined, error: () => undefined },
    COMPRESSED_RETRIES,
  );
  await takeDown();
  const downAt = Date.now();
  const ids = await Promise.all(
    [0, 1].map(
      async () => (await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201)).body.id as string,
    ),
  );
  const outbox = async () =>
    (
      await stack.pool.query<{ id: number; deviation_id: string; dedupe_key: string; status: string; attempts: number }>(
        'SELECT id::int, deviation_id, dedupe_key, status, attempts FROM notifications WHERE deviation_id = ANY ($1) ORDER BY id',
        [ids],
      )
    ).rows;
  // Everything containment issues while the receiver is down: alert, two reminders, the breach, per deviation.
  await eventually(async () => {
    const rows = await outbox();
    return ids.every(
      (id) => rows.filter((r) => r.deviation_id === id && /containment:(alert|reminder:\d|escalation)$/.test(r.dedupe_key)).length === 4,
    )
      ? true
      : undefined;
  }, OUTAGE_MS);
  await new Promise((r) => setTimeout(r, Math.max(0, downAt + OUTAGE_MS - Date.now())));
  expect(deliveries).toEqual([]);
  const waiting = await outbox();
  expect(waiting.every((r) => r.status === 'pending')).toBe(true);

  await listen(port);
  const sent = await eventually(
    async () => {
      const rows = await outbox();
      return rows.every((r) => r.status === 'sent') ? rows : undefined;
    },
    60_000,
    200,
  );

  // Each exactly once (by its ID and by the Idempotency-Key a receiver deduplicates on) ...
  expect(deliveries.map((d) => d.id).sort((x, y) => x - y)).toEqual(sent.map((r) => r.id));
  expect(deliveries.map((d) => d.idempotencyKey).sort()).toEqual(sent.map((r) => r.dedupe_key).sort());
  // ... and each deviation's in the order the workflow issued them.
  for (const id of ids) {
    expect(deliveries.filter((d) => d.deviationId === id).map((d) => d.dedupeKey)).toEqual(
      sent.filter((r) => r.deviation_id === id).map((r) => r.dedupe_key),
    );
  }
  // The outage was felt: each deviation's first notification was tried again and again on the
  // dispatcher's backoff (the ones behind it waited their turn).
  for (const id of ids) expect(sent.find((r) => r.deviation_id === id)!.attempts).toBeGreaterThan(3);
}, 120_000);
