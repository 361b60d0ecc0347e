/**
 * One bit per fact about a unit: serialized_items.facts (kept by capture, epcis/capture.ts) and the
 * per-batch working table of reconciliation (reconciliation/reconcile.ts) share this layout.
 */
export const UNIT_FACT = {
  /** Commissioned in the batch being reconciled (reconciliation only). */
  commissioned: 1,
  /** Also commissioned in another batch (reconciliation only). */
  otherBatch: 2,
  /** An ObjectEvent DELETE with bizStep destroying or disposition destroyed. */
  destroyed: 4,
  /** An event with bizStep sampling (not an ADD), naming the unit itself or taking it out of (or seeing it in) its package. */
  sampled: 8,
  /** Any ObjectEvent DELETE. */
  rejected: 16,
  /** Named by an event other than an ADD (observed, shipped, removed; or seen in its package by an AggregationEvent OBSERVE). */
  observed: 32,
  /** Added to a package (AggregationEvent ADD, as a child). */
  packed: 64,
  /** Taken out of a package (AggregationEvent DELETE, as a child). */
  unpacked: 128,
  /** Listed in a repository report of the batch (reconciliation only). */
  reported: 256,
  /** The summary cannot be trusted (an event naming the unit was retracted): work it out from the events (capture only). */
  recheck: 512,
} as const;

/**
 * The SQL expression giving the facts one identifier-list row `x` states about each of its SGTINs,
 * for its role: the unit's own events (role epc) or packing (role child of an AggregationEvent).
 * Commissioning (an ObjectEvent ADD) is counted apart and states nothing here.
 */
export const LIST_FACTS = (x: string) => `CASE
  WHEN ${x}.role = 'epc' THEN
      (CASE WHEN ${x}.event_type = 'ObjectEvent' AND ${x}.action = 'DELETE' AND (${x}.biz_step = 'destroying' OR ${x}.disposition = 'destroyed') THEN ${UNIT_FACT.destroyed} ELSE 0 END)
    | (CASE WHEN ${x}.action IS DISTINCT FROM 'ADD' AND ${x}.biz_step = 'sampling' THEN ${UNIT_FACT.sampled} ELSE 0 END)
    | (CASE WHEN ${x}.event_type = 'ObjectEvent' AND ${x}.action = 'DELETE' THEN ${UNIT_FACT.rejected} ELSE 0 END)
    | (CASE WHEN ${x}.action IS DISTINCT FROM 'ADD' THEN ${UNIT_FACT.observed} ELSE 0 END)
  WHEN ${x}.role = 'child' AND ${x}.event_type = 'AggregationEvent' AND ${x}.parent IS NOT NULL THEN
      (CASE WHEN ${x}.action = 'ADD' THEN ${UNIT_FACT.packed} WHEN ${x}.action = 'DELETE' THEN ${UNIT_FACT.unpacked} ELSE ${UNIT_FACT.observed} END)
    | (CASE WHEN ${x}.action IS DISTINCT FROM 'ADD' AND ${x}.biz_step = 'sampling' THEN ${UNIT_FACT.sampled} ELSE 0 END)
  ELSE 0 END`;

/** True for an identifier-list row `x` that commissions its SGTINs. */
export const IS_COMMISSIONING = (x: string) => `(${x}.role = 'epc' AND ${x}.event_type = 'ObjectEvent' AND ${x}.action = 'ADD')`;
/** True for an identifier-list row `x` that adds its SGTINs to a package. */
export const IS_PACKING = (x: string) =>
  `(${x}.role = 'child' AND ${x}.event_type = 'AggregationEvent' AND ${x}.parent IS NOT NULL AND ${x}.action = 'ADD')`;
