import { createHash } from 'node:crypto';
import request from 'supertest';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from './helpers';
import { formatSsccUrn, withCheckDigit } from '../../domain/gs1';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY, MAX_BODY_BYTES: '20000' }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = Date.now().toString(36).toUpperCase();
const sgtin = (i: number) => `urn:epc:id:sgtin:4012345.011111.${tag}${i}`;
const doc = (events: unknown[]) => epcisDocument(events);
const commissioning = (id: string, epcs: string[], lot = `L${tag}`) => ({
  type: 'ObjectEvent',
  eventID: id,
  eventTime: '2026-11-23T06:00:00Z',
  eventTimeZoneOffset: '+00:00',
  action: 'ADD',
  bizStep: 'commissioning',
  epcList: epcs,
  ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
});
const capture = (body: unknown, key = CAPTURE_KEY) =>
  request(stack.app).post('/epcis/capture').set('Content-Type', 'application/ld+json').set('X-API-Key', key).send(JSON.stringify(body));
// This file's events only: the conformance suite captures into the same database at the same time.
const eventCount = async () =>
  Number((await stack.pool.query('SELECT count(*) FROM epcis_events WHERE event_id LIKE $1', [`urn:uuid:${tag}-%`])).rows[0].count);

describe('POST /epcis/capture', () => {
  it('stores a valid document (202, Location of the capture job) and creates the batch from ilmd', async () => {
    const res = await capture(doc([commissioning(`urn:uuid:${tag}-1`, [sgtin(1), sgtin(2)])])).expect(202);
    expect(res.headers.location).toMatch(/^\/epcis\/capture\/C\d+$/);
    expect(res.headers['gs1-epcis-version']).toBe('2.0.0');
    expect(res.body).toMatchObject({ success: true, events: 1, newEvents: 1 });
    const job = await request(stack.app).get(res.headers.location!).set('X-API-Key', CAPTURE_KEY).expect(200);
    expect(job.body.captureID).toBe(res.body.captureID);
    const { rows } = await stack.pool.query(`SELECT source, expiry::text FROM batches WHERE lot = $1`, [`L${tag}`]);
    expect(rows).toEqual([{ source: 'epcis', expiry: '2028-11-30' }]);
    // Batches, documents and events are permanent records (units, events and identifier lists name
    // them): the database refuses to delete them. (Inside a transaction rolled back whatever happens:
    // the database is shared with other suites; for the same reason TRUNCATE, which would lock the
    // tables under them, is not tried here.)
    const client = await stack.pool.connect();
    try {
      for (const sql of [
        ['DELETE FROM batches WHERE lot = $1', [`L${tag}`]],
        ['DELETE FROM epcis_events WHERE event_id = $1', [`urn:uuid:${tag}-1`]],
        ['DELETE FROM epcis_documents WHERE id = $1', [res.body.captureID.slice(1)]],
      ] as const) {
        await client.query('BEGIN');
        await expect(client.query(sql[0], [...sql[1]])).rejects.toThrow(/permanent records: DELETE refused/);
        await client.query('ROLLBACK');
      }
    } finally {
      client.release();
    }
    expect(await eventCount()).toBe(1);
  });

  it("keeps each unit's current state: the latest event's status, the latest aggregation's parent, never rolled back by a late document", async () => {
    const gtin = withCheckDigit('0401234511111');
    const caseId = withCheckDigit(`0401234599${String(Date.now() % 1e7).padStart(7, '0')}`);
    const at = (minute: number) => `2026-11-23T07:${String(minute).padStart(2, '0')}:00Z`;
    const event = (id: string, minute: number, fields: Record<string, unknown>) => ({
      eventID: `urn:uuid:${tag}-state-${id}`,
      eventTime: at(minute),
      eventTimeZoneOffset: '+00:00',
      ...fields,
    });
    const units = [sgtin(71), sgtin(72)];
    await capture(
      doc([
        { ...commissioning(`urn:uuid:${tag}-state-c`, units), eventTime: at(0) },
        event('p', 1, { type: 'AggregationEvent', action: 'ADD', bizStep: 'packing', parentID: formatSsccUrn(caseId), childEPCs: units }),
        event('s', 2, { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'shipping', epcList: [units[0]] }),
      ]),
    ).expect(202);
    // A document arriving late, about something that happened before the packing: no effect on the state.
    await capture(doc([event('late', 0, { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'inspecting', epcList: [units[1]] })])).expect(
      202,
    );
    const state = async () =>
      (
        await stack.pool.query(
          `SELECT serial, status, parent_sscc FROM serialized_items WHERE gtin = $1 AND serial = ANY ($2) ORDER BY serial`,
          [gtin, [`${tag}71`, `${tag}72`]],
        )
      ).rows;
    expect(await state()).toEqual([
      { serial: `${tag}71`, status: 'shipped', parent_sscc: caseId },
      { serial: `${tag}72`, status: 'packed', parent_sscc: caseId },
    ]);
    await capture(
      doc([
        event('u', 3, {
          type: 'AggregationEvent',
          action: 'DELETE',
          bizStep: 'unpacking',
          parentID: formatSsccUrn(caseId),
          childEPCs: [units[1]],
        }),
      ]),
    ).expect(202);
    expect((await state())[1]).toEqual({ serial: `${tag}72`, status: 'unpacked', parent_sscc: null });
  });

  it('does not apply an event ID twice', async () => {
    const before = await eventCount();
    const res = await capture(
      doc([commissioning(`urn:uuid:${tag}-1`, [sgtin(1), sgtin(2)]), commissioning(`urn:uuid:${tag}-2`, [sgtin(3)])]),
    ).expect(202);
    expect(res.body).toMatchObject({ events: 2, newEvents: 1 });
    expect(await eventCount()).toBe(before + 1);
  });

  it('applies an event ID named twice in one document once, where it first appears, and numbers events in document order', async () => {
    // (IDs that sort the other way round from the events' positions: capture inserts in ID order)
    const [early, late] = [`urn:uuid:${tag}-9b`, `urn:uuid:${tag}-9a`];
    const res = await capture(
      doc([commissioning(early, [sgtin(91)]), commissioning(late, [sgtin(93)]), commissioning(early, [sgtin(92)])]),
    ).expect(202);
    expect(res.body).toMatchObject({ events: 3, newEvents: 2 });
    // (ordered by id: ids still follow the document, as reconciliation's "first commissioning" expects)
    const { rows } = await stack.pool.query('SELECT event_id, event_index FROM epcis_events WHERE event_id = ANY ($1) ORDER BY id', [
      [early, late],
    ]);
    expect(rows).toEqual([
      { event_id: early, event_index: 0 },
      { event_id: late, event_index: 1 },
    ]);
    const { rows: units } = await stack.pool.query(
      'SELECT serial FROM serialized_items WHERE gtin = $1 AND serial = ANY ($2) ORDER BY serial',
      ['04012345111118', [`${tag}91`, `${tag}92`, `${tag}93`]],
    );
    expect(units.map((u) => u.serial)).toEqual([`${tag}91`, `${tag}93`]);
  });

  it('refuses a bad document whole with every problem (event index, field, reason) and stores nothing', async () => {
    const before = await eventCount();
    const res = await capture(
      doc([
        commissioning(`urn:uuid:${tag}-3`, [sgtin(4)]),
        { ...commissioning(`urn:uuid:${tag}-4`, ['urn:epc:id:sgtin:4012345.011111.bad~serial']) },
        { ...commissioning(`urn:uuid:${tag}-5`, [sgtin(5)]), action: 'MOVE' },
        { ...commissioning(`urn:uuid:${tag}-6`, ['https://id.gs1.org/01/04012345111112/21/X1']) },
        'not an event',
        // refused by the schema and by its GTIN's check digit: both are listed
        { ...commissioning(`urn:uuid:${tag}-7`, ['https://id.gs1.org/01/04012345111112/21/X2']), action: 'MOVE' },
        // refused by the schema (not an object) and by the GTIN rules (no lot): listed once
        { ...commissioning(`urn:uuid:${tag}-8`, [sgtin(6)]), ilmd: 'x' },
      ]),
    ).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const where = res.body.errors.map((e: { eventIndex: number; field: string }) => `${e.eventIndex}:${e.field}`);
    expect(where).toEqual(expect.arrayContaining(['1:epcList[0]', '2:action', '3:epcList[0]', '4:(event)', '5:action', '5:epcList[0]']));
    expect(where.filter((w: string) => w === '5:epcList[0]')).toHaveLength(1);
    expect(where.filter((w: string) => w === '6:ilmd')).toHaveLength(1);
    expect(res.body.errors.some((e: { eventIndex: number }) => e.eventIndex === 0)).toBe(false);
    expect(res.body.totalProblems).toBe(res.body.errors.length);
    expect(await eventCount()).toBe(before);
  });

  it('refuses malformed JSON, a wrong media type, a missing key and a body past the limit', async () => {
    const malformed = await request(stack.app)
      .post('/epcis/capture')
      .set('Content-Type', 'application/json')
      .set('X-API-Key', CAPTURE_KEY)
      .send('{"type":"EPCISDocument","epcisBody":{"eventList":[{"a":1}')
      .expect(400);
    expect(malformed.headers['content-type']).toMatch(/problem\+json/);
    await request(stack.app).post('/epcis/capture').set('Content-Type', 'text/plain').set('X-API-Key', CAPTURE_KEY).send('x').expect(415);
    await request(stack.app).post('/epcis/capture').set('Content-Type', 'application/json').send('{}').expect(401);
    await capture(doc([]), 'wrong-key-wrong-key-wrong').expect(401);
    const big = doc(Array.from({ length: 200 }, (_, i) => commissioning(`urn:uuid:${tag}-big-${i}`, [sgtin(1000 + i)])));
    const res = await capture(big).expect(413);
    expect(res.body.type).toBe('epcisException:CaptureLimitExceededException');
  });

  it('keeps the document verbatim: the bytes sent, with their SHA-256, compressed with LZ4', async () => {
    // Pretty-printed, with non-ASCII text in an extension field: nothing may be normalised away.
    const events = Array.from({ length: 20 }, (_, i) => ({
      ...commissioning(`urn:uuid:${tag}-verbatim-${i}`, [sgtin(100 + i)]),
      'ex:note': 'Prüfung – Linie 3',
    }));
    const text = `${JSON.stringify({ ...doc(events), '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { ex: 'https://example.com/ex/' }] }, null, 2)}\n`;
    const res = await request(stack.app)
      .post('/epcis/capture')
      .set('Content-Type', 'application/ld+json')
      .set('X-API-Key', CAPTURE_KEY)
      .send(text)
      .expect(202);
    const { rows } = await stack.pool.query<{ body: string; sha256: string; bytes: number; compression: string }>(
      'SELECT body, sha256, bytes, pg_column_compression(body) AS compression FROM epcis_documents WHERE id = $1',
      [res.body.captureID.slice(1)],
    );
    expect(rows[0]!.body).toBe(text);
    expect(rows[0]!.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(Number(rows[0]!.bytes)).toBe(Buffer.byteLength(text));
    expect(rows[0]!.compression).toBe('lz4');
  });

  it('refuses a document broken between its events or cut short, saying where, and stores nothing', async () => {
    const before = await eventCount();
    const whole = JSON.stringify(
      doc([commissioning(`urn:uuid:${tag}-broken-1`, [sgtin(30)]), commissioning(`urn:uuid:${tag}-broken-2`, [sgtin(31)])]),
    );
    const noComma = whole.replace('},{"type"', '} {"type"');
    const send = (text: string) =>
      request(stack.app)
        .post('/epcis/capture')
        .set('Content-Type', 'application/ld+json')
        .set('X-API-Key', CAPTURE_KEY)
        .send(text)
        .expect(400);
    const broken = await send(noComma);
    expect(broken.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(broken.body.detail).toBe(
      `The body is not a well-formed EPCIS document: a missing comma between elements of the event list (byte ${noComma.indexOf(' {"type"') + 1}).`,
    );
    expect(broken.body.errors).toEqual([{ field: '(document)', reason: 'a missing comma between elements of the event list' }]);
    const cut = await send(whole.slice(0, -3));
    expect(cut.body.detail).toBe(
      `The body is not a well-formed EPCIS document: the body ends before it is complete (byte ${whole.length - 3}).`,
    );
    expect(await eventCount()).toBe(before);
  });

  it('refuses a repository report past the size limit (413), declared or streamed', async () => {
    const serials = Array.from({ length: 3000 }, (_, i) => `S${i}`);
    const body = JSON.stringify({ target: 'EMVS', reportedAt: '2026-01-02T00:00:00Z', serials });
    const res = await request(stack.app)
      .post('/batches/ANY-LOT/repository-reports')
      .set('X-API-Key', CAPTURE_KEY)
      .set('Content-Type', 'application/json')
      .send(body)
      .expect(413);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });

  it('keeps every identifier as captured: URNs with percent-encoded serials, Digital Links, SSCCs, other URIs', async () => {
    const sscc = withCheckDigit('04012345000000017');
    const spelled = [sgtin(10), `urn:epc:id:sgtin:4012345.011111.${tag}%22A,B%25`, `https://id.gs1.org/01/04012345111118/21/${tag}DL'1`];
    await capture(doc([commissioning(`urn:uuid:${tag}-lists`, spelled)])).expect(202);
    const packed = {
      type: 'AggregationEvent',
      eventID: `urn:uuid:${tag}-lists-pack`,
      eventTime: '2026-11-23T06:05:00Z',
      eventTimeZoneOffset: '+00:00',
      action: 'ADD',
      bizStep: 'packing',
      parentID: formatSsccUrn(sscc),
      childEPCs: [...spelled, 'urn:example:not-gs1:1'],
    };
    await capture(doc([packed])).expect(202);
    const { rows } = await stack.pool.query<{ role: string; kind: string; epc: string; key: string | null }>(
      `SELECT l.role, l.kind, COALESCE(l.epc_prefix || k.key, k.epc) AS epc, k.key
         FROM epcis_event_identifiers l JOIN epcis_events e ON e.id = l.event_pk
        CROSS JOIN LATERAL unnest(l.keys, l.epcs) AS k(key, epc)
        WHERE e.event_id LIKE $1 ORDER BY l.role, epc`,
      [`urn:uuid:${tag}-lists%`],
    );
    const named = (role: string) =>
      rows
        .filter((r) => r.role === role)
        .map((r) => r.epc)
        .sort();
    expect(named('epc')).toEqual([...spelled].sort());
    expect(named('child')).toEqual([...spelled, 'urn:example:not-gs1:1'].sort());
    expect(rows.find((r) => r.role === 'parent')).toMatchObject({ kind: 'sscc', epc: formatSsccUrn(sscc), key: sscc });
    expect(
      rows
        .filter((r) => r.role === 'epc')
        .map((r) => r.key)
        .sort(),
    ).toEqual([`${tag}10`, `${tag}"A,B%`, `${tag}DL'1`].sort());
  });

  it('refuses, with their reasons and nothing stored, values the schema allows but the database cannot hold; takes a leap second', async () => {
    const before = await eventCount();
    const at = (i: number, more: Record<string, unknown>) => ({
      ...commissioning(`urn:uuid:${tag}-store-${i}`, [sgtin(300 + i)]),
      ...more,
    });
    const res = await capture(
      doc([
        at(0, { eventTime: '2020-12-31T23:59:60Z' }),
        at(1, { eventTime: '0000-06-01T00:00:00Z' }),
        at(2, { eventTime: '2026-11-23T06:00:00+16:00' }),
        at(3, { 'ex:note': 'a\u0000b' }),
        at(4, { 'ex:reading': { values: ['ok', '\ud800'] } }),
        at(5, { ilmd: { 'cbvmda:lotNumber': `L${tag}`, 'cbvmda:itemExpirationDate': '0000-12-31' } }),
      ]),
    ).expect(400);
    expect(res.body.errors.map((e: { eventIndex: number; field: string; reason: string }) => [e.eventIndex, e.field, e.reason])).toEqual([
      [1, 'eventTime', expect.stringContaining('year 0000')],
      [2, 'eventTime', expect.stringContaining('UTC offset of 16 hours')],
      [3, 'ex:note', expect.stringContaining('U+0000 or an unpaired surrogate')],
      [4, 'ex:reading.values[1]', expect.stringContaining('U+0000 or an unpaired surrogate')],
      [5, 'ilmd.itemExpirationDate', expect.stringContaining('year 0000')],
    ]);
    expect(await eventCount()).toBe(before);
    // The leap second alone is stored (PostgreSQL reads 23:59:60 as the next minute's start).
    await capture(doc([at(0, { eventTime: '2020-12-31T23:59:60Z' })])).expect(202);
    const { rows } = await stack.pool.query(`SELECT event_time FROM epcis_events WHERE event_id = $1`, [`urn:uuid:${tag}-store-0`]);
    expect(rows.map((r) => (r.event_time as Date).toISOString())).toEqual(['2021-01-01T00:00:00.000Z']);
  });

  it('reads a Digital Link with a consumer product variant (AI 22) as the SGTIN it names, and checks it', async () => {
    const link = `https://id.gs1.org/01/04012345111118/22/2A/21/${tag}CPV1`;
    await capture(doc([commissioning(`urn:uuid:${tag}-cpv`, [link])])).expect(202);
    const { rows } = await stack.pool.query(
      `SELECT si.status, b.lot FROM serialized_items si JOIN batches b ON b.id = si.batch_id WHERE si.gtin = $1 AND si.serial = $2`,
      ['04012345111118', `${tag}CPV1`],
    );
    expect(rows).toEqual([{ status: 'commissioned', lot: `L${tag}` }]);
    const wrong = await capture(
      doc([commissioning(`urn:uuid:${tag}-cpv-bad`, [`https://id.gs1.org/01/04012345111119/22/2A/21/${tag}CPV2`])]),
    ).expect(400);
    expect(wrong.body.errors).toEqual([{ eventIndex: 0, field: 'epcList[0]', reason: expect.stringContaining('check digit') }]);
    // Qualifiers out of order are refused too, not stored as some other URI.
    const disordered = await capture(
      doc([commissioning(`urn:uuid:${tag}-cpv-order`, [`https://id.gs1.org/01/04012345111118/10/L1/22/2A/21/${tag}CPV3`])]),
    ).expect(400);
    expect(disordered.body.errors).toEqual([{ eventIndex: 0, field: 'epcList[0]', reason: expect.stringContaining('order 22, 10, 21') }]);
  });

  it('refuses a batch or repository report dated in the year 0000, and a report naming another GTIN than its query, storing nothing', async () => {
    const gtin = withCheckDigit('0401234533333');
    const other = withCheckDigit('0401234533334');
    const lot = `M${tag}`;
    const post = (path: string, body: object) => request(stack.app).post(path).set('X-API-Key', CAPTURE_KEY).send(body);
    await post('/products', { gtin, name: 'Year check', unitsPerCase: 10, casesPerPallet: 5, aggregationRequired: true }).expect(201);
    const batch = { lot, gtin, expiry: '0000-12-31', plannedQuantity: 10, line: 'L1' };
    const refusedBatch = await post('/batches', batch).expect(400);
    expect(refusedBatch.body.errors).toEqual([{ path: 'expiry', message: expect.stringContaining('year 0000') }]);
    expect((await stack.pool.query('SELECT 1 FROM batches WHERE lot = $1', [lot])).rows).toEqual([]);
    await post('/batches', { ...batch, expiry: '2028-12-31' }).expect(201);

    const reports = `/batches/${lot}/repository-reports?gtin=${gtin}`;
    const report = { target: 'EMVS', reportedAt: '2026-11-23T09:00:00Z', serials: [`${tag}R1`] };
    const yearZero = await post(reports, { ...report, reportedAt: '0000-01-01T00:00:00Z' }).expect(400);
    expect(yearZero.body.errors).toEqual([{ path: 'reportedAt', message: expect.stringContaining('year 0000') }]);
    const twoGtins = await post(reports, { ...report, gtin: other }).expect(400);
    expect(twoGtins.body.errors).toEqual([{ path: 'gtin', message: `must be ${gtin}` }]);
    const stored = await stack.pool.query(
      'SELECT count(*)::int AS n FROM repository_reports r JOIN batches b ON b.id = r.batch_id WHERE b.lot = $1',
      [lot],
    );
    expect(stored.rows).toEqual([{ n: 0 }]);
    await post(reports, { ...report, gtin }).expect(201);
  });
});
