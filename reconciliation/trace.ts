import { listsNamingSql } from '../db/identifier-events';
import type { Queryable } from '../db/pool';
import { identifierKeyId, identifierKeyOf, type IdentifierKey, type IdentifierRole } from '../domain/epcis-query';
import {
  assembleTrace,
  MAX_PACKING_DEPTH,
  type ContainmentFlagFact,
  type DeviationFact,
  type HoldBreachFact,
  type HoldFact,
  type LotFact,
  type Mention,
  type PackageState,
  type Party,
  type Trace,
  type TraceEvent,
  type UnitState,
} from '../domain/trace';

/**
 * The facts of a trace read from the captured events and the containment tables; domain/trace.ts
 * assembles them. Every lookup goes through an index: the lists naming an identifier
 * (db/identifier-events.ts), a package's children by the parent index, units by their key, holds
 * and deviations by lot. Bounded: packages are followed MAX_PACKING_DEPTH levels up and down, at
 * most MAX_PACKAGES_PER_LEVEL of them a level, and the contents read stop at MAX_CONTENTS identifiers.
 */

const ALL_ROLES: IdentifierRole[] = ['epc', 'parent', 'child', 'input', 'output'];
const MAX_PACKAGES_PER_LEVEL = 50;
export const MAX_CONTENTS = 5000;

/** A time as the trace compares times: fixed-width UTC text, which sorts as the instants do. */
const UTC = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The key of a package as an identifier list names it in `parent`: an SSCC's 18 digits, or the parent URI. */
function parentKeyOf(parent: string): IdentifierKey {
  if (/^[0-9]{18}$/.test(parent)) return { kind: 'sscc', sscc: parent };
  const r = identifierKeyOf(parent);
  return r.ok ? r.key : { kind: 'other', uri: parent };
}

interface MentionRow {
  node: string;
  event_pk: string;
  role: IdentifierRole;
  parent: string | null;
  spelling: string | null;
}

/** The nodes met, by ID: a package named as a parent is looked up by its key next. */
type Registry = Map<string, IdentifierKey>;

function register(registry: Registry, key: IdentifierKey): string {
  const id = identifierKeyId(key);
  if (!registry.has(id)) registry.set(id, key);
  return id;
}

/** Every list naming any of `keys`, in any role. */
async function mentionsOf(db: Queryable, keys: IdentifierKey[], registry: Registry): Promise<Mention[]> {
  if (keys.length === 0) return [];
  const params: unknown[] = [];
  const parts: string[] = [];
  for (const key of keys) {
    const node = `$${params.push(register(registry, key))}::text`;
    parts.push(
      `SELECT ${node} AS node, n.event_pk::text AS event_pk, n.role, n.parent, n.spelling FROM (${await listsNamingSql(db, key, ALL_ROLES, params)}) n`,
    );
  }
  const { rows } = await db.query<MentionRow>(parts.join('\nUNION ALL\n'), params);
  return rows.map((r) => ({
    node: r.node,
    eventPk: r.event_pk,
    role: r.role,
    parent: r.parent === null ? null : register(registry, parentKeyOf(r.parent)),
    spelling: r.spelling,
  }));
}

interface ChildListRow {
  event_pk: string;
  parent: string;
  kind: 'sgtin' | 'sscc' | 'lgtin' | 'other';
  gtin: string | null;
  epc_prefix: string | null;
  keys: Array<string | null> | null;
  epcs: string[] | null;
  quantities: Array<string | null> | null;
  uoms: Array<string | null> | null;
}

/**
 * What the packages named by `parents` (their `parent` column values) held: one mention per child
 * named, and the child packages' keys. Stops at `room` identifiers.
 */
async function childrenOf(
  db: Queryable,
  parents: string[],
  room: number,
  registry: Registry,
): Promise<{ mentions: Mention[]; packages: Map<string, string>; units: Array<{ gtin: string; serial: string }>; truncated: boolean }> {
  const out = {
    mentions: [] as Mention[],
    /** The packages among the children: their node ID, and the value a list naming them as parent holds. */
    packages: new Map<string, string>(),
    units: [] as Array<{ gtin: string; serial: string }>,
    truncated: false,
  };
  if (parents.length === 0) return out;
  const { rows } = await db.query<ChildListRow>(
    `SELECT l.event_pk::text AS event_pk, l.parent, l.kind, l.gtin, l.epc_prefix, l.keys, l.epcs, l.quantities, l.uoms
       FROM epcis_event_identifiers l
      WHERE l.role = 'child' AND l.parent = ANY ($1::text[]) AND l.kind <> 'lgtin'
      ORDER BY l.event_pk
      LIMIT ${MAX_CONTENTS}`,
    [parents],
  );
  let named = 0;
  for (const l of rows) {
    const parent = register(registry, parentKeyOf(l.parent));
    const n = (l.keys ?? l.epcs ?? []).length;
    for (let i = 0; i < n; i++) {
      if (named >= room) {
        out.truncated = true;
        break;
      }
      // (an element given a quantity or unit is a class of a quantity list, not an identifier)
      if (l.quantities?.[i] != null || l.uoms?.[i] != null) continue;
      const k = l.keys?.[i] ?? null;
      const spelling = l.epc_prefix !== null ? `${l.epc_prefix}${k}` : (l.epcs?.[i] ?? null);
      const key: IdentifierKey | null =
        l.kind === 'sgtin' && k !== null && l.gtin !== null
          ? { kind: 'sgtin', gtin: l.gtin, serial: k }
          : l.kind === 'sscc' && k !== null
            ? { kind: 'sscc', sscc: k }
            : spelling !== null
              ? { kind: 'other', uri: spelling }
              : null;
      if (!key) continue;
      named++;
      const node = register(registry, key);
      out.mentions.push({ node, eventPk: l.event_pk, role: 'child', parent, spelling });
      if (key.kind === 'sgtin') out.units.push(key);
      else out.packages.set(node, key.kind === 'sscc' ? key.sscc : key.uri);
    }
  }
  if (rows.length >= MAX_CONTENTS) out.truncated = true;
  return out;
}

/** The unpackings naming the packages as parents, for the unpacking of everything (an AggregationEvent DELETE without children). */
async function parentMentionsOf(db: Queryable, ssccs: string[]): Promise<Mention[]> {
  if (ssccs.length === 0) return [];
  const { rows } = await db.query<{ event_pk: string; sscc: string; spelling: string | null }>(
    `SELECT l.event_pk::text AS event_pk, k.sscc, COALESCE(l.epc_prefix || k.sscc, l.epcs[k.n]) AS spelling
       FROM epcis_event_identifiers l CROSS JOIN LATERAL unnest(l.keys) WITH ORDINALITY AS k(sscc, n)
      WHERE l.kind = 'sscc' AND l.role = 'parent' AND l.keys && $1::text[] AND k.sscc = ANY ($1::text[])
        AND l.event_type = 'AggregationEvent' AND l.action = 'DELETE'`,
    [ssccs],
  );
  return rows.map((r) => ({ node: `sscc:${r.sscc}`, eventPk: r.event_pk, role: 'parent', parent: null, spelling: r.spelling }));
}

interface EventRow {
  pk: string;
  event_id: string;
  type: string;
  action: string | null;
  biz_step: string | null;
  disposition: string | null;
  event_time: string;
  event_tz_offset: string;
  read_point: string | null;
  biz_location: string | null;
  lot: string | null;
  expiry: string | null;
  retracted: boolean;
  error_declaration: unknown;
  sources: unknown;
  destinations: unknown;
  biz_transactions: unknown;
  child_count: number;
}

/** Entries of a sourceList, destinationList or bizTransactionList as parties (`{type, id}`), whatever else they hold dropped. */
function partiesOf(list: unknown, field: string): Party[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry) => {
    if (!entry || typeof entry !== 'object') return [];
    const e = entry as Record<string, unknown>;
    const id = e[field];
    if (typeof id !== 'string') return [];
    return [{ type: typeof e.type === 'string' ? e.type : null, id }];
  });
}

async function eventsOf(db: Queryable, pks: string[]): Promise<TraceEvent[]> {
  if (pks.length === 0) return [];
  const { rows } = await db.query<EventRow>(
    `SELECT e.id::text AS pk, e.event_id, e.type, e.action, e.biz_step, e.disposition, ${UTC('e.event_time')} AS event_time,
            e.event_tz_offset, e.read_point, e.biz_location, e.lot, e.expiry::text AS expiry, e.retracted,
            CASE WHEN e.retracted THEN (SELECT x.extra -> 'errorDeclaration' FROM epcis_events x
                                         WHERE x.event_id = e.event_id AND x.is_declaration) END AS error_declaration,
            e.extra -> 'sourceList' AS sources, e.extra -> 'destinationList' AS destinations,
            e.extra -> 'bizTransactionList' AS biz_transactions,
            (SELECT COALESCE(sum(cardinality(COALESCE(l.keys, l.epcs))), 0)::int FROM epcis_event_identifiers l
              WHERE l.event_pk = e.id AND l.role = 'child') AS child_count
       FROM epcis_events e WHERE e.id = ANY ($1::bigint[])`,
    [pks],
  );
  return rows.map((r) => ({
    pk: r.pk,
    eventId: r.event_id,
    type: r.type,
    action: r.action,
    bizStep: r.biz_step,
    disposition: r.disposition,
    eventTime: r.event_time,
    eventTimeZoneOffset: r.event_tz_offset,
    readPoint: r.read_point,
    bizLocation: r.biz_location,
    lot: r.lot,
    expiry: r.expiry,
    retracted: r.retracted,
    errorDeclaration: r.error_declaration,
    sources: partiesOf(r.sources, 'source'),
    destinations: partiesOf(r.destinations, 'destination'),
    bizTransactions: partiesOf(r.biz_transactions, 'bizTransaction'),
    childCount: r.child_count,
  }));
}

async function unitState(db: Queryable, key: Extract<IdentifierKey, { kind: 'sgtin' }>): Promise<UnitState | null> {
  const { rows } = await db.query<UnitState>(
    `SELECT si.status, CASE WHEN isfinite(si.status_at) THEN ${UTC('si.status_at')} END AS "statusAt", si.parent_sscc AS "parentSscc",
            si.gtin, b.lot
       FROM serialized_items si LEFT JOIN batches b ON b.id = si.batch_id
      WHERE si.serial = $1 AND si.gtin = $2`,
    [key.serial, key.gtin],
  );
  return rows[0] ?? null;
}

async function packageState(db: Queryable, key: Extract<IdentifierKey, { kind: 'sscc' }>): Promise<PackageState | null> {
  const { rows } = await db.query<PackageState>(
    `SELECT level, status, ${UTC('status_at')} AS "statusAt", parent_sscc AS "parentSscc" FROM packages WHERE sscc = $1`,
    [key.sscc],
  );
  return rows[0] ?? null;
}

/** The batches of the units (by their own batch) and of the lots named (GTIN and lot). */
async function lotsOf(
  db: Queryable,
  units: Array<{ gtin: string; serial: string }>,
  lots: Array<{ gtin: string; lot: string }>,
): Promise<LotFact[]> {
  if (units.length === 0 && lots.length === 0) return [];
  const { rows } = await db.query<LotFact>(
    `SELECT b.gtin, b.lot, b.expiry::text AS expiry, b.status, b.line
       FROM batches b
      WHERE b.id IN (SELECT si.batch_id FROM unnest($1::text[], $2::text[]) AS u(gtin, serial)
                       JOIN serialized_items si ON si.serial = u.serial AND si.gtin = u.gtin
                     UNION
                     SELECT x.id FROM unnest($3::text[], $4::text[]) AS t(g, l) JOIN batches x ON x.gtin = t.g AND x.lot = t.l)
      ORDER BY b.lot, b.gtin`,
    [units.map((u) => u.gtin), units.map((u) => u.serial), lots.map((l) => l.gtin), lots.map((l) => l.lot)],
  );
  return rows;
}

async function holdsOf(db: Queryable, lots: string[]): Promise<HoldFact[]> {
  if (lots.length === 0) return [];
  const { rows } = await db.query<HoldFact>(
    // Named as everywhere else a hold is shown (the deviation's record, the answer to opening it): H<number>.
    `SELECT 'H' || id AS "holdId", deviation_id AS "deviationId", lot, reason, ${UTC('placed_at')} AS "placedAt", placed_by AS "placedBy",
            disposition, CASE WHEN disposed_at IS NOT NULL THEN ${UTC('disposed_at')} END AS "disposedAt", disposed_by AS "disposedBy"
       FROM holds WHERE lot = ANY ($1::text[]) ORDER BY placed_at, id`,
    [lots],
  );
  return rows;
}

async function holdBreachesOf(db: Queryable, holdIds: string[], eventPks: string[]): Promise<HoldBreachFact[]> {
  if (holdIds.length === 0 || eventPks.length === 0) return [];
  const { rows } = await db.query<HoldBreachFact>(
    `SELECT deviation_id AS "deviationId", lot, event_id AS "eventId", biz_step AS "bizStep", ${UTC('event_time')} AS "eventTime",
            ${UTC('detected_at')} AS "detectedAt"
       FROM hold_breaches WHERE hold_id = ANY ($1::bigint[]) AND event_pk = ANY ($2::bigint[]) ORDER BY event_time, id`,
    [holdIds, eventPks],
  );
  return rows;
}

async function containmentFlagsOf(db: Queryable, deviationIds: string[], identifiers: string[]): Promise<ContainmentFlagFact[]> {
  if (deviationIds.length === 0 || identifiers.length === 0) return [];
  const { rows } = await db.query<ContainmentFlagFact>(
    `SELECT deviation_id AS "deviationId", lot, identifier, CASE WHEN shipped_at IS NOT NULL THEN ${UTC('shipped_at')} END AS "shippedAt",
            destination, event_id AS "eventId"
       FROM traced_shipments WHERE deviation_id = ANY ($1::text[]) AND identifier = ANY ($2::text[]) ORDER BY shipped_at, identifier`,
    [deviationIds, identifiers],
  );
  return rows;
}

async function deviationsOf(db: Queryable, lots: string[], ids: string[]): Promise<DeviationFact[]> {
  if (lots.length === 0 && ids.length === 0) return [];
  const { rows } = await db.query<DeviationFact>(
    `SELECT id, title, stage, status, severity, batches FROM deviations
      WHERE batches && $1::text[] OR id = ANY ($2::text[]) ORDER BY detected_at, id`,
    [lots, ids],
  );
  return rows;
}

/** The trace of a unit, case or pallet (or another identifier events named); null when no captured event names it. */
export async function traceIdentifier(db: Queryable, input: string, subject: IdentifierKey): Promise<Trace | null> {
  const registry: Registry = new Map();
  const subjectNode = register(registry, subject);
  const mentions = await mentionsOf(db, [subject], registry);
  if (mentions.length === 0) return null;

  // Up: the packages it was in, level by level.
  const seen = new Set([subjectNode]);
  let level = mentions;
  for (let depth = 0; depth < MAX_PACKING_DEPTH; depth++) {
    const parents = [
      ...new Set(level.flatMap((m) => (m.role === 'child' && m.parent !== null && !seen.has(m.parent) ? [m.parent] : []))),
    ].slice(0, MAX_PACKAGES_PER_LEVEL);
    if (parents.length === 0) break;
    for (const node of parents) seen.add(node);
    level = await mentionsOf(
      db,
      parents.map((node) => registry.get(node)!),
      registry,
    );
    mentions.push(...level);
  }

  // Down: what it held, level by level. A list names its parent by the SSCC's digits, or as the event spelt it.
  const units: Array<{ gtin: string; serial: string }> = [];
  let truncated = false;
  let parentValues =
    subject.kind === 'sscc'
      ? [subject.sscc]
      : [...new Set(mentions.flatMap((m) => (m.node === subjectNode && m.role === 'parent' && m.spelling !== null ? [m.spelling] : [])))];
  for (let depth = 0; depth < MAX_PACKING_DEPTH && parentValues.length > 0 && !truncated; depth++) {
    const found = await childrenOf(db, parentValues, MAX_CONTENTS - units.length, registry);
    mentions.push(...found.mentions);
    units.push(...found.units);
    truncated = found.truncated;
    const packages = [...found.packages].filter(([node]) => !seen.has(node));
    for (const [node] of packages) seen.add(node);
    mentions.push(
      ...(await parentMentionsOf(
        db,
        packages.flatMap(([node, value]) => (node.startsWith('sscc:') ? [value] : [])),
      )),
    );
    parentValues = packages.map(([, value]) => value);
  }

  // (independent reads, at once when `db` is a pool: a pallet's thousand units are a thousand probes)
  const eventPks = [...new Set(mentions.map((m) => m.eventPk))];
  const [events, unit, pkg, unitLots] = await Promise.all([
    eventsOf(db, eventPks),
    subject.kind === 'sgtin' ? unitState(db, subject) : null,
    subject.kind === 'sscc' ? packageState(db, subject) : null,
    lotsOf(db, subject.kind === 'sgtin' ? [subject, ...units] : units, []),
  ]);

  // Its lots: a unit's batch and the lots it was commissioned in; a package's, those of the units it held.
  const ownEvents = new Set(mentions.filter((m) => m.node === subjectNode && m.role === 'epc').map((m) => m.eventPk));
  const commissionedIn =
    subject.kind === 'sgtin'
      ? events.filter((e) => e.lot !== null && !e.retracted && ownEvents.has(e.pk)).map((e) => ({ gtin: subject.gtin, lot: e.lot! }))
      : [];
  const known = new Set(unitLots.map((l) => `${l.gtin}|${l.lot}`));
  const missing = commissionedIn.filter((l) => !known.has(`${l.gtin}|${l.lot}`));
  const lots = missing.length
    ? [...unitLots, ...(await lotsOf(db, [], missing))].sort((a, b) => (a.lot < b.lot ? -1 : a.lot > b.lot ? 1 : a.gtin < b.gtin ? -1 : 1))
    : unitLots;
  const lotNames = [...new Set(lots.map((l) => l.lot))];
  const [holds, lotDeviations] = await Promise.all([holdsOf(db, lotNames), deviationsOf(db, lotNames, [])]);
  const holdDeviations = [...new Set(holds.map((h) => h.deviationId))];
  // Containment flags name a package by its SSCC digits, a unit as its shipping event spelt it.
  const flagged = [
    ...[...seen].flatMap((n) => {
      const key = registry.get(n);
      return key?.kind === 'sscc' ? [key.sscc] : [];
    }),
    ...mentions.flatMap((m) => (m.node === subjectNode && m.spelling !== null ? [m.spelling] : [])),
  ];
  const listed = new Set(lotDeviations.map((d) => d.id));
  const [holdBreaches, containmentFlags, heldBy] = await Promise.all([
    holdBreachesOf(
      db,
      holds.map((h) => h.holdId.slice(1)),
      eventPks,
    ),
    containmentFlagsOf(db, holdDeviations, [...new Set(flagged)]),
    // (a hold's deviation no longer naming the lot, its batches edited since: still listed)
    deviationsOf(
      db,
      [],
      holdDeviations.filter((id) => !listed.has(id)),
    ),
  ]);
  const deviations = [...lotDeviations, ...heldBy];

  return assembleTrace({
    input,
    subject,
    mentions,
    events,
    unit,
    package: pkg,
    lots,
    holds,
    holdBreaches,
    containmentFlags,
    deviations,
    contentsTruncated: truncated,
  });
}
