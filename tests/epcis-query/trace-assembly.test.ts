import { identifierKeyOf } from '../../domain/epcis-query';
import { assembleTrace, containmentIntervals, indexMentions, type Mention, type TraceEvent, type TraceFacts } from '../../domain/trace';
import { declaredTerms, decodePageToken, encodePageToken, filterFingerprint } from '../../epcis/query';

/** The rules of the trace and of the query's tokens and contexts, without a database. */

const t = (hour: number) => `2031-01-01T${String(hour).padStart(2, '0')}:00:00.000000Z`;
let pk = 0;
function event(fields: Partial<TraceEvent> & { hour: number }): TraceEvent {
  const { hour, ...rest } = fields;
  pk++;
  return {
    pk: String(pk),
    eventId: `e${pk}`,
    type: 'AggregationEvent',
    action: 'ADD',
    bizStep: null,
    disposition: null,
    eventTime: t(hour),
    eventTimeZoneOffset: '+00:00',
    readPoint: null,
    bizLocation: null,
    lot: null,
    expiry: null,
    retracted: false,
    errorDeclaration: null,
    sources: [],
    destinations: [],
    bizTransactions: [],
    childCount: 1,
    ...rest,
  };
}
const child = (node: string, e: TraceEvent, parent: string): Mention => ({ node, eventPk: e.pk, role: 'child', parent, spelling: null });
const asParent = (node: string, e: TraceEvent): Mention => ({ node, eventPk: e.pk, role: 'parent', parent: null, spelling: null });
const byPk = (events: TraceEvent[]) => new Map(events.map((e) => [e.pk, e]));
const span = (i: { parent: string; from: string | null; until: string | null }) => [i.parent, i.from, i.until];

describe('containment intervals', () => {
  it('opens at packing and closes at unpacking; packing into another package takes the child out of the first', () => {
    const packA = event({ hour: 1 });
    const packB = event({ hour: 3 }); // no unpacking from A was captured
    const unpackB = event({ hour: 5, action: 'DELETE' });
    const events = [packA, packB, unpackB];
    const mentions = [child('u', packA, 'A'), child('u', packB, 'B'), child('u', unpackB, 'B')];
    expect(containmentIntervals('u', indexMentions(mentions), byPk(events)).map(span)).toEqual([
      ['A', t(1), t(3)],
      ['B', t(3), t(5)],
    ]);
  });

  it('an unpacking naming no children empties the package; an unpacking never packed is kept, from unknown', () => {
    const pack = event({ hour: 1 });
    const emptyAll = event({ hour: 2, action: 'DELETE', childCount: 0 });
    const unpackOther = event({ hour: 4, action: 'DELETE' });
    const mentions = [child('u', pack, 'A'), asParent('A', emptyAll), child('u', unpackOther, 'B')];
    expect(containmentIntervals('u', indexMentions(mentions), byPk([pack, emptyAll, unpackOther])).map(span)).toEqual([
      ['A', t(1), t(2)],
      ['B', null, t(4)],
    ]);
  });

  it('ignores retracted events and observations', () => {
    const pack = event({ hour: 1 });
    const wrongUnpack = event({ hour: 2, action: 'DELETE', retracted: true });
    const observe = event({ hour: 3, action: 'OBSERVE' });
    const mentions = [child('u', pack, 'A'), child('u', wrongUnpack, 'A'), child('u', observe, 'A')];
    expect(containmentIntervals('u', indexMentions(mentions), byPk([pack, wrongUnpack, observe])).map(span)).toEqual([['A', t(1), null]]);
  });
});

describe('movements through packages', () => {
  function facts(events: TraceEvent[], mentions: Mention[]): TraceFacts {
    const key = identifierKeyOf('urn:epc:id:sgtin:4012345.011111.S1');
    if (!key.ok) throw new Error('key');
    return {
      input: 'urn:epc:id:sgtin:4012345.011111.S1',
      subject: key.key,
      mentions,
      events,
      unit: null,
      package: null,
      lots: [],
      holds: [],
      holdBreaches: [],
      containmentFlags: [],
      deviations: [],
      contentsTruncated: false,
    };
  }
  const unit = 'sgtin:04012345111118:S1';

  it('counts a pallet’s shipment for a unit only while the unit was in a case on that pallet', () => {
    const packCase = event({ hour: 1 });
    const packPallet = event({ hour: 2 });
    const shipped = event({ hour: 3, type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'shipping' });
    const unpackCase = event({ hour: 4, action: 'DELETE' });
    const shippedAgain = event({ hour: 5, type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'shipping', disposition: 'returned' });
    const mentions: Mention[] = [
      child(unit, packCase, 'sscc:C'),
      child('sscc:C', packPallet, 'sscc:P'),
      { node: 'sscc:P', eventPk: shipped.pk, role: 'epc', parent: null, spelling: 'P' },
      child(unit, unpackCase, 'sscc:C'),
      { node: 'sscc:P', eventPk: shippedAgain.pk, role: 'epc', parent: null, spelling: 'P' },
    ];
    const trace = assembleTrace(facts([packCase, packPallet, shipped, unpackCase, shippedAgain], mentions));
    expect(trace.movements.map((m) => [m.eventId, m.via, m.isReturn])).toEqual([[shipped.eventId, 'P', false]]);
    expect(trace.packedIn).toMatchObject([{ from: t(1), until: t(4), nested: [{ from: t(2), until: null }] }]);
  });
});

describe('page tokens and declared contexts', () => {
  const filter = { identifiers: [], bizSteps: ['shipping'] };

  it('a token carries its position back only to the query it was issued for', () => {
    const token = encodePageToken({ after: '12345', fingerprint: filterFingerprint(filter) });
    expect(decodePageToken(token, filter)).toEqual({ ok: true, after: '12345' });
    expect(decodePageToken(token, { identifiers: [], bizSteps: ['receiving'] })).toMatchObject({ ok: false, reason: /another query/ });
    for (const forged of ['', 'x', Buffer.from('[1,"-5","a"]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')])
      expect(decodePageToken(forged, filter)).toMatchObject({ ok: false });
  });

  it('reads the namespace prefixes of a document’s @context from its beginning, even cut short after it', () => {
    const doc = JSON.stringify({
      '@context': [
        'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld',
        { example: 'http://ns.example.com/epcis/', e2: 'urn:x:' },
      ],
      type: 'EPCISDocument',
      epcisBody: { eventList: [{ '@context': { not: 'this' } }] },
    });
    expect(declaredTerms(doc.slice(0, doc.indexOf('epcisBody') + 20))).toEqual({ example: 'http://ns.example.com/epcis/', e2: 'urn:x:' });
    expect(declaredTerms(doc.slice(0, 40))).toEqual({});
    // (not the first member: found all the same; nested @context members are not the document's)
    expect(declaredTerms(JSON.stringify({ type: 'EPCISDocument', epcisBody: { '@context': { a: 'b' } }, '@context': { c: 'd' } }))).toEqual(
      {
        c: 'd',
      },
    );
  });
});
