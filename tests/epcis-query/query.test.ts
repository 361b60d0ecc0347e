import request from 'supertest';
import { formatSgtinDigitalLink, formatSgtinUrn, formatSsccDigitalLink, formatSsccUrn } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, createApiKey, signedInUser } from '../helpers/users';
import { capture, CAPTURE_KEY, eventIdsOf, eventsOf, gtinOf, nextLink, ssccOf, testTag } from './helpers';

/**
 * The EPCIS 2.0 query interface (REST binding) over events captured through the API: each query
 * parameter keeps exactly the events it should, whichever spelling (EPC URN or Digital Link, CBV
 * word, web URI or URN) the events or the query use; bad parameters are refused (400
 * QueryParameterException) naming what is wrong; who may read.
 */

let stack: TestStack;
let auditor: string;
const tag = testTag();
// Events of this file lie in a day of their own (tests share one database).
const year = 2040 + Math.floor(Math.random() * 50);
const at = (hour: number) => `${year}-03-01T${String(hour).padStart(2, '0')}:00:00.000Z`;
const WINDOW = { GE_eventTime: at(0), LT_eventTime: `${year}-03-02T00:00:00Z` };

const gtin = gtinOf(20000 + Math.floor(Math.random() * 70000));
const serial = (n: number) => `${tag}U${n}`;
const urn = (n: number) => formatSgtinUrn(gtin, serial(n));
const dl = (n: number) => formatSgtinDigitalLink(gtin, serial(n));
const caseSscc = ssccOf(0, Math.floor(Math.random() * 1e9));
const grai = `urn:epc:id:grai:4012345.00001.${tag}`;
const LOT_A = `LA${tag}`.slice(0, 20);
const LOT_B = `LB${tag}`.slice(0, 20);
const RP1 = 'urn:epc:id:sgln:4012345.00001.0';
const LOC1 = `urn:epc:id:sgln:4012345.00002.${tag}`;
const LOC2 = `urn:epc:id:sgln:4012345.00003.${tag}`;

const id = (name: string) => `urn:uuid:${tag}-${name}`;
const base = (name: string, hour: number) => ({ eventID: id(name), eventTime: at(hour), eventTimeZoneOffset: '+00:00' });
const E = {
  E1: {
    ...base('E1', 1),
    type: 'ObjectEvent',
    action: 'ADD',
    bizStep: 'commissioning',
    disposition: 'active',
    epcList: [urn(1), urn(2)],
    readPoint: { id: RP1 },
    bizLocation: { id: LOC1 },
    ilmd: { 'cbvmda:lotNumber': LOT_A, 'cbvmda:itemExpirationDate': '2030-01-31' },
  },
  E2: {
    ...base('E2', 2),
    type: 'ObjectEvent',
    action: 'ADD',
    bizStep: 'https://ref.gs1.org/cbv/BizStep-commissioning',
    disposition: 'active',
    epcList: [dl(3)],
    bizLocation: { id: LOC2 },
    ilmd: { 'cbvmda:lotNumber': LOT_B, 'cbvmda:itemExpirationDate': '2030-01-31' },
  },
  E3: {
    ...base('E3', 3),
    type: 'AggregationEvent',
    action: 'ADD',
    bizStep: 'packing',
    disposition: 'in_progress',
    parentID: formatSsccUrn(caseSscc),
    childEPCs: [urn(1), urn(2)],
    readPoint: { id: RP1 },
    bizLocation: { id: LOC1 },
  },
  E4: {
    ...base('E4', 4),
    type: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'shipping',
    disposition: 'in_transit',
    epcList: [formatSsccDigitalLink(caseSscc)],
    bizLocation: { id: LOC1 },
  },
  E5: {
    ...base('E5', 5),
    type: 'ObjectEvent',
    action: 'DELETE',
    bizStep: 'decommissioning',
    disposition: 'inactive',
    epcList: [urn(3)],
  },
  E6: { ...base('E6', 6), type: 'TransformationEvent', bizStep: 'other', inputEPCList: [urn(2)], outputEPCList: [urn(5)] },
  E7: { ...base('E7', 7), type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'inspecting', epcList: [grai] },
};
const names = (ids: string[]) => ids.map((i) => i.slice(id('').length));

/** GET /epcis/events as the auditor (the day of this file's events unless `window` is false); the events' short names. */
async function query(params: Record<string, string>, window = true): Promise<string[]> {
  const res = await request(stack.app)
    .get('/epcis/events')
    .query({ ...(window ? WINDOW : {}), ...params })
    .set(bearer(auditor));
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return names(eventIdsOf(res.body));
}

let recordTimeOfSecondDocument: string;

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  auditor = (await signedInUser(stack.app, stack.pool, { roles: ['auditor'] })).token;
  await capture(stack.app, [E.E1, E.E2, E.E3, E.E4, E.E5]);
  // A second capture, later: its events have a later record time.
  await new Promise((r) => setTimeout(r, 20));
  await capture(stack.app, [E.E6, E.E7]);
  const res = await request(stack.app)
    .get(`/epcis/events/${encodeURIComponent(id('E6'))}`)
    .set(bearer(auditor))
    .expect(200);
  recordTimeOfSecondDocument = eventsOf(res.body)[0]!.recordTime as string;
});
afterAll(async () => {
  await stack.stop();
});

describe('GET /epcis/events: each parameter keeps exactly the events it names', () => {
  it('answers an EPCISQueryDocument of every event of the window, in record order', async () => {
    const res = await request(stack.app).get('/epcis/events').query(WINDOW).set(bearer(auditor)).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['gs1-epcis-version']).toBe('2.0.0');
    expect(res.body).toMatchObject({
      type: 'EPCISQueryDocument',
      schemaVersion: '2.0',
      epcisBody: { queryResults: { queryName: 'SimpleEventQuery' } },
    });
    expect(res.body['@context'][0]).toBe('https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld');
    expect(names(eventIdsOf(res.body))).toEqual(['E1', 'E2', 'E3', 'E4', 'E5', 'E6', 'E7']);
    expect(nextLink(res.headers)).toBeNull();
  });

  it('eventType, GE_eventTime (inclusive) and LT_eventTime (exclusive, any offset)', async () => {
    expect(await query({ eventType: 'AggregationEvent|TransformationEvent' })).toEqual(['E3', 'E6']);
    expect(await query({ GE_eventTime: at(3), LT_eventTime: `${year}-03-01T07:00:00+02:00` }, false)).toEqual(['E3', 'E4']);
  });

  it('GE_recordTime and LT_recordTime: when capture recorded the events', async () => {
    expect(await query({ GE_recordTime: recordTimeOfSecondDocument })).toEqual(['E6', 'E7']);
    expect(await query({ LT_recordTime: recordTimeOfSecondDocument })).toEqual(['E1', 'E2', 'E3', 'E4', 'E5']);
  });

  it('EQ_action; EQ_bizStep and EQ_disposition in any CBV spelling, on events captured in any spelling', async () => {
    expect(await query({ EQ_action: 'ADD' })).toEqual(['E1', 'E2', 'E3']);
    expect(await query({ EQ_bizStep: 'commissioning' })).toEqual(['E1', 'E2']);
    expect(await query({ EQ_bizStep: 'https://ref.gs1.org/cbv/BizStep-shipping|urn:epcglobal:cbv:bizstep:decommissioning' })).toEqual([
      'E4',
      'E5',
    ]);
    expect(await query({ EQ_disposition: 'in_transit|inactive' })).toEqual(['E4', 'E5']);
  });

  it('EQ_readPoint, EQ_bizLocation and EQ_eventID', async () => {
    expect(await query({ EQ_readPoint: RP1 })).toEqual(['E1', 'E3']);
    expect(await query({ EQ_bizLocation: LOC2 })).toEqual(['E2']);
    expect(await query({ EQ_eventID: `${id('E7')}|${id('E1')}` }, false)).toEqual(['E1', 'E7']);
  });

  it('MATCH_epc finds a unit by its key, whichever spelling the events and the query use', async () => {
    expect(await query({ MATCH_epc: urn(1) }, false)).toEqual(['E1', 'E3']);
    expect(await query({ MATCH_epc: dl(1) }, false)).toEqual(['E1', 'E3']);
    // captured as a Digital Link, asked for as a URN
    expect(await query({ MATCH_epc: urn(3) }, false)).toEqual(['E2', 'E5']);
    // an input is not in epcList or childEPCs
    expect(await query({ MATCH_epc: urn(2) }, false)).toEqual(['E1', 'E3']);
    expect(await query({ MATCH_epc: grai }, false)).toEqual(['E7']);
  });

  it('MATCH_parentID, MATCH_inputEPC, MATCH_outputEPC and MATCH_anyEPC', async () => {
    expect(await query({ MATCH_parentID: formatSsccDigitalLink(caseSscc) }, false)).toEqual(['E3']);
    expect(await query({ MATCH_anyEPC: formatSsccUrn(caseSscc) }, false)).toEqual(['E3', 'E4']);
    expect(await query({ MATCH_inputEPC: urn(2) }, false)).toEqual(['E6']);
    expect(await query({ MATCH_outputEPC: dl(5) }, false)).toEqual(['E6']);
    expect(await query({ MATCH_anyEPC: `${urn(2)}|${grai}` }, false)).toEqual(['E1', 'E3', 'E6', 'E7']);
  });

  it('EQ_ILMD_cbvmda:lotNumber (and EQ_ILMD_lotNumber): the lot of the event’s ilmd', async () => {
    expect(await query({ 'EQ_ILMD_cbvmda:lotNumber': LOT_A })).toEqual(['E1']);
    expect(await query({ EQ_ILMD_lotNumber: `${LOT_A}|${LOT_B}` })).toEqual(['E1', 'E2']);
  });

  it('every parameter given must match (AND); the values of one, any (OR)', async () => {
    expect(await query({ EQ_bizStep: 'commissioning|decommissioning', MATCH_epc: urn(3) })).toEqual(['E2', 'E5']);
    expect(await query({ EQ_bizStep: 'commissioning', MATCH_epc: urn(3) })).toEqual(['E2']);
    expect(await query({ EQ_bizStep: 'packing', MATCH_epc: urn(3) })).toEqual([]);
  });

  it('pages perPage at a time through the Link header, to the last page, which has none', async () => {
    const seen: string[] = [];
    let url: string | null =
      `/epcis/events?GE_eventTime=${encodeURIComponent(WINDOW.GE_eventTime)}&LT_eventTime=${encodeURIComponent(WINDOW.LT_eventTime)}&perPage=2`;
    let pages = 0;
    while (url) {
      const res = await request(stack.app).get(url).set(bearer(auditor)).expect(200);
      seen.push(...names(eventIdsOf(res.body)));
      url = nextLink(res.headers);
      pages++;
    }
    expect({ pages, seen }).toEqual({ pages: 4, seen: ['E1', 'E2', 'E3', 'E4', 'E5', 'E6', 'E7'] });
  });
});

describe('an event retracted by an error declaration', () => {
  beforeAll(async () => {
    await capture(stack.app, [
      {
        ...E.E4,
        errorDeclaration: { declarationTime: `${year}-03-01T12:00:00Z`, reason: 'incorrect_data', correctiveEventIDs: [id('E7')] },
      },
    ]);
  });

  it('carries the declaration, and EXISTS_errorDeclaration finds it', async () => {
    const res = await request(stack.app)
      .get(`/epcis/events/${encodeURIComponent(id('E4'))}`)
      .set(bearer(auditor))
      .expect(200);
    expect(eventsOf(res.body)[0]).toMatchObject({
      eventID: id('E4'),
      errorDeclaration: { reason: 'incorrect_data', correctiveEventIDs: [id('E7')] },
    });
    expect(await query({ EXISTS_errorDeclaration: '' })).toEqual(['E4']);
  });
});

describe('GET /epcis/epcs/{epc}/events and GET /epcis/events/{eventID}', () => {
  it('gives the events naming the identifier in any role, the query parameters further filtering', async () => {
    const events = await request(stack.app)
      .get(`/epcis/epcs/${encodeURIComponent(dl(2))}/events`)
      .set(bearer(auditor))
      .expect(200);
    expect(names(eventIdsOf(events.body))).toEqual(['E1', 'E3', 'E6']);
    const packing = await request(stack.app)
      .get(`/epcis/epcs/${encodeURIComponent(urn(2))}/events`)
      .query({ EQ_bizStep: 'packing' })
      .set(bearer(auditor))
      .expect(200);
    expect(names(eventIdsOf(packing.body))).toEqual(['E3']);
  });

  it('answers 404 NoSuchResourceException for an identifier or an event never captured', async () => {
    for (const path of [`/epcis/epcs/${encodeURIComponent(urn(99))}/events`, `/epcis/events/${encodeURIComponent(id('nothing'))}`]) {
      const res = await request(stack.app).get(path).set(bearer(auditor)).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toBe('epcisException:NoSuchResourceException');
    }
  });
});

describe('a unit commissioned and packed more than twice (a duplicate serial: the summary capture keeps stops at two)', () => {
  const later = (name: string, minute: number, fields: Record<string, unknown>) => ({
    eventID: id(name),
    eventTime: `${year}-03-02T10:${String(minute).padStart(2, '0')}:00Z`,
    eventTimeZoneOffset: '+00:00',
    ...fields,
  });
  const commission = (name: string, minute: number, lot: string) =>
    later(name, minute, {
      type: 'ObjectEvent',
      action: 'ADD',
      bizStep: 'commissioning',
      epcList: [urn(7)],
      ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2030-01-31' },
    });
  const pack = (name: string, minute: number, n: number) =>
    later(name, minute, {
      type: 'AggregationEvent',
      action: 'ADD',
      bizStep: 'packing',
      parentID: formatSsccUrn(ssccOf(0, (Number(caseSscc.slice(8, 17)) + n) % 1e9)),
      childEPCs: [dl(7)],
    });

  beforeAll(async () => {
    // Three captures, so the summary of the unit is updated three times.
    await capture(stack.app, [commission('D1', 1, LOT_A), pack('P1', 4, 1)]);
    await capture(stack.app, [commission('D2', 2, LOT_A), pack('P2', 5, 2)]);
    await capture(stack.app, [commission('D3', 3, LOT_B), pack('P3', 6, 3)]);
  });

  it('finds every commissioning and every packing of it all the same', async () => {
    expect(await query({ MATCH_epc: urn(7) }, false)).toEqual(['D1', 'P1', 'D2', 'P2', 'D3', 'P3']);
    expect(await query({ MATCH_epc: dl(7), EQ_bizStep: 'packing' }, false)).toEqual(['P1', 'P2', 'P3']);
  });
});

describe('bad parameters are refused: 400 QueryParameterException naming each', () => {
  const badCheckDigit = `https://id.gs1.org/01/${gtin.slice(0, 13)}${(Number(gtin[13]) + 1) % 10}/21/X1`;
  const cases: Array<[string, Record<string, string> | string, RegExp]> = [
    ['an unknown parameter', { EQ_bizstep: 'shipping' }, /EQ_bizstep/],
    ['an unknown event type', { eventType: 'QuantityEvent' }, /ObjectEvent/],
    ['a time that is not one', { GE_eventTime: 'yesterday' }, /GE_eventTime/],
    ['perPage 0', { perPage: '0' }, /perPage/],
    ['perPage over the limit', { perPage: '1001' }, /perPage/],
    ['perPage not a number', { perPage: 'ten' }, /perPage/],
    ['an SGTIN with a wrong check digit', { MATCH_epc: badCheckDigit }, /check digit/],
    ['an EPC pattern', { MATCH_epc: 'urn:epc:idpat:sgtin:4012345.011111.*' }, /pattern/],
    ['a class where an instance is asked for', { MATCH_anyEPC: 'urn:epc:class:lgtin:4012345.011111.L1' }, /class/],
    ['something that is not a URI', { EQ_bizLocation: 'nowhere' }, /URI/],
    ['an empty value in a list', { EQ_bizStep: 'shipping||receiving' }, /empty value/],
    ['a parameter given twice (lists are pipe-delimited)', 'EQ_bizStep=shipping&EQ_bizStep=receiving', /EQ_bizStep/],
    ['too many values', { MATCH_anyEPC: Array.from({ length: 101 }, (_, i) => urn(i)).join('|') }, /at most 100/],
    ['a lot too long', { EQ_ILMD_lotNumber: 'L'.repeat(21) }, /1 to 20 characters/],
    ['EXISTS_errorDeclaration=false', { EXISTS_errorDeclaration: 'false' }, /EXISTS_errorDeclaration/],
    ['a page token this server never issued', { nextPageToken: 'bm90LWEtdG9rZW4' }, /nextPageToken/],
    ['a page token of another form', { nextPageToken: 'a.b' }, /nextPageToken/],
  ];
  it.each(cases)('%s', async (_name, params, named) => {
    const res = await request(stack.app).get('/epcis/events').query(params).set(bearer(auditor));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.type).toBe('epcisException:QueryParameterException');
    expect(JSON.stringify(res.body.errors)).toMatch(named);
  });

  it('refuses a page token issued for another query', async () => {
    const first = await request(stack.app)
      .get('/epcis/events')
      .query({ ...WINDOW, perPage: '1' })
      .set(bearer(auditor))
      .expect(200);
    const token = new URL(nextLink(first.headers)!, 'http://x').searchParams.get('nextPageToken')!;
    const res = await request(stack.app)
      .get('/epcis/events')
      .query({ ...WINDOW, EQ_bizStep: 'shipping', perPage: '1', nextPageToken: token })
      .set(bearer(auditor))
      .expect(400);
    expect(res.body.detail).toMatch(/another query/);
    // (the same token, with its own query and another page size, goes on)
    await request(stack.app)
      .get('/epcis/events')
      .query({ ...WINDOW, perPage: '3', nextPageToken: token })
      .set(bearer(auditor))
      .expect(200);
  });

  it('refuses an identifier in the path that is not one', async () => {
    const res = await request(stack.app)
      .get(`/epcis/epcs/${encodeURIComponent('urn:epc:id:sgtin:4012345.011111')}/events`)
      .set(bearer(auditor));
    expect(res.status).toBe(400);
    expect(res.body.type).toBe('epcisException:QueryParameterException');
  });
});

describe('who may read', () => {
  it('people of every reader role and integration clients; nobody unauthenticated', async () => {
    const qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
    const integration = await createApiKey(stack.pool, { roles: ['integration'] });
    await request(stack.app).get('/epcis/events').query(WINDOW).set(bearer(qaLead.token)).expect(200);
    await request(stack.app).get('/epcis/events').query(WINDOW).set('X-API-Key', integration.key).expect(200);
    await request(stack.app).get('/epcis/events').query(WINDOW).set('X-API-Key', CAPTURE_KEY).expect(200);
    const anonymous = await request(stack.app).get('/epcis/events').query(WINDOW).expect(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(stack.app)
      .get(`/epcis/events/${encodeURIComponent(id('E1'))}`)
      .expect(401);
  });
});
