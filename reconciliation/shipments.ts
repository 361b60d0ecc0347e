import { IS_COMMISSIONING } from '../db/unit-facts';
import type { Pool } from '../db/pool';

export interface Shipment {
  lot: string;
  gtin: string;
  kind: 'sscc' | 'sgtin';
  /** The SSCC (18 digits) or the SGTIN as it was captured. */
  identifier: string;
  serial: string | null;
  shippedAt: string;
  destination: string | null;
  eventId: string;
}

/**
 * What already left from these lots, per captured shipping ObjectEvents (bizStep shipping): the
 * shipped SSCCs that hold (directly or through a pallet) units of the lots, and units of the lots
 * shipped loose. Set-based; one row per identifier and shipping event.
 */
export async function findShipments(pool: Pick<Pool, 'query'>, lots: string[]): Promise<Shipment[]> {
  if (lots.length === 0) return [];
  const { rows } = await pool.query<Shipment & { shippedAt: Date }>(
    `WITH units AS (
       SELECT DISTINCT x.gtin, k.serial, x.lot
         FROM epcis_event_identifiers x CROSS JOIN LATERAL unnest(x.keys) AS k(serial)
        WHERE x.kind = 'sgtin' AND x.event_type = 'ObjectEvent' AND x.action = 'ADD' AND x.lot = ANY ($1::text[])
     ), children AS MATERIALIZED (
       -- The packing lists of the lots' GTINs, unnested once and then hash-joined to the units. Joined
       -- list by list, the planner (which reckons a CTE at a few rows) paired every packing list with
       -- every unit: minutes at 50,000 units, past the activity's two-minute limit at 200,000.
       SELECT c.parent, c.gtin, k.serial
         FROM epcis_event_identifiers c CROSS JOIN LATERAL unnest(c.keys) AS k(serial)
        WHERE c.role = 'child' AND c.kind = 'sgtin' AND c.event_type = 'AggregationEvent' AND c.action = 'ADD' AND c.parent ~ '^[0-9]{18}$'
          AND c.gtin IN (SELECT gtin FROM units)
     ), cases AS (
       SELECT DISTINCT c.parent AS sscc, u.lot, u.gtin
         FROM children c JOIN units u ON u.gtin = c.gtin AND u.serial = c.serial
     ), packages AS (
       SELECT sscc, lot, gtin FROM cases
       UNION
       SELECT DISTINCT p.parent, cases.lot, cases.gtin
         FROM epcis_event_identifiers p CROSS JOIN LATERAL unnest(p.keys) AS k(sscc)
         JOIN cases ON k.sscc = cases.sscc
        WHERE p.role = 'child' AND p.kind = 'sscc' AND p.event_type = 'AggregationEvent' AND p.action = 'ADD' AND p.parent ~ '^[0-9]{18}$'
     ), shipping AS (
       SELECT s.kind, s.gtin, k.key, COALESCE(s.epc_prefix || k.key, k.epc) AS epc, s.event_time, ev.event_id AS ev_id,
              (SELECT d->>'destination' FROM jsonb_array_elements(COALESCE(ev.extra->'destinationList', '[]'::jsonb)) d LIMIT 1) AS destination
         FROM epcis_event_identifiers s JOIN epcis_events ev ON ev.id = s.event_pk
        CROSS JOIN LATERAL unnest(s.keys, s.epcs) AS k(key, epc)
        WHERE s.biz_step = 'shipping' AND s.event_type = 'ObjectEvent' AND s.role = 'epc' AND s.kind IN ('sscc', 'sgtin') AND NOT ev.retracted
     )
     SELECT p.lot, p.gtin, 'sscc' AS kind, s.key AS identifier, NULL AS serial, s.event_time AS "shippedAt", s.destination, s.ev_id AS "eventId"
       FROM shipping s JOIN packages p ON s.kind = 'sscc' AND p.sscc = s.key
     UNION ALL
     SELECT u.lot, u.gtin, 'sgtin', s.epc, s.key, s.event_time, s.destination, s.ev_id
       FROM shipping s JOIN units u ON s.kind = 'sgtin' AND u.gtin = s.gtin AND u.serial = s.key
      ORDER BY 6, 4`,
    [lots],
  );
  return rows.map((r) => ({ ...r, shippedAt: new Date(r.shippedAt).toISOString() }));
}

export interface BatchOnLine {
  lot: string;
  gtin: string;
  line: string;
  status: string;
  /** When the batch's master data arrived. */
  createdAt: string;
  /** When its production began: its first live commissioning event. */
  producedFrom: string;
}

/**
 * Batches made on a packaging line since a date (effectiveness checks look at the batches made after
 * CAPA completion). A batch is dated by its first live commissioning event, the start of its
 * production, not by its master data: a planned batch is often registered ahead, and one registered
 * before the CAPA but made after it is just the evidence the check needs. A batch with no
 * commissioning captured has not been made, as far as anyone can show, and is not evidence of
 * anything: it is left out.
 */
export async function listBatchesOnLine(pool: Pick<Pool, 'query'>, line: string, since: Date): Promise<BatchOnLine[]> {
  const { rows } = await pool.query<{ lot: string; gtin: string; line: string; status: string; createdAt: Date; producedFrom: Date }>(
    `SELECT b.lot, b.gtin, b.line, b.status, b.created_at AS "createdAt", p.first AS "producedFrom"
       FROM batches b
       CROSS JOIN LATERAL (
         SELECT min(l.event_time) AS first
           FROM epcis_event_identifiers l JOIN epcis_events e ON e.id = l.event_pk AND NOT e.retracted
          WHERE l.gtin = b.gtin AND l.lot = b.lot AND l.kind = 'sgtin' AND ${IS_COMMISSIONING('l')}
       ) p
      WHERE b.line = $1 AND p.first >= $2
      ORDER BY 6, b.lot, b.gtin`,
    [line, since],
  );
  return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString(), producedFrom: new Date(r.producedFrom).toISOString() }));
}
