import { decideEffectiveness } from '../../domain/effectiveness';
import type { ReconciliationSummary } from '../../domain/reconciliation-summary';

const criteria = { minBatches: 2, maxDuplicateSerials: 0, maxAggregationErrorRate: 0.001, maxInconclusiveRounds: 3 };
const batch = (duplicates: number, aggregationErrors: number, commissioned = 10_000): ReconciliationSummary => ({
  reportId: `R${Math.random()}`,
  contentHash: 'x',
  lot: 'L',
  gtin: null,
  generatedAt: '2026-01-01T00:00:00Z',
  unknownBatch: false,
  balance: { commissioned, packed: commissioned, rejected: 0, sampled: 0, destroyed: 0, unaccounted: 0 },
  discrepancies: {
    duplicate_serial: duplicates,
    aggregation_error: aggregationErrors,
    missing_report: 0,
    lost_packaging: 0,
    unaccounted: 0,
  },
});

describe('effectiveness decision', () => {
  it('is effective when enough batches meet every criterion', () => {
    expect(decideEffectiveness(criteria, ['L3'], [batch(0, 5), batch(0, 0)]).verdict).toBe('effective');
  });
  it('is not effective with a duplicate serial or too many aggregation errors', () => {
    expect(decideEffectiveness(criteria, ['L3'], [batch(1, 0), batch(0, 0)]).verdict).toBe('not_effective');
    const r = decideEffectiveness(criteria, ['L3'], [batch(0, 30), batch(0, 0)]);
    expect(r.verdict).toBe('not_effective');
    expect(r.reasons[0]).toMatch(/aggregation error rate/);
  });
  it('is inconclusive with too few batches', () => {
    expect(decideEffectiveness(criteria, ['L3'], [batch(0, 0)]).verdict).toBe('inconclusive');
  });
});
