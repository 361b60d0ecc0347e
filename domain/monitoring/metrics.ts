import type { Symptom } from '../deviation';
import type { SpcMeasure } from '../spc';

/**
 * What the monitoring watches on each batch: every metric is a count of the batch's latest
 * reconciliation (a column of batch_metrics) over its commissioned units. The symptom is what a
 * deviation opened on the metric is about.
 *
 * Measures: a unit is either unaccounted or not, so unaccounted units and the balance's fractions
 * are proportions (p charts). Discrepancy findings are counted per finding, and one unit can carry
 * several (a duplicate serial also breaks its case's count), so they are rates per unit (u charts).
 */
export const MONITORED_METRICS = {
  duplicate_serial: { column: 'duplicate_serial', measure: 'rate', symptom: 'duplicate_serials', label: 'Duplicate serials per unit' },
  aggregation_error: {
    column: 'aggregation_error',
    measure: 'rate',
    symptom: 'aggregation_error',
    label: 'Aggregation errors per unit',
  },
  missing_report: {
    column: 'missing_report',
    measure: 'rate',
    symptom: 'missing_report',
    label: 'Units missing from repository reports per unit',
  },
  lost_packaging: { column: 'lost_packaging', measure: 'rate', symptom: 'lost_packaging', label: 'Lost packaging per unit' },
  unaccounted: { column: 'unaccounted_units', measure: 'proportion', symptom: 'other', label: 'Unaccounted units (fraction)' },
  rejected: { column: 'rejected', measure: 'proportion', symptom: 'other', label: 'Rejected units (fraction)' },
  sampled: { column: 'sampled', measure: 'proportion', symptom: 'other', label: 'Sampled units (fraction)' },
  destroyed: { column: 'destroyed', measure: 'proportion', symptom: 'other', label: 'Destroyed units (fraction)' },
} as const satisfies Record<string, { column: string; measure: SpcMeasure; symptom: Symptom; label: string }>;

export type MonitoredMetric = keyof typeof MONITORED_METRICS;
export const MONITORED_METRIC_IDS = Object.keys(MONITORED_METRICS) as MonitoredMetric[];
