import type { Pool } from '../db/pool';
import type { Recurrence } from '../workflows/types';

/**
 * Earlier deviations on the same line, product or symptom within the policy window, from the
 * read model. "Product" matches by GTIN, or by an affected batch in common.
 */
export async function findRecurrences(
  pool: Pool,
  input: { deviationId: string; symptom: string; lines: string[]; gtins: string[]; lots: string[]; since: string },
): Promise<Recurrence[]> {
  const { rows } = await pool.query<{ id: string; title: string; detected_at: Date; line: boolean; product: boolean; symptom: boolean }>(
    `SELECT id, title, detected_at,
            lines && $3::text[]                          AS line,
            (gtins && $4::text[] OR batches && $5::text[]) AS product,
            symptom = $2                                 AS symptom
       FROM deviations
      WHERE id <> $1
        AND detected_at >= $6
        AND (lines && $3::text[] OR gtins && $4::text[] OR batches && $5::text[] OR symptom = $2)
      ORDER BY detected_at DESC
      LIMIT 50`,
    [input.deviationId, input.symptom, input.lines, input.gtins, input.lots, input.since],
  );
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    detectedAt: r.detected_at.toISOString(),
    matchedOn: [r.line && 'line', r.product && 'product', r.symptom && 'symptom'].filter(Boolean) as Recurrence['matchedOn'],
  }));
}
