/**
 * What a workflow learns from a batch reconciliation: the balance and the count per discrepancy
 * category, plus the ID and content hash of the full report stored in PostgreSQL (never the rows).
 */
export const DISCREPANCY_CATEGORIES = ['duplicate_serial', 'aggregation_error', 'missing_report', 'lost_packaging', 'unaccounted'] as const;
export type DiscrepancyCategory = (typeof DISCREPANCY_CATEGORIES)[number];

export interface ReconciliationSummary {
  reportId: string;
  contentHash: string;
  lot: string;
  gtin: string | null;
  generatedAt: string;
  balance: {
    commissioned: number;
    packed: number;
    rejected: number;
    sampled: number;
    destroyed: number;
    unaccounted: number;
  };
  discrepancies: Record<DiscrepancyCategory, number>;
  /** True when the batch is unknown (no master data and no captured events). */
  unknownBatch: boolean;
}
