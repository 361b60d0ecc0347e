import type { EpcRow } from './normalise';

/**
 * The identifiers of one event, folded into lists for epcis_event_identifiers (migration 0400): one
 * list per role, kind, product, lot, parent and spelling prefix, in the order the event names them.
 * A commissioning event of twenty units becomes one row holding twenty serials, not twenty rows.
 *
 * An identifier that ends in its own key (`urn:epc:id:sgtin:4012345.011111.ABC` with serial `ABC`,
 * `https://id.gs1.org/01/…/21/ABC`) is kept as the shared prefix plus the key; any other spelling
 * (an SSCC URN, percent-encoded serials, non-GS1 URIs) is kept whole in `epcs`. Either way the
 * identifier as captured can be rebuilt exactly.
 */
export interface IdentifierList {
  role: EpcRow['role'];
  kind: EpcRow['kind'];
  gtin: string | null;
  lot: string | null;
  parent: string | null;
  epcPrefix: string | null;
  keys: Array<string | null> | null;
  epcs: string[] | null;
  quantities: Array<number | null> | null;
  uoms: Array<string | null> | null;
}

const keyOf = (e: EpcRow): string | null => (e.kind === 'sgtin' ? e.serial : e.kind === 'sscc' ? e.sscc : null);

interface Building {
  list: IdentifierList;
  keys: Array<string | null>;
  epcs: string[];
  quantities: Array<number | null>;
  uoms: Array<string | null>;
}

const sameGroup = (l: IdentifierList, e: EpcRow, prefix: string | null) =>
  l.role === e.role && l.kind === e.kind && l.gtin === e.gtin && l.lot === e.lot && l.parent === e.parent && l.epcPrefix === prefix;

export function toIdentifierLists(rows: readonly EpcRow[]): IdentifierList[] {
  const lists = new Map<string, Building>();
  let last: Building | undefined;
  for (const e of rows) {
    const key = keyOf(e);
    const prefix = key !== null && key.length > 0 && e.epc.length > key.length && e.epc.endsWith(key) ? e.epc.slice(0, -key.length) : null;
    // Identifiers of one list usually come one after another: compare with the last list first.
    let g = last && sameGroup(last.list, e, prefix) ? last : undefined;
    let group = '';
    if (!g) {
      // \u0000 cannot occur in any of these values (PostgreSQL text refuses it), so the joined key is unambiguous.
      group = [e.role, e.kind, e.gtin ?? '', e.lot ?? '', e.parent ?? '', prefix ?? '', prefix === null ? 'whole' : 'prefixed'].join(
        '\u0000',
      );
      g = lists.get(group);
    }
    if (!g) {
      g = {
        list: {
          role: e.role,
          kind: e.kind,
          gtin: e.gtin,
          lot: e.lot,
          parent: e.parent,
          epcPrefix: prefix,
          keys: null,
          epcs: null,
          quantities: null,
          uoms: null,
        },
        keys: [],
        epcs: [],
        quantities: [],
        uoms: [],
      };
      lists.set(group, g);
    }
    last = g;
    g.keys.push(key);
    g.epcs.push(e.epc);
    g.quantities.push(e.quantity);
    g.uoms.push(e.uom);
  }
  return [...lists.values()].map(({ list, keys, epcs, quantities, uoms }) => ({
    ...list,
    keys: keys.some((k) => k !== null) ? keys : null,
    epcs: list.epcPrefix === null ? epcs : null,
    quantities: quantities.some((q) => q !== null) ? quantities : null,
    uoms: uoms.some((u) => u !== null) ? uoms : null,
  }));
}

/** Every identifier of the lists, as captured (the inverse of toIdentifierLists, order kept per list). */
export function identifiersOf(list: IdentifierList): string[] {
  if (list.epcs) return list.epcs;
  return (list.keys ?? []).map((k) => `${list.epcPrefix}${k}`);
}

/**
 * A PostgreSQL array literal ({"a","b",NULL}) for COPY's text format: every element quoted, so
 * commas, quotes and braces in serials (GS1 CSET 82 allows " and ,) stay inside their element.
 */
export function arrayLiteral(values: ReadonlyArray<string | number | null> | null): string | null {
  if (values === null) return null;
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number') out += String(v);
    // (most serials hold neither character: skip the regex then)
    else out += v.includes('"') || v.includes('\\') ? `"${v.replace(/["\\]/g, '\\$&')}"` : `"${v}"`;
  }
  return `${out}}`;
}
