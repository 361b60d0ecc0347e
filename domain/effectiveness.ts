import type { EffectivenessCriteria } from './policy';
import type { ReconciliationSummary } from './reconciliation-summary';

export interface EffectivenessVerdict {
  verdict: 'effective' | 'not_effective' | 'inconclusive';
  batchesEvaluated: number;
  duplicateSerials: number;
  aggregationErrorRate: number;
  reportIds: string[];
  reasons: string[];
}

/** Judges reconciled batches against the policy's effectiveness criteria. */
export function decideEffectiveness(
  criteria: EffectivenessCriteria,
  lines: string[],
  summaries: ReconciliationSummary[],
): EffectivenessVerdict {
  const commissioned = summaries.reduce((n, s) => n + s.balance.commissioned, 0);
  const duplicates = summaries.reduce((n, s) => n + s.discrepancies.duplicate_serial, 0);
  const aggregationErrors = summaries.reduce((n, s) => n + s.discrepancies.aggregation_error, 0);
  const rate = commissioned > 0 ? aggregationErrors / commissioned : 0;
  const base = {
    batchesEvaluated: summaries.length,
    duplicateSerials: duplicates,
    aggregationErrorRate: rate,
    reportIds: summaries.map((s) => s.reportId),
  };
  if (lines.length === 0) return { ...base, verdict: 'inconclusive', reasons: ['no production line is known for the affected batches'] };
  if (summaries.length < criteria.minBatches) {
    return {
      ...base,
      verdict: 'inconclusive',
      reasons: [`${summaries.length} batch(es) on ${lines.join(', ')} since CAPA completion; ${criteria.minBatches} needed`],
    };
  }
  const reasons: string[] = [];
  if (duplicates > criteria.maxDuplicateSerials)
    reasons.push(`${duplicates} duplicate serial(s); at most ${criteria.maxDuplicateSerials} allowed`);
  if (rate > criteria.maxAggregationErrorRate)
    reasons.push(`aggregation error rate ${rate.toFixed(5)} above the limit ${criteria.maxAggregationErrorRate}`);
  return reasons.length
    ? { ...base, verdict: 'not_effective', reasons }
    : { ...base, verdict: 'effective', reasons: [`${summaries.length} batch(es) within limits`] };
}
