import { z } from 'zod';
import { SEVERITIES } from '../deviation';
import { durationSchema as duration } from '../duration';
import { spcRulesSchema } from '../spc';
import { lineText } from '../text';
import { MONITORED_METRIC_IDS, type MonitoredMetric } from './metrics';

/**
 * The control strategy, as policy: which lines are watched, on which metrics, with which rules,
 * and the limits any single batch must not cross whatever its chart says. Part of the product's
 * policy file (zod-validated at start); a change is a change of the policy's version.
 */
const metric = z.enum(MONITORED_METRIC_IDS as [MonitoredMetric, ...MonitoredMetric[]]);

/** A limit on one batch: crossing it opens (or links) a deviation at once, chart or no chart. */
export const thresholdSchema = z
  .object({
    metric,
    /** The batch's count of the metric above this opens a deviation: 0 means "any at all". */
    maxCount: z.number().int().min(0).optional(),
    /** The batch's count per commissioned unit above this opens a deviation. */
    maxRate: z.number().min(0).max(1).optional(),
    severity: z.enum(SEVERITIES),
  })
  .strict()
  .refine((t) => t.maxCount !== undefined || t.maxRate !== undefined, 'a threshold names maxCount, maxRate or both');
export type Threshold = z.infer<typeof thresholdSchema>;

export const monitoringPolicySchema = z
  .object({
    /** Lines watched: "all" (every line batches name), or a list; a line not watched is charted by nobody and opens nothing. */
    lines: z.union([z.literal('all'), z.array(lineText(50)).max(500)]).default('all'),
    /** Metrics charted per line and per line × product. */
    chartedMetrics: z
      .array(metric)
      .max(MONITORED_METRIC_IDS.length)
      .default(['duplicate_serial', 'aggregation_error', 'missing_report', 'unaccounted']),
    /** Rules every new chart starts with; a chart's own set is changed by a signed change. */
    rules: spcRulesSchema.prefault({}),
    /** Batches in a baseline (phase I) before QA is asked to approve it. */
    baselinePoints: z.number().int().min(5).max(500).default(25),
    /** Severity of a deviation opened by a chart's rule violation. */
    ruleViolationSeverity: z.enum(SEVERITIES).default('major'),
    thresholds: z.array(thresholdSchema).max(50).default([]),
    /**
     * Repositories acknowledge a batch's serials some time after packing: a missing_report finding
     * counts (for thresholds and charts) only when the batch completed at least this long ago.
     */
    missingReportGrace: duration.default('1 day'),
  })
  .strict();
export type MonitoringPolicy = z.output<typeof monitoringPolicySchema>;

/**
 * Production defaults: every line watched on the discrepancy metrics; any duplicate serial or lost
 * package is a deviation on its own (one is already a patient-safety and DSCSA/FMD question), an
 * aggregation error rate above 0.1 % likewise, and a unit still missing from the repository a day
 * after the batch completed.
 */
export const PRODUCTION_MONITORING: MonitoringPolicy = monitoringPolicySchema.parse({
  thresholds: [
    { metric: 'duplicate_serial', maxCount: 0, severity: 'major' },
    { metric: 'lost_packaging', maxCount: 0, severity: 'major' },
    { metric: 'aggregation_error', maxRate: 0.001, severity: 'major' },
    { metric: 'missing_report', maxCount: 0, severity: 'major' },
  ],
});
