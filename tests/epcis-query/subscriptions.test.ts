import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createPool, type Pool } from '../../db/pool';
import { formatSgtinUrn } from '../../domain/gs1';
import { postToWebhook, startSubscriptionDelivery } from '../../epcis/subscription-delivery';
import { destinationProblem, guardedLookup } from '../../epcis/webhook-destination';
import { tokenKey } from '../../epcis/subscription-tokens';
import { eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';
import { capture, CAPTURE_KEY, eventIdsOf, gtinOf, nextLink, testTag } from './helpers';

/**
 * Webhook subscriptions to named EPCIS queries (REST binding /queries): a receiver on 127.0.0.1 gets
 * each matching event once, in record order, signed with HMAC-SHA256 under the subscription's token;
 * a receiver that fails for a while gets everything afterwards, once, in order; events the query does
 * not match are never sent. Two delivery loops run at once, on pools of their own, as two API
 * processes would. Bad bodies are refused with nothing stored, the token appears in no answer, no
 * audit row and no column in clear, and roles are checked.
 */

const tag = testTag();
const TOKEN = `whsec-${tag}-0123456789abcdef`;
const SUBSCRIPTION_KEY = 'test-subscription-key-0123456789abcdef-0123';
const gtin = gtinOf(10000 + Math.floor(Math.random() * 80000));
const LOC = `urn:epc:id:sgln:4012345.00009.${tag}`;
const OTHER_LOC = `urn:epc:id:sgln:4012345.00008.${tag}`;
const id = (name: string) => `urn:uuid:${tag}-${name}`;
const short = (ids: string[]) => ids.map((i) => i.slice(id('').length));

let n = 0;
/** An event at `loc`: an ObjectEvent (matches the query when at LOC) or an AggregationEvent (never matches). */
function event(name: string, loc: string, type: 'ObjectEvent' | 'AggregationEvent' = 'ObjectEvent') {
  n++;
  const base = { eventID: id(name), eventTime: `2031-05-01T10:00:${String(n % 60).padStart(2, '0')}Z`, eventTimeZoneOffset: '+00:00' };
  return type === 'ObjectEvent'
    ? { ...base, type, action: 'OBSERVE', bizStep: 'shipping', epcList: [formatSgtinUrn(gtin, `${tag}S${n}`)], bizLocation: { id: loc } }
    : {
        ...base,
        type,
        action: 'ADD',
        bizStep: 'packing',
        parentID: `urn:epc:id:sscc:4012345.0${String(n).padStart(9, '0')}`,
        childEPCs: [formatSgtinUrn(gtin, `${tag}C${n}`)],
        bizLocation: { id: loc },
      };
}

interface Received {
  status: number;
  body: string;
  signature: string | undefined;
  idempotencyKey: string | undefined;
}

let stack: TestStack;
let receiver: Server;
let hook: string;
/** What the receiver answers: 200, or 500 while it is "down". */
let answer = 200;
const received: Received[] = [];
const loops: Array<{ stop(): Promise<void> }> = [];
const pools: Pool[] = [];
let it: string;
let investigator: string;
let auditor: string;
let qaLead: string;
let production: string;
const QUERY = `shipped-at-${tag}`;

const acknowledged = () => received.filter((r) => r.status === 200);
const acknowledgedEvents = () => short(acknowledged().flatMap((r) => eventIdsOf(JSON.parse(r.body))));

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        status: answer,
        body: Buffer.concat(chunks).toString('utf8'),
        signature: req.headers['gs1-signature'] as string | undefined,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      });
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/epcis-hook`;

  const config = testConfig({
    CAPTURE_API_KEY: CAPTURE_KEY,
    EPCIS_SUBSCRIPTION_KEY: SUBSCRIPTION_KEY,
    EPCIS_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1',
  });
  stack = await startStack({ worker: false, config });
  const quiet = { warn: () => undefined, error: () => undefined };
  for (let i = 0; i < 2; i++) {
    const pool = createPool(config.DATABASE_URL, 3);
    pools.push(pool);
    loops.push(
      startSubscriptionDelivery(pool, quiet, {
        tokenKey: tokenKey(SUBSCRIPTION_KEY),
        allowedHosts: config.EPCIS_SUBSCRIPTION_ALLOWED_HOSTS,
        // (small batches, so that several POSTs carry the events; short backoff, for the outage)
        batchSize: 2,
        baseDelayMs: 200,
        maxDelayMs: 800,
        pollIntervalMs: 100,
      }),
    );
  }
  const user = (role: Parameters<typeof signedInUser>[2]['roles'][number]) =>
    signedInUser(stack.app, stack.pool, { roles: [role] }).then((u) => u.token);
  [it, investigator, auditor, qaLead, production] = await Promise.all([
    user('it'),
    user('investigator'),
    user('auditor'),
    user('qa_lead'),
    user('production'),
  ]);
});

afterAll(async () => {
  await Promise.all(loops.map((l) => l.stop()));
  await Promise.all(pools.map((p) => p.end()));
  await new Promise((resolve) => receiver.close(resolve));
  await stack.stop();
});

let subscriptionId: string;

describe('named queries', () => {
  test('an investigator defines a query with the parameters of GET /epcis/events; everyone who reads sees it', async () => {
    const res = await request(stack.app)
      .post('/epcis/queries')
      .set(bearer(investigator))
      .send({ name: QUERY, query: { eventType: ['ObjectEvent'], EQ_bizLocation: [LOC], EQ_bizStep: 'shipping' } })
      .expect(201);
    expect(res.headers.location).toBe(`/epcis/queries/${QUERY}`);
    expect(res.body.query).toEqual({ eventType: ['ObjectEvent'], EQ_bizLocation: [LOC], EQ_bizStep: ['shipping'] });
    const got = await request(stack.app).get(`/epcis/queries/${QUERY}`).set('X-API-Key', CAPTURE_KEY).expect(200);
    expect(got.body.name).toBe(QUERY);
    const list = await request(stack.app).get('/epcis/queries').query({ perPage: 1000 }).set(bearer(auditor)).expect(200);
    expect(list.body.map((q: { name: string }) => q.name)).toContain(QUERY);
    await request(stack.app)
      .post('/epcis/queries')
      .set(bearer(investigator))
      .send({ name: QUERY, query: { eventType: ['ObjectEvent'] } })
      .expect(409);
  });

  test('bad definitions are refused (400 problem+json naming the parameter) and nothing is stored', async () => {
    const before = await count('epcis_named_queries');
    for (const body of [
      { name: `bad-${tag}`, query: { EQ_action: ['JUMP'] } },
      { name: `bad-${tag}`, query: { orderBy: 'eventTime' } },
      { name: `bad-${tag}`, query: { MATCH_epc: ['urn:epc:idpat:sgtin:4012345.011111.*'] } },
      { name: `bad-${tag}`, query: { EQ_bizStep: ['shipping|receiving'] } },
      { name: `bad-${tag}`, query: { perPage: '5' } },
      { name: 'has space', query: {} },
      { name: `bad-${tag}`, query: {}, extra: true },
      { query: {} },
    ]) {
      const res = await request(stack.app).post('/epcis/queries').set(bearer(investigator)).send(body);
      expect([res.status, res.headers['content-type']]).toEqual([400, expect.stringMatching(/^application\/problem\+json/)]);
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    expect(await count('epcis_named_queries')).toBe(before);
  });

  test('who may define and remove queries', async () => {
    await request(stack.app)
      .post('/epcis/queries')
      .set(bearer(auditor))
      .send({ name: `a-${tag}`, query: {} })
      .expect(403);
    await request(stack.app)
      .post('/epcis/queries')
      .set(bearer(production))
      .send({ name: `a-${tag}`, query: {} })
      .expect(403);
    await request(stack.app).delete(`/epcis/queries/${QUERY}`).set(bearer(auditor)).expect(403);
    await request(stack.app).get(`/epcis/queries/${QUERY}`).expect(401);
  });
});

describe('subscriptions', () => {
  test('IT subscribes a webhook; the token is in no answer, no audit row and no column in clear', async () => {
    const res = await request(stack.app)
      .post(`/epcis/queries/${QUERY}/subscriptions`)
      .set(bearer(it))
      .send({ dest: hook, signatureToken: TOKEN, stream: true })
      .expect(201);
    subscriptionId = res.body.subscriptionID;
    expect(res.headers.location).toBe(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`);
    expect(res.body).toMatchObject({ dest: hook, stream: true, signed: true, queryName: QUERY });
    const answers = [
      res,
      await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions`).set(bearer(auditor)).expect(200),
      await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(it)).expect(200),
      await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set('X-API-Key', CAPTURE_KEY).expect(200),
    ];
    for (const a of answers) {
      expect(JSON.stringify(a.body)).not.toContain(TOKEN);
      expect(JSON.stringify(a.headers)).not.toContain(TOKEN);
    }
    const audit = await stack.pool.query<{ row: string; action: string }>(
      `SELECT to_jsonb(a)::text AS row, action FROM audit_trail a WHERE entity_id = $1 OR details->>'path' LIKE $2`,
      [subscriptionId, `%${QUERY}/subscriptions%`],
    );
    expect(audit.rows.map((r) => r.action)).toContain('epcis.subscription_created');
    for (const r of audit.rows) expect(r.row).not.toContain(TOKEN);
    const stored = await stack.pool.query<{ row: string }>('SELECT to_jsonb(s)::text AS row FROM epcis_subscriptions s WHERE id = $1', [
      subscriptionId,
    ]);
    expect(stored.rows[0]!.row).not.toContain(TOKEN);
    expect(stored.rows[0]!.row).not.toContain(Buffer.from(TOKEN).toString('hex'));
  });

  test('each matching event reaches the receiver once, in record order, signed; the others never', async () => {
    await capture(stack.app, [event('M1', LOC), event('N1', OTHER_LOC), event('M2', LOC), event('N2', LOC, 'AggregationEvent')]);
    await capture(stack.app, [event('M3', LOC), event('N3', OTHER_LOC), event('M4', LOC)]);
    await eventually(async () => (acknowledgedEvents().length >= 4 ? true : undefined), 30_000);
    await settle();
    expect(acknowledgedEvents()).toEqual(['M1', 'M2', 'M3', 'M4']);
    for (const r of received) {
      expect(r.signature).toBe(`sha256=${createHmac('sha256', TOKEN).update(r.body).digest('hex')}`);
      const doc = JSON.parse(r.body);
      expect(doc.type).toBe('EPCISQueryDocument');
      expect(doc.epcisBody.queryResults).toMatchObject({ queryName: QUERY, subscriptionID: subscriptionId });
    }
    const state = await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(it)).expect(200);
    expect(state.body.deliveredEvents).toBe(4);
    expect(state.body.lastNotifiedAt).not.toBeNull();
  });

  test('a receiver that fails for a while gets everything afterwards, once, in order, the same batch each attempt', async () => {
    answer = 500;
    const mark = received.length;
    await capture(stack.app, [event('M5', LOC), event('N4', OTHER_LOC), event('M6', LOC), event('M7', LOC)]);
    await eventually(async () => (received.length - mark >= 3 ? true : undefined), 30_000);
    const failing = await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(it)).expect(200);
    expect(failing.body.delivery.lastError).toBe('webhook answered 500');
    expect(failing.body.delivery.attempts).toBeGreaterThanOrEqual(2);
    // Another capture while the receiver is down: it waits behind the failing batch.
    await capture(stack.app, [event('M8', LOC)]);
    const attempts = received.slice(mark);
    expect(new Set(attempts.map((r) => r.body.length > 0 && short(eventIdsOf(JSON.parse(r.body))).join()))).toEqual(new Set(['M5,M6']));
    expect(new Set(attempts.map((r) => r.idempotencyKey)).size).toBe(1);

    answer = 200;
    await eventually(async () => (acknowledgedEvents().length >= 8 ? true : undefined), 30_000);
    await settle();
    expect(acknowledgedEvents()).toEqual(['M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'M7', 'M8']);
    const state = await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(it)).expect(200);
    expect(state.body).toMatchObject({ deliveredEvents: 8, delivery: { attempts: 0, lastError: null } });
  });

  test('GET /epcis/queries/{name}/events answers the same events, paged', async () => {
    const first = await request(stack.app).get(`/epcis/queries/${QUERY}/events`).query({ perPage: 5 }).set(bearer(auditor)).expect(200);
    expect(first.body.epcisBody.queryResults.queryName).toBe(QUERY);
    const link = nextLink(first.headers);
    expect(link).not.toBeNull();
    const second = await request(stack.app).get(link!).set(bearer(auditor)).expect(200);
    expect(short([...eventIdsOf(first.body), ...eventIdsOf(second.body)])).toEqual(['M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'M7', 'M8']);
    await request(stack.app).get(`/epcis/queries/${QUERY}/events`).query({ EQ_bizStep: 'receiving' }).set(bearer(auditor)).expect(400);
  });

  test('a named query answers in EPCIS 2.0 XML on Accept: application/xml, naming itself, and 406 for what it cannot give', async () => {
    const xml = await request(stack.app)
      .get(`/epcis/queries/${QUERY}/events`)
      .query({ perPage: 3 })
      .set(bearer(auditor))
      .set('Accept', 'application/xml')
      .expect(200);
    expect(xml.headers['content-type']).toMatch(/^application\/xml/);
    expect(xml.text).toContain(`<queryName>${QUERY}</queryName>`);
    expect(xml.text.match(/<ObjectEvent>/g) ?? []).toHaveLength(3);
    expect(nextLink(xml.headers)).not.toBeNull();
    const refused = await request(stack.app)
      .get(`/epcis/queries/${QUERY}/events`)
      .set(bearer(auditor))
      .set('Accept', 'text/csv')
      .expect(406);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  test('bad subscriptions are refused (400 problem+json) and nothing is stored', async () => {
    const before = await count('epcis_subscriptions');
    for (const body of [
      { dest: 'https://10.1.2.3/hook', stream: true },
      { dest: 'https://169.254.169.254/latest/meta-data', stream: true },
      { dest: 'https://[::1]/hook', stream: true },
      { dest: 'https://localhost/hook', stream: true },
      { dest: 'http://receiver.example.com/hook', stream: true },
      { dest: 'https://user:pw@receiver.example.com/hook', stream: true },
      { dest: 'ftp://receiver.example.com/hook', stream: true },
      { dest: 'not a url', stream: true },
      { dest: 'https://receiver.example.com/hook' },
      { dest: 'https://receiver.example.com/hook', stream: false },
      { dest: 'https://receiver.example.com/hook', schedule: { hour: '1', minute: '5' } },
      { dest: 'https://receiver.example.com/hook', stream: true, reportIfEmpty: true },
      { dest: 'https://receiver.example.com/hook', stream: true, signatureToken: 'short' },
      { dest: 'https://receiver.example.com/hook', stream: true, initialRecordTime: 'yesterday' },
      { dest: 'https://receiver.example.com/hook', stream: true, other: 1 },
    ]) {
      const res = await request(stack.app).post(`/epcis/queries/${QUERY}/subscriptions`).set(bearer(it)).send(body);
      expect([JSON.stringify(body), res.status, res.headers['content-type']]).toEqual([
        JSON.stringify(body),
        400,
        expect.stringMatching(/^application\/problem\+json/),
      ]);
      expect(res.body.type).toBe('epcisException:SubscriptionControlsException');
    }
    await request(stack.app)
      .post(`/epcis/queries/no-such-${tag}/subscriptions`)
      .set(bearer(it))
      .send({ dest: 'https://receiver.example.com/hook', stream: true })
      .expect(404);
    expect(await count('epcis_subscriptions')).toBe(before);
  });

  test('who may subscribe, see subscriptions and unsubscribe', async () => {
    const body = { dest: 'https://receiver.example.com/hook', stream: true };
    for (const token of [investigator, qaLead, auditor, production])
      await request(stack.app).post(`/epcis/queries/${QUERY}/subscriptions`).set(bearer(token)).send(body).expect(403);
    for (const token of [investigator, qaLead, production])
      await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions`).set(bearer(token)).expect(403);
    for (const token of [investigator, qaLead, auditor])
      await request(stack.app).delete(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(token)).expect(403);
    // An investigator may remove queries, but not one with subscriptions (that would unsubscribe them).
    await request(stack.app).delete(`/epcis/queries/${QUERY}`).set(bearer(investigator)).expect(409);
  });

  test('after unsubscribing nothing more is sent; removing the query removes its subscriptions', async () => {
    await request(stack.app).delete(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(it)).expect(204);
    await request(stack.app).get(`/epcis/queries/${QUERY}/subscriptions/${subscriptionId}`).set(bearer(it)).expect(404);
    const mark = received.length;
    await capture(stack.app, [event('M9', LOC)]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(received.length).toBe(mark);

    await request(stack.app).post(`/epcis/queries/${QUERY}/subscriptions`).set(bearer(it)).send({ dest: hook, stream: true }).expect(201);
    await request(stack.app).delete(`/epcis/queries/${QUERY}`).set(bearer(it)).expect(204);
    await request(stack.app).get(`/epcis/queries/${QUERY}`).set(bearer(it)).expect(404);
    expect((await stack.pool.query('SELECT 1 FROM epcis_subscriptions WHERE query_name = $1', [QUERY])).rowCount).toBe(0);
    const audit = await stack.pool.query<{ action: string }>(
      `SELECT action FROM audit_trail WHERE entity_type IN ('epcis_subscription', 'epcis_named_query') AND (entity_id = $1 OR entity_id = $2 OR before->>'queryName' = $1) ORDER BY id`,
      [QUERY, subscriptionId],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(['epcis.query_created', 'epcis.subscription_created', 'epcis.subscription_deleted', 'epcis.query_deleted']),
    );
  });
});

async function count(table: 'epcis_named_queries' | 'epcis_subscriptions'): Promise<number> {
  const { rows } = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

/** Waits until the receiver has heard nothing for a while (a duplicate would have arrived by then). */
async function settle(): Promise<void> {
  let seen = -1;
  while (seen !== received.length) {
    seen = received.length;
    await new Promise((r) => setTimeout(r, 700));
  }
}

describe('the webhook guard (SSRF)', () => {
  test('a host name resolving to a loopback address is refused at connection, unless allowed by name', async () => {
    const resolve = (allowed: string[]) =>
      new Promise<string>((done) =>
        guardedLookup(allowed)('localhost', {}, (err, address) => done(err ? `refused: ${err.message}` : String(address))),
      );
    expect(await resolve([])).toMatch(/^refused: localhost resolves to a non-public address/);
    expect(await resolve(['localhost'])).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(destinationProblem('https://localhost./hook', [])).toMatch(/local network/);
    expect(destinationProblem('https://[::ffff:10.0.0.1]/hook', [])).toMatch(/private/);
    expect(destinationProblem('https://receiver.example.com/hook', [])).toBeNull();
    const answer = await postToWebhook(hook, '{}', {}, { allowedHosts: [], timeoutMs: 2000 });
    expect(answer).toEqual({ ok: false, error: expect.stringMatching(/^destination refused: must be an https URL/) });
  });
});
