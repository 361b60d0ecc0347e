import type { Pool } from '../db/pool';
import { decideEffectiveness } from '../domain/effectiveness';
import type { ReconciliationSummary } from '../domain/reconciliation-summary';
import type { EffectivenessResult } from '../workflows/types';
import { listBatchesOnLine } from '../reconciliation';
import type { InvestigationSupportActivities, ReconciliationActivities } from '../workflows/activity-contracts';

type Input = Parameters<InvestigationSupportActivities['evaluateEffectiveness']>[0];

/**
 * Reconciles the batches made on the affected lines since CAPA completion and judges them
 * against the policy's criteria. The affected batches themselves are left out: they are the
 * problem, not the evidence that it is fixed.
 */
export async function evaluateEffectiveness(
  pool: Pool,
  reconcile: ReconciliationActivities['reconcileBatch'],
  input: Input,
): Promise<EffectivenessResult> {
  let lines = input.lines;
  if (lines.length === 0) {
    const { rows } = await pool.query<{ line: string }>('SELECT DISTINCT line FROM batches WHERE lot = ANY($1) AND line IS NOT NULL', [
      input.lots,
    ]);
    lines = rows.map((r) => r.line);
  }
  const since = new Date(input.since);
  const seen = new Set<string>();
  const summaries: ReconciliationSummary[] = [];
  for (const line of lines) {
    for (const b of await listBatchesOnLine(pool, line, since)) {
      const key = `${b.gtin}/${b.lot}`;
      if (seen.has(key) || input.lots.includes(b.lot)) continue;
      seen.add(key);
      summaries.push(await reconcile({ lot: b.lot, gtin: b.gtin, deviationId: input.deviationId }));
    }
  }
  return { ...decideEffectiveness(input.criteria, lines, summaries), evaluatedAt: new Date().toISOString(), since: input.since };
}
