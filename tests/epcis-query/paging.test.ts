import request from 'supertest';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser } from '../helpers/users';
import { capture, CAPTURE_KEY, eventIdsOf, nextLink, testTag } from './helpers';

/**
 * Paging through 10,000 matching events with the binding's perPage and Link rel="next": every event
 * comes exactly once, in record order, and events captured while a client pages come at the end
 * instead of shifting the pages under it.
 */

let stack: TestStack;
let auditor: string;
const tag = testTag();
const LOCATION = `urn:epc:id:sgln:4012345.00009.${tag}`;
const DOCUMENTS = 10;
const PER_DOCUMENT = 1000;

/** A compact event: one asset observed at this file's location, at a time unrelated to its place in the capture order. */
const observation = (n: number) => ({
  type: 'ObjectEvent',
  eventID: `urn:uuid:${tag}-${n}`,
  // (times shuffled: record order is not event-time order)
  eventTime: new Date(Date.UTC(2031, 0, 1) + ((n * 7919) % 100_003) * 1000).toISOString(),
  eventTimeZoneOffset: '+00:00',
  action: 'OBSERVE',
  bizStep: 'inspecting',
  epcList: [`urn:epc:id:giai:4012345.${tag}${n}`],
  bizLocation: { id: LOCATION },
});

const captured: string[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  auditor = (await signedInUser(stack.app, stack.pool, { roles: ['auditor'] })).token;
  for (let d = 0; d < DOCUMENTS; d++) {
    const events = Array.from({ length: PER_DOCUMENT }, (_, i) => observation(d * PER_DOCUMENT + i));
    await capture(stack.app, events);
    captured.push(...events.map((e) => e.eventID));
  }
});
afterAll(async () => {
  await stack.stop();
});

it('returns each of 10,000 events exactly once, in record order, and the ones captured meanwhile at the end', async () => {
  const seen: string[] = [];
  let url: string | null = `/epcis/events?EQ_bizLocation=${encodeURIComponent(LOCATION)}&perPage=700`;
  let pages = 0;
  const late = Array.from({ length: 50 }, (_, i) => observation(DOCUMENTS * PER_DOCUMENT + i));
  while (url) {
    const res = await request(stack.app).get(url).set(bearer(auditor)).expect(200);
    const ids = eventIdsOf(res.body);
    seen.push(...ids);
    url = nextLink(res.headers);
    pages++;
    if (url) expect(ids).toHaveLength(700);
    // Events captured while the client is on its third page.
    if (pages === 3) await capture(stack.app, late);
  }
  const expected = [...captured, ...late.map((e) => e.eventID)];
  expect(seen.length).toBe(expected.length);
  expect(new Set(seen).size).toBe(expected.length);
  expect(seen).toEqual(expected);
  expect(pages).toBe(Math.ceil(expected.length / 700));
});

it('a page token goes on only with the query it was issued for', async () => {
  const first = await request(stack.app)
    .get('/epcis/events')
    .query({ EQ_bizLocation: LOCATION, perPage: '10' })
    .set(bearer(auditor))
    .expect(200);
  const link = nextLink(first.headers)!;
  const token = new URL(link, 'http://x').searchParams.get('nextPageToken')!;
  const second = await request(stack.app).get(link).set(bearer(auditor)).expect(200);
  expect(eventIdsOf(second.body)).toEqual(captured.slice(10, 20));
  // Another filter, or a token changed by hand: refused, nothing read.
  for (const query of [
    { EQ_bizLocation: LOCATION, EQ_bizStep: 'inspecting', nextPageToken: token },
    { EQ_bizLocation: LOCATION, nextPageToken: `${token.slice(0, -2)}${token.endsWith('A') ? 'B' : 'A'}A` },
  ]) {
    const res = await request(stack.app).get('/epcis/events').query(query).set(bearer(auditor)).expect(400);
    expect(res.body.type).toBe('epcisException:QueryParameterException');
  }
});
