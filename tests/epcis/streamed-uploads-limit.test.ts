import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { STREAM_FIRST_BYTES } from '../../api/streamed-body';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { after, listen, rawClient, type Listening } from '../api/raw-http';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * A client that has sent its first bytes holds a database connection as long as it keeps
 * sending, even a byte just inside every stall timeout. STREAMED_UPLOADS_MAX bounds how many do so
 * at once, so the rest of the pool stays free: the next upload is answered 503 with Retry-After.
 */
let stack: TestStack;
let server: Listening;
beforeAll(async () => {
  stack = await startStack({
    worker: false,
    config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, BODY_STALL_TIMEOUT_MS: '2000', STREAMED_UPLOADS_MAX: '1' }),
  });
  server = await listen(stack.app, stack.config);
});
afterAll(async () => {
  await server.close();
  await stack.stop();
});

const tag = randomUUID().slice(0, 8).toUpperCase();
const documentText = (prefix: string, events: number) =>
  JSON.stringify(
    epcisDocument(
      Array.from({ length: events }, (_, i) => ({
        type: 'ObjectEvent',
        eventID: `urn:uuid:${tag}-${prefix}-${i}`.toLowerCase(),
        eventTime: '2026-11-23T06:00:00Z',
        eventTimeZoneOffset: '+00:00',
        action: 'ADD',
        bizStep: 'commissioning',
        epcList: [`urn:epc:id:sgtin:4012345.011111.${tag}${prefix}${i}`],
        ilmd: { 'cbvmda:lotNumber': `L${tag}`, 'cbvmda:itemExpirationDate': '2028-11-30' },
      })),
    ),
  );
const captureHead = (length: number) =>
  `POST /epcis/capture HTTP/1.1\r\nHost: localhost\r\nX-API-Key: ${CAPTURE_KEY}\r\nContent-Type: application/ld+json\r\nContent-Length: ${length}\r\n\r\n`;
const stored = async (prefix: string) =>
  Number(
    (
      await stack.pool.query('SELECT count(*) FROM epcis_events WHERE event_id LIKE $1', [
        `urn:uuid:${tag.toLowerCase()}-${prefix.toLowerCase()}-%`,
      ])
    ).rows[0].count,
  );

it('past STREAMED_UPLOADS_MAX uploads holding a connection, the next is answered 503 with Retry-After and stores nothing; once one ends, uploads go through', async () => {
  const slow = documentText('A', 1000);
  const holder = rawClient(server.port, captureHead(Buffer.byteLength(slow)));
  holder.write(slow.slice(0, 2 * STREAM_FIRST_BYTES));
  let sent = 2 * STREAM_FIRST_BYTES;
  // A byte every 500 ms: never a stall, never done.
  const trickle = setInterval(() => holder.write(slow.slice(sent, ++sent)), 500);
  try {
    await new Promise((r) => setTimeout(r, 500));
    expect(stack.pool.totalCount - stack.pool.idleCount).toBe(1);

    const next = documentText('B', 1000);
    const refused = rawClient(server.port, captureHead(Buffer.byteLength(next)));
    refused.write(next);
    const answer = await Promise.race([refused.response, after(10_000, null)]);
    expect(answer?.status).toBe(503);
    expect(answer?.headers['retry-after']).toBe('5');
    expect(JSON.parse(answer!.body).detail).toMatch(/Nothing of it was stored/);
    expect(await stored('B')).toBe(0);
    expect(stack.pool.totalCount - stack.pool.idleCount).toBe(1);
    // Sign-in and /health still find a connection.
    expect((await request(stack.app).get('/health')).body.checks.postgres).toEqual({ status: 'up' });
  } finally {
    clearInterval(trickle);
    holder.socket.destroy();
  }
  // The holder gone (its transaction rolled back), the slot is free again.
  await new Promise((r) => setTimeout(r, 500));
  expect(await stored('A')).toBe(0);
  await request(stack.app)
    .post('/epcis/capture')
    .set('X-API-Key', CAPTURE_KEY)
    .set('Content-Type', 'application/ld+json')
    .send(documentText('B', 1000))
    .expect(202);
  expect(await stored('B')).toBe(1000);
});
