import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { SEVERITIES, type Severity } from './deviation';
import { durationSchema } from './duration';
import { PRODUCTION_MONITORING, monitoringPolicySchema } from './monitoring/policy';

/**
 * Durations and rules per severity. A deviation copies its resolved policy into the workflow input
 * at start, so a later policy change never alters a running deviation (or its replay).
 * Durations are written as "60 minutes", "24 hours", "30 days" (the `ms` notation Temporal uses).
 */
const duration = durationSchema;

const severityPolicySchema = z
  .object({
    containmentWindow: duration,
    /** Reminders sent this long after detection while containment is unconfirmed. */
    containmentReminders: z.array(duration).max(10),
    investigationDue: duration,
    capaPlanDue: duration,
    changeControlDue: duration,
    /** Delay between CAPA completion and the effectiveness check. */
    effectivenessDelay: duration,
    /** Interval of repeated reminders for anything overdue (actions, reports, clocks). */
    overdueReminderInterval: duration,
    /** DSCSA illegitimate product / EU FMD suspected falsification: notify within this window. */
    regulatoryNotificationWindow: duration,
    regulatoryReminders: z.array(duration).max(10),
  })
  .strict();

export const effectivenessCriteriaSchema = z
  .object({
    /** How many batches of the affected lines, captured after CAPA completion, the check needs. */
    minBatches: z.number().int().min(1),
    maxDuplicateSerials: z.number().int().min(0),
    /** Aggregation errors per commissioned unit, over all evaluated batches. */
    maxAggregationErrorRate: z.number().min(0).max(1),
    /** Checks that find too few batches wait another delay; after this many, QA decides. */
    maxInconclusiveRounds: z.number().int().min(0),
  })
  .strict();

export const policySchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    recurrenceWindow: duration,
    severities: z
      .object(Object.fromEntries(SEVERITIES.map((s) => [s, severityPolicySchema])) as Record<Severity, typeof severityPolicySchema>)
      .strict(),
    effectivenessCriteria: effectivenessCriteriaSchema,
    /** The control strategy (SPC charts, thresholds): defaults when the file leaves it out. */
    monitoring: monitoringPolicySchema.prefault({}),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;
export type EffectivenessCriteria = z.infer<typeof effectivenessCriteriaSchema>;

/** The policy one deviation runs under: durations in milliseconds, fixed at start. */
export interface ResolvedPolicy {
  name: string;
  version: string;
  severity: Severity;
  recurrenceWindowMs: number;
  containmentWindowMs: number;
  containmentRemindersMs: number[];
  investigationDueMs: number;
  capaPlanDueMs: number;
  changeControlDueMs: number;
  effectivenessDelayMs: number;
  overdueReminderIntervalMs: number;
  regulatoryNotificationWindowMs: number;
  regulatoryRemindersMs: number[];
  effectivenessCriteria: EffectivenessCriteria;
}

const ms = (d: string) => msToNumber(d as never);

export function resolvePolicy(policy: Policy, severity: Severity): ResolvedPolicy {
  const p = policy.severities[severity];
  const window = ms(p.containmentWindow);
  const regulatoryWindow = ms(p.regulatoryNotificationWindow);
  return {
    name: policy.name,
    version: policy.version,
    severity,
    recurrenceWindowMs: ms(policy.recurrenceWindow),
    containmentWindowMs: window,
    containmentRemindersMs: p.containmentReminders
      .map(ms)
      .filter((r) => r < window)
      .sort((a, b) => a - b),
    investigationDueMs: ms(p.investigationDue),
    capaPlanDueMs: ms(p.capaPlanDue),
    changeControlDueMs: ms(p.changeControlDue),
    effectivenessDelayMs: ms(p.effectivenessDelay),
    overdueReminderIntervalMs: ms(p.overdueReminderInterval),
    regulatoryNotificationWindowMs: regulatoryWindow,
    regulatoryRemindersMs: p.regulatoryReminders
      .map(ms)
      .filter((r) => r < regulatoryWindow)
      .sort((a, b) => a - b),
    effectivenessCriteria: policy.effectivenessCriteria,
  };
}

const common = {
  containmentWindow: '60 minutes',
  containmentReminders: ['30 minutes', '45 minutes', '55 minutes'],
  regulatoryNotificationWindow: '24 hours',
  regulatoryReminders: ['12 hours', '20 hours'],
};

/** The production policy: 60-minute containment for every severity, due dates by severity. */
export const PRODUCTION_POLICY: Policy = {
  name: 'production',
  version: '2026.1',
  recurrenceWindow: '365 days',
  severities: {
    critical: {
      ...common,
      investigationDue: '15 days',
      capaPlanDue: '30 days',
      changeControlDue: '60 days',
      effectivenessDelay: '30 days',
      overdueReminderInterval: '1 day',
    },
    major: {
      ...common,
      investigationDue: '30 days',
      capaPlanDue: '45 days',
      changeControlDue: '90 days',
      effectivenessDelay: '30 days',
      overdueReminderInterval: '2 days',
    },
    minor: {
      ...common,
      investigationDue: '45 days',
      capaPlanDue: '60 days',
      changeControlDue: '120 days',
      effectivenessDelay: '60 days',
      overdueReminderInterval: '7 days',
    },
  },
  effectivenessCriteria: {
    minBatches: 3,
    maxDuplicateSerials: 0,
    maxAggregationErrorRate: 0.001,
    maxInconclusiveRounds: 3,
  },
  monitoring: PRODUCTION_MONITORING,
};
