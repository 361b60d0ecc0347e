import request from 'supertest';
import { createHoldActivities } from '../../activities/holds';
import { traceShipments } from '../../activities/trace';
import { formatSgtinDigitalLink, formatSgtinUrn, formatSsccDigitalLink, formatSsccUrn } from '../../domain/gs1';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, createApiKey, signedInUser } from '../helpers/users';
import { capture, CAPTURE_KEY, gtinOf, ssccOf, testTag } from './helpers';

/**
 * GET /trace/{epc} for a unit, a case and a pallet that went through a whole journey, captured
 * through the API: commissioned, packed in a case, the case on a pallet, the pallet shipped,
 * received, returned, then the case taken off the pallet (and one unit out of the case) and shipped
 * alone. A hold on the lot, placed by containment's own activity while the goods were out, and the
 * deviation naming the lot appear in the trace; a shipment an error declaration retracted does not
 * count.
 */

let stack: TestStack;
let qa: string;
const tag = testTag();
const year = 2040 + Math.floor(Math.random() * 50);
const at = (hour: number, minute = 0) => `${year}-05-01T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.000000Z`;
const gtin = gtinOf(20000 + Math.floor(Math.random() * 70000));
const LOT = `T${tag}`.slice(0, 20);
const unit = (n: number) => formatSgtinUrn(gtin, `${tag}S${n}`);
const n = Math.floor(Math.random() * 1e8) * 10;
const [C1, C2, P] = [ssccOf(0, n + 1), ssccOf(0, n + 2), ssccOf(1, n + 3)];
const SITE = `urn:epc:id:sgln:4012345.00001.${tag}`;
const CUSTOMER = `urn:epc:id:sgln:0614141.00001.${tag}`;
const OTHER_CUSTOMER = `urn:epc:id:sgln:0614141.00002.${tag}`;
const DEVIATION = `DEV-${year}-${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;

const id = (name: string) => `urn:uuid:${tag}-${name}`;
const event = (name: string, hour: number, fields: Record<string, unknown>, minute = 0) => ({
  eventID: id(name),
  eventTime: at(hour, minute),
  eventTimeZoneOffset: '+00:00',
  ...fields,
});
const pack = (name: string, hour: number, parent: string, children: string[], action = 'ADD') =>
  event(name, hour, {
    type: 'AggregationEvent',
    action,
    bizStep: action === 'ADD' ? 'packing' : 'unpacking',
    parentID: parent,
    childEPCs: children,
  });
const move = (name: string, hour: number, epc: string, bizStep: string, disposition: string, from: string, to: string) =>
  event(name, hour, {
    type: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep,
    disposition,
    epcList: [epc],
    sourceList: [{ type: 'owning_party', source: from }],
    destinationList: [{ type: 'owning_party', destination: to }],
    bizTransactionList: [{ type: 'desadv', bizTransaction: `urn:epcglobal:cbv:bt:4012345000016:${tag}-${name}` }],
  });

const wrongShipment = move('wrong', 12, unit(4), 'shipping', 'in_transit', SITE, CUSTOMER);

beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  qa = (await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] })).token;
  await capture(stack.app, [
    event('commission', 1, {
      type: 'ObjectEvent',
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      epcList: [1, 2, 3, 4].map(unit),
      bizLocation: { id: SITE },
      ilmd: { 'cbvmda:lotNumber': LOT, 'cbvmda:itemExpirationDate': '2031-12-31' },
    }),
    pack('case1', 2, formatSsccUrn(C1), [unit(1), unit(2)]),
    pack('case2', 2, formatSsccUrn(C2), [unit(3), unit(4)]),
    pack('pallet', 3, formatSsccUrn(P), [formatSsccUrn(C1), formatSsccUrn(C2)]),
    move('ship', 4, formatSsccUrn(P), 'shipping', 'in_transit', SITE, CUSTOMER),
    move('receive', 5, formatSsccUrn(P), 'receiving', 'in_progress', SITE, CUSTOMER),
  ]);
  // QA holds the lot while the pallet is at the customer (containment's own activities).
  await stack.pool.query(
    `INSERT INTO deviations (id, title, symptom, severity, stage, batches, reported_by, detected_at, updated_at, version)
     VALUES ($1, 'Labels of lot checked after shipment', 'other', 'major', 'containment', $2, 'qa.lead', now(), now(), 1)`,
    [DEVIATION, [LOT]],
  );
  await createHoldActivities(stack.pool).placeHold({ deviationId: DEVIATION, lot: LOT, reason: 'Label check', placedBy: 'qa.lead' });
  await capture(stack.app, [
    move('return', 6, formatSsccUrn(P), 'shipping', 'returned', CUSTOMER, SITE),
    move('returned', 7, formatSsccUrn(P), 'receiving', 'returned', CUSTOMER, SITE),
    pack('depalletise', 8, formatSsccUrn(P), [formatSsccUrn(C1)], 'DELETE'),
    pack('unit2-out', 9, formatSsccUrn(C1), [unit(2)], 'DELETE'),
    move('reship', 10, formatSsccDigitalLink(C1), 'shipping', 'in_transit', SITE, OTHER_CUSTOMER),
    wrongShipment,
  ]);
  await capture(stack.app, [{ ...wrongShipment, errorDeclaration: { declarationTime: at(13), reason: 'incorrect_data' } }]);
  await traceShipments(stack.pool, DEVIATION, [LOT]);
});
afterAll(async () => {
  await stack.stop();
});

type Json = Record<string, unknown>;
const trace = async (epc: string, token = qa) =>
  (
    await request(stack.app)
      .get(`/trace/${encodeURIComponent(epc)}`)
      .set(bearer(token))
      .expect(200)
  ).body as Json;
const short = (eventId: unknown) => String(eventId).slice(id('').length);
const movementsOf = (t: Json) => (t.movements as Json[]).map((m) => [short(m.eventId), m.via, m.isReturn]);

describe('GET /trace/{epc}', () => {
  it('a unit: its commissioning, case and pallet at each time, every shipment and receipt with the parties, the hold and the deviation', async () => {
    const t = await trace(formatSgtinDigitalLink(gtin, `${tag}S1`));
    expect(t.subject).toMatchObject({ kind: 'sgtin', gtin, serial: `${tag}S1`, spellings: [unit(1)] });
    expect(t.commissioning).toEqual([
      expect.objectContaining({ eventId: id('commission'), lot: LOT, expiry: '2031-12-31', bizLocation: SITE }),
    ]);
    expect(t.packedIn).toEqual([
      {
        identifier: formatSsccUrn(C1),
        kind: 'sscc',
        from: at(2),
        until: null,
        packedBy: { eventId: id('case1'), eventTime: at(2) },
        unpackedBy: null,
        nested: [
          {
            identifier: formatSsccUrn(P),
            kind: 'sscc',
            from: at(3),
            until: at(8),
            packedBy: { eventId: id('pallet'), eventTime: at(3) },
            unpackedBy: { eventId: id('depalletise'), eventTime: at(8) },
            nested: [],
          },
        ],
      },
    ]);
    expect(movementsOf(t)).toEqual([
      ['ship', formatSsccUrn(P), false],
      ['receive', formatSsccUrn(P), false],
      ['return', formatSsccUrn(P), true],
      ['returned', formatSsccUrn(P), true],
      ['reship', formatSsccDigitalLink(C1), false],
    ]);
    const ship = (t.movements as Json[])[0]!;
    expect(ship).toMatchObject({
      bizStep: 'shipping',
      viaSubject: false,
      sources: [{ type: 'owning_party', id: SITE }],
      destinations: [{ type: 'owning_party', id: CUSTOMER }],
      bizTransactions: [{ type: 'desadv', id: expect.stringContaining(`${tag}-ship`) }],
    });
    expect((t.events as Json[]).map((e) => [short(e.eventId), e.role])).toEqual([
      ['commission', 'epc'],
      ['case1', 'child'],
    ]);
    expect(t.status).toMatchObject({ status: 'packed', currentParent: C1, onHold: true });
    expect(t.lots).toEqual([expect.objectContaining({ gtin, lot: LOT })]);
    expect(t.holds).toEqual([
      expect.objectContaining({ holdId: expect.stringMatching(/^H\d+$/), deviationId: DEVIATION, lot: LOT, open: true, disposition: null }),
    ]);
    // The pallet's return and the case's reshipment happened under the hold: capture recorded them as breaches.
    expect((t.holdBreaches as Json[]).map((b) => short(b.eventId))).toEqual(['return', 'returned', 'reship']);
    expect((t.containmentFlags as Json[]).map((f) => f.identifier).sort()).toEqual([C1, P].sort());
    expect(t.deviations).toEqual([expect.objectContaining({ id: DEVIATION, batches: [LOT] })]);
  });

  it('a unit taken out of its case before the case shipped alone: that shipment is not its', async () => {
    const t = await trace(unit(2));
    expect((t.packedIn as Json[])[0]).toMatchObject({ identifier: formatSsccUrn(C1), until: at(9) });
    expect(movementsOf(t).map(([name]) => name)).toEqual(['ship', 'receive', 'return', 'returned']);
  });

  it('a retracted shipment is listed, marked, and counts for nothing', async () => {
    const t = await trace(unit(4));
    expect((t.events as Json[]).find((e) => short(e.eventId) === 'wrong')).toMatchObject({
      retracted: true,
      errorDeclaration: { reason: 'incorrect_data' },
    });
    expect(movementsOf(t).map(([name]) => name)).toEqual(['ship', 'receive', 'return', 'returned']);
  });

  it('a pallet: what it held, case by case and unit by unit, at each time, and its own movements', async () => {
    const t = await trace(formatSsccUrn(P));
    expect(t.subject).toMatchObject({ kind: 'sscc', sscc: P });
    expect(t.status).toMatchObject({ level: 'pallet', status: 'unpacked', onHold: true });
    const contents = t.contents as Json[];
    expect(contents.map((c) => [c.identifier, c.from, c.until])).toEqual([
      [formatSsccUrn(C1), at(3), at(8)],
      [formatSsccUrn(C2), at(3), null],
    ]);
    expect((contents[0]!.nested as Json[]).map((u) => [u.identifier, u.from, u.until])).toEqual([
      [unit(1), at(2), null],
      [unit(2), at(2), at(9)],
    ]);
    expect((contents[1]!.nested as Json[]).map((u) => u.identifier)).toEqual([unit(3), unit(4)]);
    expect(t.contentsTruncated).toBe(false);
    expect(movementsOf(t)).toEqual([
      ['ship', formatSsccUrn(P), false],
      ['receive', formatSsccUrn(P), false],
      ['return', formatSsccUrn(P), true],
      ['returned', formatSsccUrn(P), true],
    ]);
    expect((t.movements as Json[]).every((m) => m.viaSubject === true)).toBe(true);
    expect(t.lots).toEqual([expect.objectContaining({ lot: LOT })]);
    expect(t.deviations).toEqual([expect.objectContaining({ id: DEVIATION })]);
  });

  it('a case, asked for as a Digital Link: the pallet it was on, what it held, and its own shipment after', async () => {
    const t = await trace(formatSsccDigitalLink(C1));
    expect((t.packedIn as Json[]).map((p) => [p.identifier, p.from, p.until])).toEqual([[formatSsccUrn(P), at(3), at(8)]]);
    expect((t.contents as Json[]).map((u) => u.identifier)).toEqual([unit(1), unit(2)]);
    expect(movementsOf(t)).toEqual([
      ['ship', formatSsccUrn(P), false],
      ['receive', formatSsccUrn(P), false],
      ['return', formatSsccUrn(P), true],
      ['returned', formatSsccUrn(P), true],
      ['reship', formatSsccDigitalLink(C1), false],
    ]);
    expect(t.status).toMatchObject({
      level: 'case',
      status: 'shipped',
      lastEvent: { eventId: id('reship'), bizStep: 'shipping', disposition: 'in_transit' },
    });
  });

  it('shows the hold released once QA disposes the batch', async () => {
    await createHoldActivities(stack.pool).disposeHold({
      deviationId: DEVIATION,
      lot: LOT,
      disposition: 'release',
      by: 'qa.head',
      reason: 'Labels correct',
    });
    const t = await trace(unit(1));
    expect(t.status).toMatchObject({ onHold: false });
    expect(t.holds).toEqual([expect.objectContaining({ open: false, disposition: 'release', disposedBy: 'qa.head' })]);
  });

  it('answers 404 for an identifier no event names, 400 for one that is not an identifier', async () => {
    const missing = await request(stack.app)
      .get(`/trace/${encodeURIComponent(unit(99))}`)
      .set(bearer(qa))
      .expect(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    const bad = await request(stack.app)
      .get(`/trace/${encodeURIComponent('urn:epc:id:sscc:4012345.1')}`)
      .set(bearer(qa))
      .expect(400);
    expect(bad.body.type).toBe('epcisException:QueryParameterException');
  });

  it('is read by people of the reader roles, not by machine clients', async () => {
    const auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
    await trace(unit(1), auditor.token);
    const integration = await createApiKey(stack.pool, { roles: ['integration'] });
    await request(stack.app)
      .get(`/trace/${encodeURIComponent(unit(1))}`)
      .set('X-API-Key', integration.key)
      .expect(403);
    await request(stack.app)
      .get(`/trace/${encodeURIComponent(unit(1))}`)
      .expect(401);
  });
});
