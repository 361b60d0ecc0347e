import type { Pool } from '../db/pool';
import type { TraceResult } from '../workflows/types';

/** The shipping step, whichever way the sender wrote it (bare CBV value, URN, or GS1 Web URI). */
const SHIPPING = ['shipping', 'urn:epcglobal:cbv:bizstep:shipping', 'https://ref.gs1.org/cbv/BizStep-shipping'];

/** How many flagged SSCCs travel in the workflow's state; the full list stays in PostgreSQL. */
const SSCCS_IN_STATE = 50;

/**
 * Trace-and-hold: what already left the site from the held batches, from captured shipping
 * events — units shipped loose, and the cases and pallets holding units of those batches. One
 * set-based statement; the flagged identifiers are written to traced_shipments (a retry flags
 * the same rows once) and only a summary returns to the workflow.
 */
export async function traceShipments(pool: Pool, deviationId: string, lots: string[]): Promise<TraceResult> {
  const { rows } = await pool.query<{ flagged: number; events: number; ssccs: number; serials: number; listed: string[] | null }>(
    `WITH units AS (
       SELECT si.gtin, si.serial, si.parent_sscc, b.lot
         FROM serialized_items si JOIN batches b ON b.id = si.batch_id
        WHERE b.lot = ANY($2::text[])
     ), cases AS (
       SELECT DISTINCT parent_sscc AS sscc, lot FROM units WHERE parent_sscc IS NOT NULL
     ), pallets AS (
       SELECT DISTINCT p.parent_sscc AS sscc, c.lot FROM cases c JOIN packages p ON p.sscc = c.sscc WHERE p.parent_sscc IS NOT NULL
     ), held_packages AS (
       SELECT sscc, min(lot) AS lot FROM (SELECT * FROM cases UNION SELECT * FROM pallets) k GROUP BY sscc
     ), shipped AS (
       SELECT x.epc AS identifier, 'sscc' AS kind, hp.lot, x.event_time, ev.event_id, ev.extra
         FROM epcis_event_epcs x
         JOIN held_packages hp ON x.kind = 'sscc' AND x.sscc = hp.sscc
         JOIN epcis_events ev ON ev.id = x.event_pk
        WHERE x.biz_step = ANY($3::text[]) AND NOT ev.retracted
       UNION ALL
       SELECT x.epc, 'sgtin', u.lot, x.event_time, ev.event_id, ev.extra
         FROM epcis_event_epcs x
         JOIN units u ON x.kind = 'sgtin' AND x.gtin = u.gtin AND x.serial = u.serial
         JOIN epcis_events ev ON ev.id = x.event_pk
        WHERE x.biz_step = ANY($3::text[]) AND NOT ev.retracted
     ), flagged AS (
       INSERT INTO traced_shipments (deviation_id, lot, identifier, kind, shipped_at, destination, event_id)
       SELECT DISTINCT ON (identifier) $1, lot, identifier, kind, event_time,
              extra #>> '{destinationList,0,destination}', event_id
         FROM shipped ORDER BY identifier, event_time
       ON CONFLICT (deviation_id, identifier) DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM flagged)::int AS flagged,
            (SELECT count(DISTINCT event_id) FROM shipped)::int AS events,
            (SELECT count(DISTINCT identifier) FROM shipped WHERE kind = 'sscc')::int AS ssccs,
            (SELECT count(DISTINCT identifier) FROM shipped WHERE kind = 'sgtin')::int AS serials,
            (SELECT array_agg(identifier ORDER BY identifier) FROM (SELECT DISTINCT identifier FROM shipped WHERE kind = 'sscc' ORDER BY identifier LIMIT $4) l) AS listed`,
    [deviationId, lots, SHIPPING, SSCCS_IN_STATE],
  );
  const r = rows[0]!;
  return { shipments: r.events, ssccs: r.listed ?? [], serials: r.serials, truncated: r.ssccs > SSCCS_IN_STATE };
}

/** Batches made on a line since a moment (effectiveness checks look at these). */
export async function listBatchesOnLine(pool: Pool, line: string, since: Date): Promise<Array<{ lot: string; gtin: string }>> {
  const { rows } = await pool.query<{ lot: string; gtin: string }>(
    'SELECT lot, gtin FROM batches WHERE line = $1 AND created_at >= $2 ORDER BY created_at',
    [line, since],
  );
  return rows;
}
