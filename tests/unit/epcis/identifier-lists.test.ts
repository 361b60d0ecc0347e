import fc from 'fast-check';
import { arrayLiteral, identifiersOf, toIdentifierLists } from '../../../epcis/identifier-lists';
import type { EpcRow } from '../../../epcis/normalise';
import { formatSgtinDigitalLink, formatSgtinUrn, formatSsccUrn } from '../../../domain/gs1';
import { cset82Text, gtin14, sscc18 } from '../gs1/arbitraries';

const sgtinRow = (epc: string, gtin: string, serial: string, over: Partial<EpcRow> = {}): EpcRow => ({
  role: 'epc',
  kind: 'sgtin',
  epc,
  gtin,
  serial,
  sscc: null,
  lot: 'L1',
  quantity: null,
  uom: null,
  parent: null,
  ...over,
});

const row = fc.oneof(
  fc
    .tuple(gtin14, cset82Text, fc.constantFrom<EpcRow['role']>('epc', 'child'))
    .map(([g, s, role]) => sgtinRow(formatSgtinUrn(g, s), g, s, { role })),
  fc.tuple(gtin14, cset82Text).map(([g, s]) => sgtinRow(formatSgtinDigitalLink(g, s), g, s, { lot: null })),
  sscc18.map((sscc): EpcRow => ({
    role: 'parent',
    kind: 'sscc',
    epc: formatSsccUrn(sscc),
    gtin: null,
    serial: null,
    sscc,
    lot: null,
    quantity: null,
    uom: null,
    parent: null,
  })),
  fc.webUrl().map((epc): EpcRow => ({
    role: 'epc',
    kind: 'other',
    epc,
    gtin: null,
    serial: null,
    sscc: null,
    lot: null,
    quantity: 2.5,
    uom: 'KGM',
    parent: null,
  })),
);

describe('identifier lists', () => {
  it('keep every identifier exactly as captured, in order within its list', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), (rows) => {
        const lists = toIdentifierLists(rows);
        expect(lists.flatMap(identifiersOf).sort()).toEqual(rows.map((r) => r.epc).sort());
        for (const l of lists) {
          const members = rows.filter(
            (r) => r.role === l.role && r.kind === l.kind && r.gtin === l.gtin && r.lot === l.lot && r.parent === l.parent,
          );
          const inList = identifiersOf(l);
          expect(members.map((m) => m.epc).filter((e) => inList.includes(e))).toEqual(inList);
        }
      }),
    );
  });

  it('fold a commissioning event of twenty units into one list of serials behind a shared prefix', () => {
    const serials = Array.from({ length: 20 }, (_, i) => `S${i}`);
    const [only, ...rest] = toIdentifierLists(serials.map((s) => sgtinRow(`urn:epc:id:sgtin:4012345.011111.${s}`, '04012345111118', s)));
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ epcPrefix: 'urn:epc:id:sgtin:4012345.011111.', keys: serials, epcs: null, quantities: null });
  });

  it('keep a spelling that does not end in its key whole (percent-encoded serial, SSCC URN)', () => {
    const [l] = toIdentifierLists([sgtinRow('urn:epc:id:sgtin:4012345.011111.A%22B', '04012345111118', 'A"B')]);
    expect(l).toMatchObject({ epcPrefix: null, keys: ['A"B'], epcs: ['urn:epc:id:sgtin:4012345.011111.A%22B'] });
  });

  it('write PostgreSQL array literals with every element quoted', () => {
    expect(arrayLiteral(['a', 'b,c', 'd"e', null])).toBe('{"a","b,c","d\\"e",NULL}');
    expect(arrayLiteral(['f\\g'])).toBe('{"f\\\\g"}');
    expect(arrayLiteral([1.5, null])).toBe('{1.5,NULL}');
    expect(arrayLiteral(null)).toBeNull();
  });
});
