import type { IdentifierKey, IdentifierRole } from '../domain/epcis-query';
import type { Queryable } from './pool';
import { IS_COMMISSIONING, IS_PACKING, UNIT_FACT } from './unit-facts';

/**
 * Which identifier lists (epcis_event_identifiers) name one unit, case, pallet or other identifier:
 * the SQL shared by the EPCIS query interface (epcis/query.ts) and the trace (reconciliation/trace.ts).
 *
 * A unit is named mostly by two big lists, its commissioning and its packing; neither has an index
 * reaching one serial (see migrations/1900). Capture keeps, per unit, the commissioning events
 * (serialized_items.commissioned_by and commissioned_last, when it was commissioned at most twice)
 * and the packages it was put in (first_parent and last_parent, when packed at most twice): the
 * lists are reached from those through the existing event and parent indexes. Every other list
 * naming units is in a partial GIN index. A unit whose summary cannot be trusted is looked for in
 * its product's commissioning or packing lists instead.
 */

/**
 * True for a list of SGTINs that is neither a commissioning nor a packing list: the predicate of the
 * partial index epcis_event_identifiers_unit_keys_idx (migrations/1900), written the same way so the
 * planner recognises it, and NULL-safe, so the three kinds of list partition every list exactly.
 */
export const LIST_NAMES_UNITS_SINGLY = (x: string) =>
  `(${x}.kind = 'sgtin'
    AND NOT COALESCE(${x}.role = 'epc' AND ${x}.event_type = 'ObjectEvent' AND ${x}.action = 'ADD', false)
    AND NOT COALESCE(${x}.role = 'child' AND ${x}.event_type = 'AggregationEvent' AND ${x}.parent IS NOT NULL AND ${x}.action = 'ADD', false))`;

/** The most times a unit may have been commissioned or packed for its summary to name every such list. */
const SUMMARISED = 2;

interface UnitSummary {
  commissionings: number;
  packings: number;
  facts: number;
  commissioned_by: string | null;
  commissioned_last: string | null;
  first_parent: string | null;
  last_parent: string | null;
}

/**
 * A SELECT of `(event_pk, role, parent, spelling)` for every list naming `key` in one of `roles`:
 * the event, where the identifier stands in it, the parent's key for a child (an SSCC's 18 digits,
 * or the parent URI), and the identifier as that event spelt it. Its parameters are appended to
 * `params`. One row per list (an event may name the identifier in several).
 *
 * For a unit, its summary is read first and the SELECT names only the lists it points to: one
 * statement that decided between the summary and the scans for itself had the planner start
 * parallel workers for scans it then never ran, 10 to 30 ms a lookup.
 */
export async function listsNamingSql(
  db: Queryable,
  key: IdentifierKey,
  roles: readonly IdentifierRole[],
  params: unknown[],
): Promise<string> {
  const p = (value: unknown) => `$${params.push(value)}`;
  if (key.kind === 'sscc') {
    const r = p([...roles]);
    const k = p(key.sscc);
    return `SELECT l.event_pk, l.role, l.parent, COALESCE(l.epc_prefix || ${k}, l.epcs[array_position(l.keys, ${k})]) AS spelling
              FROM epcis_event_identifiers l
             WHERE l.kind = 'sscc' AND l.keys @> ARRAY[${k}]::text[] AND l.role = ANY (${r}::text[])`;
  }
  if (key.kind === 'other') {
    const r = p([...roles]);
    const u = p(key.uri);
    // (an element of a quantity list, which has a quantity or a unit, is a class, not this identifier)
    return `SELECT l.event_pk, l.role, l.parent, ${u}::text AS spelling
              FROM epcis_event_identifiers l
             WHERE l.kind = 'other' AND l.epcs @> ARRAY[${u}]::text[] AND l.role = ANY (${r}::text[])
               AND EXISTS (SELECT 1 FROM unnest(l.epcs, l.quantities, l.uoms) AS e(epc, quantity, uom)
                            WHERE e.epc = ${u} AND e.quantity IS NULL AND e.uom IS NULL)`;
  }
  const { rows } = await db.query<UnitSummary>(
    `SELECT commissionings, packings, facts, commissioned_by::text AS commissioned_by, commissioned_last::text AS commissioned_last,
            first_parent, last_parent
       FROM serialized_items WHERE serial = $1 AND gtin = $2`,
    [key.serial, key.gtin],
  );
  const summary = rows[0];
  const g = p(key.gtin);
  const s = p(key.serial);
  const select = `SELECT l.event_pk, l.role, l.parent, COALESCE(l.epc_prefix || ${s}, l.epcs[array_position(l.keys, ${s})]) AS spelling
                    FROM epcis_event_identifiers l`;
  const unitLists = `l.kind = 'sgtin' AND l.gtin = ${g} AND ${s} = ANY (l.keys)`;
  const parts = [
    `${select} WHERE ${LIST_NAMES_UNITS_SINGLY('l')} AND l.keys @> ARRAY[${s}]::text[] AND l.gtin = ${g} AND l.role = ANY (${p([...roles])}::text[])`,
  ];
  // (a unit never commissioned nor packed has no summary: no such list names it)
  if (summary) {
    const untrusted = (summary.facts & UNIT_FACT.recheck) !== 0;
    if (roles.includes('epc')) {
      const commissionedBy = [summary.commissioned_by, summary.commissioned_last].filter((pk): pk is string => pk !== null);
      if (untrusted || summary.commissionings > SUMMARISED) parts.push(`${select} WHERE ${unitLists} AND ${IS_COMMISSIONING('l')}`);
      else if (commissionedBy.length)
        parts.push(`${select} WHERE l.event_pk = ANY (${p(commissionedBy)}::bigint[]) AND ${unitLists} AND ${IS_COMMISSIONING('l')}`);
    }
    if (roles.includes('child')) {
      const packedIn = [summary.first_parent, summary.last_parent].filter((parent): parent is string => parent !== null);
      if (untrusted || summary.packings > SUMMARISED) parts.push(`${select} WHERE ${unitLists} AND ${IS_PACKING('l')}`);
      else if (packedIn.length)
        parts.push(`${select} WHERE l.role = 'child' AND l.parent = ANY (${p(packedIn)}::text[]) AND ${unitLists} AND ${IS_PACKING('l')}`);
    }
  }
  return parts.join('\nUNION ALL\n');
}

/** One list naming an identifier: its event's row ID, the identifier's role, the parent's key (children), the spelling. */
export interface ListNaming {
  eventPk: string;
  role: IdentifierRole;
  parent: string | null;
  spelling: string | null;
}
