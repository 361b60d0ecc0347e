import { identifierKeyId, type IdentifierKey, type IdentifierRole } from './epcis-query';

/**
 * The trace of one unit, case or pallet, assembled from facts read from the captured events
 * (reconciliation/trace.ts reads them): how it was commissioned, what it was packed in and what it
 * held at each time, every shipment and receipt it took part in (itself or inside a package) with
 * the parties, its current status, and the holds and deviations naming its lots. Pure: the same
 * facts give the same trace, so every rule here is tested without a database.
 *
 * Times are the fixed-width UTC text the store gives (`2026-11-23T06:00:00.000000Z`), which sorts as
 * the instants do. A retracted event (an error declaration named it) is listed with the subject's
 * events, marked, and counts for nothing else: the sender said it did not happen.
 */

/** A party of a shipment (EPCIS sourceList / destinationList entry). */
export interface Party {
  type: string | null;
  id: string;
}

/** What the trace needs of one captured event. */
export interface TraceEvent {
  /** The event's row ID: orders events of the same time by capture. */
  pk: string;
  eventId: string;
  type: string;
  action: string | null;
  bizStep: string | null;
  disposition: string | null;
  eventTime: string;
  eventTimeZoneOffset: string;
  readPoint: string | null;
  bizLocation: string | null;
  /** The lot and expiry of its ilmd (commissioning). */
  lot: string | null;
  expiry: string | null;
  retracted: boolean;
  errorDeclaration: unknown;
  sources: Party[];
  destinations: Party[];
  bizTransactions: Party[];
  /** How many children the event names (0: an AggregationEvent DELETE without children empties its parent). */
  childCount: number;
}

/** An identifier named by an event: a node of the trace, in one role. */
export interface Mention {
  /** The node's ID (identifierKeyId). */
  node: string;
  eventPk: string;
  role: IdentifierRole;
  /** For a child: the parent's node ID. */
  parent: string | null;
  /** The identifier as the event spelt it. */
  spelling: string | null;
}

export interface UnitState {
  status: string;
  statusAt: string;
  parentSscc: string | null;
  gtin: string;
  lot: string | null;
}

export interface PackageState {
  level: string;
  status: string;
  statusAt: string;
  parentSscc: string | null;
}

export interface LotFact {
  gtin: string;
  lot: string;
  expiry: string | null;
  status: string;
  line: string | null;
}

export interface HoldFact {
  holdId: string;
  deviationId: string;
  lot: string;
  reason: string;
  placedAt: string;
  placedBy: string;
  disposition: string | null;
  disposedAt: string | null;
  disposedBy: string | null;
}

export interface HoldBreachFact {
  deviationId: string;
  lot: string;
  eventId: string;
  bizStep: string;
  eventTime: string;
  detectedAt: string;
}

/** An identifier containment traced as shipped (traced_shipments): flagged by a deviation's containment. */
export interface ContainmentFlagFact {
  deviationId: string;
  lot: string;
  identifier: string;
  shippedAt: string | null;
  destination: string | null;
  eventId: string | null;
}

export interface DeviationFact {
  id: string;
  title: string;
  stage: string;
  status: string;
  severity: string;
  batches: string[];
}

export interface TraceFacts {
  /** The identifier as asked for, and its key. */
  input: string;
  subject: IdentifierKey;
  /** Every list naming the subject and its ancestors; for its descendants, the lists naming them as children (and their emptying). */
  mentions: Mention[];
  events: TraceEvent[];
  unit: UnitState | null;
  package: PackageState | null;
  lots: LotFact[];
  holds: HoldFact[];
  holdBreaches: HoldBreachFact[];
  containmentFlags: ContainmentFlagFact[];
  deviations: DeviationFact[];
  /** Whether the contents read stopped at the limit (a package holding more than it). */
  contentsTruncated: boolean;
}

/** A reference to the event behind a fact. */
export interface EventRef {
  eventId: string;
  eventTime: string;
}

/** A time the subject was inside a package (packedIn), or a child was inside it (contents). */
export interface Containment {
  /** The package (packedIn) or the child (contents), as the events spelt it. */
  identifier: string;
  kind: IdentifierKey['kind'];
  /** When it went in: null when no packing event was captured (only the unpacking). */
  from: string | null;
  /** When it came out: null while it is still inside. */
  until: string | null;
  packedBy: EventRef | null;
  unpackedBy: EventRef | null;
  /** packedIn: what the package was in meanwhile; contents: what the child held meanwhile. */
  nested: Containment[];
}

export interface Movement extends EventRef {
  bizStep: string;
  disposition: string | null;
  /** A return: the goods came back (disposition returned). */
  isReturn: boolean;
  /** The identifier the event named, as it spelt it: the subject, or the package it was in at the time. */
  via: string;
  viaSubject: boolean;
  readPoint: string | null;
  bizLocation: string | null;
  sources: Party[];
  destinations: Party[];
  bizTransactions: Party[];
}

export interface EventSummary extends EventRef {
  type: string;
  action: string | null;
  bizStep: string | null;
  disposition: string | null;
  role: IdentifierRole;
  readPoint: string | null;
  bizLocation: string | null;
  retracted: boolean;
  errorDeclaration?: unknown;
}

export interface Trace {
  subject: {
    epc: string;
    kind: IdentifierKey['kind'];
    gtin?: string;
    serial?: string;
    sscc?: string;
    uri?: string;
    /** Every spelling the captured events used for it. */
    spellings: string[];
  };
  status: {
    /** The latest status capture recorded (commissioned, packed, shipped, …), when it recorded one. */
    status: string | null;
    since: string | null;
    level?: string;
    /** The package it is in now, per its latest packing or unpacking. */
    currentParent: string | null;
    /** Whether an open hold names one of its lots. */
    onHold: boolean;
    /** The latest event naming it (retracted ones aside): what last happened to it, whatever the projection says. */
    lastEvent: (EventRef & { bizStep: string | null; disposition: string | null; action: string | null; type: string }) | null;
  };
  commissioning: Array<EventRef & { lot: string | null; expiry: string | null; readPoint: string | null; bizLocation: string | null }>;
  packedIn: Containment[];
  contents: Containment[];
  contentsTruncated: boolean;
  movements: Movement[];
  events: EventSummary[];
  lots: LotFact[];
  holds: Array<HoldFact & { open: boolean }>;
  holdBreaches: HoldBreachFact[];
  containmentFlags: ContainmentFlagFact[];
  deviations: DeviationFact[];
}

/** Business steps that move goods between parties or sites. */
export const MOVEMENT_STEPS = ['shipping', 'receiving', 'void_shipping', 'departing', 'arriving', 'accepting'] as const;

/** How deep packages are followed, up (unit, case, pallet, container) and down. */
export const MAX_PACKING_DEPTH = 4;

const before = (a: string | null, b: string | null) => (a === null ? b !== null : b !== null && a < b);

/** `a` and `b` ordered by time, then by capture. */
const byTime = (a: TraceEvent, b: TraceEvent) =>
  a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : Number(a.pk) - Number(b.pk);

interface Interval {
  parent: string;
  from: string | null;
  until: string | null;
  packedBy: TraceEvent | null;
  unpackedBy: TraceEvent | null;
}

/** The mentions of each node, for the lookups of the assembly (a pallet's trace names a thousand units). */
export type MentionIndex = ReadonlyMap<string, readonly Mention[]>;

export function indexMentions(mentions: readonly Mention[]): MentionIndex {
  const index = new Map<string, Mention[]>();
  for (const m of mentions) (index.get(m.node) ?? index.set(m.node, []).get(m.node)!).push(m);
  return index;
}

/**
 * When `child` was in each of its packages, from its packing and unpacking (AggregationEvent ADD and
 * DELETE naming it as a child), an unpacking of everything (a DELETE naming its package and no
 * children), and packing into another package, which takes it out of the one it was in. With
 * `parents`, only those packages are looked at.
 */
export function containmentIntervals(
  child: string,
  mentions: MentionIndex,
  events: ReadonlyMap<string, TraceEvent>,
  parents?: ReadonlySet<string>,
): Interval[] {
  const steps: Array<{ event: TraceEvent; parent: string; action: 'ADD' | 'DELETE'; named: boolean }> = [];
  const packages = new Set<string>();
  for (const m of mentions.get(child) ?? []) {
    if (m.role !== 'child' || m.parent === null) continue;
    if (parents && !parents.has(m.parent)) continue;
    const e = events.get(m.eventPk);
    if (!e || e.retracted || e.type !== 'AggregationEvent' || (e.action !== 'ADD' && e.action !== 'DELETE')) continue;
    steps.push({ event: e, parent: m.parent, action: e.action, named: true });
    packages.add(m.parent);
  }
  for (const p of packages) {
    for (const m of mentions.get(p) ?? []) {
      if (m.role !== 'parent') continue;
      const e = events.get(m.eventPk);
      if (e && !e.retracted && e.type === 'AggregationEvent' && e.action === 'DELETE' && e.childCount === 0)
        steps.push({ event: e, parent: p, action: 'DELETE', named: false });
    }
  }
  steps.sort((a, b) => byTime(a.event, b.event));
  const intervals: Interval[] = [];
  let open = null as Interval | null;
  for (const s of steps) {
    if (s.action === 'ADD') {
      if (open?.parent === s.parent) continue;
      if (open) open.until = s.event.eventTime;
      open = { parent: s.parent, from: s.event.eventTime, until: null, packedBy: s.event, unpackedBy: null };
      intervals.push(open);
    } else if (open?.parent === s.parent) {
      open.until = s.event.eventTime;
      open.unpackedBy = s.event;
      open = null;
    } else if (s.named) {
      intervals.push({ parent: s.parent, from: null, until: s.event.eventTime, packedBy: null, unpackedBy: s.event });
    }
  }
  return intervals;
}

/** The common part of two intervals; null when they do not overlap. */
function overlap(a: { from: string | null; until: string | null }, b: { from: string | null; until: string | null }) {
  const from = before(a.from, b.from) ? b.from : a.from;
  const until = a.until === null ? b.until : b.until === null ? a.until : a.until < b.until ? a.until : b.until;
  if (from !== null && until !== null && until <= from) return null;
  return { from, until };
}

const within = (t: string, i: { from: string | null; until: string | null }) =>
  (i.from === null || i.from <= t) && (i.until === null || t < i.until);

const refOf = (e: TraceEvent | null): EventRef | null => (e ? { eventId: e.eventId, eventTime: e.eventTime } : null);

export function assembleTrace(facts: TraceFacts): Trace {
  const events = new Map(facts.events.map((e) => [e.pk, e]));
  const byNode = indexMentions(facts.mentions);
  const subject = identifierKeyId(facts.subject);
  const spellingOf = new Map<string, string>();
  for (const m of facts.mentions) if (m.spelling && !spellingOf.has(m.node)) spellingOf.set(m.node, m.spelling);
  const shown = (node: string) => spellingOf.get(node) ?? displayOf(node);

  // Up: the packages the subject was in, and what each was in meanwhile. Each step up keeps the time
  // the subject was inside, so a pallet's shipment counts for a unit only while the unit was on it.
  const insideAt: Array<{ node: string; from: string | null; until: string | null }> = [];
  const up = (node: string, window: { from: string | null; until: string | null }, depth: number, seen: Set<string>): Containment[] => {
    if (depth >= MAX_PACKING_DEPTH) return [];
    return containmentIntervals(node, byNode, events).flatMap((i) => {
      const part = overlap(i, window);
      if (!part || seen.has(i.parent)) return [];
      insideAt.push({ node: i.parent, ...part });
      return [
        {
          identifier: shown(i.parent),
          kind: kindOf(i.parent),
          from: i.from,
          until: i.until,
          packedBy: refOf(i.packedBy),
          unpackedBy: refOf(i.unpackedBy),
          nested: up(i.parent, part, depth + 1, new Set([...seen, i.parent])),
        },
      ];
    });
  };
  const packedIn = up(subject, { from: null, until: null }, 0, new Set([subject]));

  // Down: what the subject held, and what each child held while inside it.
  const childrenOf = new Map<string, Set<string>>();
  for (const m of facts.mentions)
    if (m.role === 'child' && m.parent) (childrenOf.get(m.parent) ?? childrenOf.set(m.parent, new Set()).get(m.parent)!).add(m.node);
  const down = (node: string, window: { from: string | null; until: string | null }, depth: number, seen: Set<string>): Containment[] => {
    if (depth >= MAX_PACKING_DEPTH) return [];
    const only = new Set([node]);
    return [...(childrenOf.get(node) ?? [])]
      .filter((c) => !seen.has(c))
      .flatMap((child) =>
        containmentIntervals(child, byNode, events, only).flatMap((i) => {
          const part = overlap(i, window);
          if (!part) return [];
          return [
            {
              identifier: shown(child),
              kind: kindOf(child),
              from: i.from,
              until: i.until,
              packedBy: refOf(i.packedBy),
              unpackedBy: refOf(i.unpackedBy),
              nested: down(child, part, depth + 1, new Set([...seen, child])),
            },
          ];
        }),
      )
      .sort((a, b) => (before(a.from, b.from) ? -1 : before(b.from, a.from) ? 1 : a.identifier < b.identifier ? -1 : 1));
  };
  const contents = down(subject, { from: null, until: null }, 0, new Set([subject]));

  // The subject's own events, and the movements of it or of a package while it was inside.
  const own = byNode.get(subject) ?? [];
  const ownEvents = new Map<string, Mention>();
  for (const m of own) if (!ownEvents.has(m.eventPk)) ownEvents.set(m.eventPk, m);
  const timeline = [...ownEvents.values()]
    .map((m) => ({ m, e: events.get(m.eventPk) }))
    .filter((x): x is { m: Mention; e: TraceEvent } => x.e !== undefined)
    .sort((a, b) => byTime(a.e, b.e));

  const movements: Movement[] = [];
  const counted = new Set<string>();
  const isMovement = (e: TraceEvent) => !e.retracted && e.bizStep !== null && (MOVEMENT_STEPS as readonly string[]).includes(e.bizStep);
  for (const { m, e } of timeline) {
    if (isMovement(e) && !counted.has(e.pk)) {
      counted.add(e.pk);
      movements.push(movementOf(e, m.spelling ?? shown(subject), true));
    }
  }
  for (const m of facts.mentions) {
    const e = events.get(m.eventPk);
    if (!e || !isMovement(e) || counted.has(e.pk) || m.node === subject) continue;
    if (insideAt.some((i) => i.node === m.node && within(e.eventTime, i))) {
      counted.add(e.pk);
      movements.push(movementOf(e, m.spelling ?? shown(m.node), false));
    }
  }
  movements.sort((a, b) => (a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : 0));

  const commissioning = timeline
    .filter(({ m, e }) => !e.retracted && m.role === 'epc' && e.type === 'ObjectEvent' && e.action === 'ADD')
    .map(({ e }) => ({
      eventId: e.eventId,
      eventTime: e.eventTime,
      lot: e.lot,
      expiry: e.expiry,
      readPoint: e.readPoint,
      bizLocation: e.bizLocation,
    }));

  const holds = facts.holds.map((h) => ({ ...h, open: h.disposition === null }));
  const lastLive = timeline.filter(({ e }) => !e.retracted).at(-1)?.e ?? null;
  const state = facts.unit ?? facts.package;
  const key = facts.subject;
  return {
    subject: {
      epc: facts.input,
      kind: key.kind,
      ...(key.kind === 'sgtin' ? { gtin: key.gtin, serial: key.serial } : key.kind === 'sscc' ? { sscc: key.sscc } : { uri: key.uri }),
      spellings: [...new Set(own.map((m) => m.spelling).filter((s): s is string => s !== null))].sort(),
    },
    status: {
      status: state?.status ?? null,
      since: state?.statusAt ?? null,
      ...(facts.package ? { level: facts.package.level } : {}),
      currentParent: state?.parentSscc ?? null,
      onHold: holds.some((h) => h.open),
      lastEvent: lastLive
        ? {
            eventId: lastLive.eventId,
            eventTime: lastLive.eventTime,
            type: lastLive.type,
            action: lastLive.action,
            bizStep: lastLive.bizStep,
            disposition: lastLive.disposition,
          }
        : null,
    },
    commissioning,
    packedIn,
    contents,
    contentsTruncated: facts.contentsTruncated,
    movements,
    events: timeline.map(({ m, e }) => ({
      eventId: e.eventId,
      eventTime: e.eventTime,
      type: e.type,
      action: e.action,
      bizStep: e.bizStep,
      disposition: e.disposition,
      role: m.role,
      readPoint: e.readPoint,
      bizLocation: e.bizLocation,
      retracted: e.retracted,
      ...(e.retracted && e.errorDeclaration ? { errorDeclaration: e.errorDeclaration } : {}),
    })),
    lots: facts.lots,
    holds,
    holdBreaches: facts.holdBreaches,
    containmentFlags: facts.containmentFlags,
    deviations: facts.deviations,
  };
}

function movementOf(e: TraceEvent, via: string, viaSubject: boolean): Movement {
  return {
    eventId: e.eventId,
    eventTime: e.eventTime,
    bizStep: e.bizStep as string,
    disposition: e.disposition,
    isReturn: e.disposition === 'returned',
    via,
    viaSubject,
    readPoint: e.readPoint,
    bizLocation: e.bizLocation,
    sources: e.sources,
    destinations: e.destinations,
    bizTransactions: e.bizTransactions,
  };
}

function kindOf(node: string): IdentifierKey['kind'] {
  return node.startsWith('sgtin:') ? 'sgtin' : node.startsWith('sscc:') ? 'sscc' : 'other';
}

/** A node shown when no event spelt it (not expected: every node comes from an event). */
function displayOf(node: string): string {
  return node.slice(node.indexOf(':') + 1);
}
