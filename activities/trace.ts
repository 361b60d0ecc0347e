import type { Pool } from '../db/pool';
import { findShipments } from '../reconciliation';
import type { TraceResult } from '../workflows/types';

/** How many flagged SSCCs travel in the workflow's state; the full list stays in PostgreSQL. */
const SSCCS_IN_STATE = 50;
const CHUNK = 5_000;

/**
 * Trace-and-hold: what already left the site from the held batches (reconciliation/shipments),
 * flagged in traced_shipments — a retry flags the same rows once — and summarised for the workflow.
 */
export async function traceShipments(pool: Pool, deviationId: string, lots: string[]): Promise<TraceResult> {
  const shipments = await findShipments(pool, lots);
  for (let i = 0; i < shipments.length; i += CHUNK) {
    const chunk = shipments.slice(i, i + CHUNK);
    await pool.query(
      `INSERT INTO traced_shipments (deviation_id, lot, identifier, kind, shipped_at, destination, event_id)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
       ON CONFLICT (deviation_id, identifier) DO NOTHING`,
      [
        deviationId,
        chunk.map((s) => s.lot),
        chunk.map((s) => s.identifier),
        chunk.map((s) => s.kind),
        chunk.map((s) => s.shippedAt),
        chunk.map((s) => s.destination),
        chunk.map((s) => s.eventId),
      ],
    );
  }
  const ssccs = [...new Set(shipments.filter((s) => s.kind === 'sscc').map((s) => s.identifier))].sort();
  return {
    shipments: new Set(shipments.map((s) => s.eventId)).size,
    ssccs: ssccs.slice(0, SSCCS_IN_STATE),
    serials: new Set(shipments.filter((s) => s.kind === 'sgtin').map((s) => s.identifier)).size,
    truncated: ssccs.length > SSCCS_IN_STATE,
  };
}
