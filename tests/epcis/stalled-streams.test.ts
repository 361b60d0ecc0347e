import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { STREAM_FIRST_BYTES } from '../../api/streamed-body';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { createUser } from '../helpers/users';
import { after, listen, rawClient, type Listening, type RawClient } from '../api/raw-http';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * The streamed routes (EPCIS capture, repository reports) take a database connection only once a
 * body has brought its first bytes, and drop a body from which nothing arrives for the stall
 * timeout (408, connection closed), its transaction rolled back and nothing stored. Ten captures
 * that trickle a byte at a time used to hold every connection of the pool, so that /health said
 * "postgres down" and sign-in timed out. On a real listening server, with the stack's pool of 5.
 */
const STALL_MS = 1000;
let stack: TestStack;
let server: Listening;
beforeAll(async () => {
  stack = await startStack({
    worker: false,
    config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, BODY_STALL_TIMEOUT_MS: String(STALL_MS) }),
  });
  server = await listen(stack.app, stack.config);
});
afterAll(async () => {
  await server.close();
  await stack.stop();
});

const tag = randomUUID().slice(0, 8).toUpperCase();
const captureHead = (length: number) =>
  `POST /epcis/capture HTTP/1.1\r\nHost: localhost\r\nX-API-Key: ${CAPTURE_KEY}\r\nContent-Type: application/ld+json\r\nContent-Length: ${length}\r\n\r\n`;
/** A valid document of `events` commissioning events (each about 400 bytes). */
const documentText = (events: number) =>
  JSON.stringify(
    epcisDocument(
      Array.from({ length: events }, (_, i) => ({
        type: 'ObjectEvent',
        eventID: `urn:uuid:${tag}-${i}`.toLowerCase(),
        eventTime: '2026-11-23T06:00:00Z',
        eventTimeZoneOffset: '+00:00',
        action: 'ADD',
        bizStep: 'commissioning',
        epcList: [`urn:epc:id:sgtin:4012345.011111.${tag}${i}`],
        ilmd: { 'cbvmda:lotNumber': `L${tag}`, 'cbvmda:itemExpirationDate': '2028-11-30' },
      })),
    ),
  );
const storedEvents = async () =>
  Number(
    (await stack.pool.query('SELECT count(*) FROM epcis_events WHERE event_id LIKE $1', [`urn:uuid:${tag.toLowerCase()}-%`])).rows[0].count,
  );
/** Connections of the pool checked out right now. */
const connectionsInUse = () => stack.pool.totalCount - stack.pool.idleCount;

/** What became of a client: its answer's status, and how long after `since` the server hung up. */
async function outcome(client: RawClient, since: number) {
  const closedAt = await Promise.race([client.closed, after(10_000, null)]);
  const res = await client.response;
  return { status: res?.status, closedAfterMs: closedAt === null ? null : closedAt - since };
}

describe('streamed bodies', () => {
  it('hold no database connection while they trickle: with ten trickling captures, /health and sign-in answer', async () => {
    const trickling = Array.from({ length: 10 }, () => rawClient(server.port, captureHead(1_000_000)));
    const timers = trickling.map((c) => setInterval(() => c.write('{'), 200));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(connectionsInUse()).toBe(0);
      const health = await request(stack.app).get('/health');
      expect(health.body.checks.postgres).toEqual({ status: 'up' });
      const user = await createUser(stack.pool, { roles: ['auditor'] });
      const started = Date.now();
      await request(stack.app).post('/auth/login').send({ login: user.login, password: user.password }).expect(200);
      expect(Date.now() - started).toBeLessThan(3000);
      // Still trickling, still open: a byte every 200 ms is not a stall.
      expect(trickling.every((c) => !c.socket.destroyed)).toBe(true);
    } finally {
      timers.forEach(clearInterval);
      trickling.forEach((c) => c.socket.destroy());
    }
  });

  it('drops a capture that stalls before its first bytes: 408 and the connection closed after the stall timeout', async () => {
    const since = Date.now();
    const client = rawClient(server.port, captureHead(1_000_000));
    client.write('{"type":"EPCISDocument",');
    const { status, closedAfterMs } = await outcome(client, since);
    expect(status).toBe(408);
    expect(closedAfterMs).toBeGreaterThanOrEqual(STALL_MS - 50);
    expect(closedAfterMs).toBeLessThan(STALL_MS + 3000);
  });

  it('drops a capture that stalls part-way, once it holds a connection: rolled back, nothing stored, the connection returned', async () => {
    const text = documentText(1000);
    const sent = text.slice(0, 2 * STREAM_FIRST_BYTES);
    const client = rawClient(server.port, captureHead(Buffer.byteLength(text)));
    client.write(sent);
    const since = Date.now();
    // The first bytes have arrived: the capture has its connection and is staging events.
    await new Promise((r) => setTimeout(r, 300));
    expect(connectionsInUse()).toBe(1);
    const { status, closedAfterMs } = await outcome(client, since);
    expect(status).toBe(408);
    expect(closedAfterMs).toBeLessThan(STALL_MS + 3000);
    expect(JSON.parse((await client.response)!.body)).toMatchObject({
      status: 408,
      detail: expect.stringContaining('nothing of it was stored'),
    });
    expect(await storedEvents()).toBe(0);
    expect(connectionsInUse()).toBe(0);
    // The same document sent whole and on time is stored.
    await request(stack.app)
      .post('/epcis/capture')
      .set('X-API-Key', CAPTURE_KEY)
      .set('Content-Type', 'application/ld+json')
      .send(text)
      .expect(202);
    expect(await storedEvents()).toBe(1000);
  });

  it('drops a repository report that stalls the same way', async () => {
    const body = JSON.stringify({
      target: 'EMVS',
      reportedAt: '2026-11-23T09:00:00Z',
      serials: Array.from({ length: 20_000 }, (_, i) => `${tag}${i}`),
    });
    const client = rawClient(
      server.port,
      `POST /batches/L${tag}/repository-reports HTTP/1.1\r\nHost: localhost\r\nX-API-Key: ${CAPTURE_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    client.write(body.slice(0, 2 * STREAM_FIRST_BYTES));
    const { status } = await outcome(client, Date.now());
    expect(status).toBe(408);
    expect(connectionsInUse()).toBe(0);
  });
});
