import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { SEVERITIES, packagingLineSchema, type Severity } from './deviation';
import { durationSchema } from './duration';
import { PRODUCTION_MONITORING, monitoringPolicySchema } from './monitoring/policy';
import { lineText } from './text';

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
    /**
     * The interval once the head of QA has been told (after the third reminder): by default the
     * same as overdueReminderInterval.
     */
    escalatedReminderInterval: duration.optional(),
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

/**
 * The sites the packaging lines belong to, `{ site: [lines] }`, for the KPIs of one site (GET /kpis).
 * Nothing else in the data model says where a line is; a line belongs to one site at most.
 */
export const sitesSchema = z.record(lineText(100), z.array(packagingLineSchema).min(1).max(500)).superRefine((sites, ctx) => {
  const siteOf = new Map<string, string>();
  for (const [site, lines] of Object.entries(sites)) {
    for (const line of lines) {
      const other = siteOf.get(line);
      if (other !== undefined && other !== site)
        ctx.addIssue({ code: 'custom', message: `line ${line} is in ${other} already`, path: [site] });
      siteOf.set(line, site);
    }
  }
});

/** A closure target for a policy file that names none: the production one (see PRODUCTION_POLICY). */
const DEFAULT_CLOSURE_TARGET = '90 days';

export const policySchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    recurrenceWindow: duration,
    /** Detection to closure: what the KPIs compare the median time to closure with. */
    closureTarget: duration.default(DEFAULT_CLOSURE_TARGET),
    sites: sitesSchema.default({}),
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
  /** Absent from the inputs of deviations started before it existed: they chase at overdueReminderIntervalMs throughout. */
  escalatedReminderIntervalMs?: number;
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
    escalatedReminderIntervalMs: ms(p.escalatedReminderInterval ?? p.overdueReminderInterval),
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
  // Not the 30 days often set for closing a deviation: here closure waits for the CAPA to be
  // implemented and for its effectiveness check, which runs 30 days (60 for a minor deviation) after
  // CAPA completion, itself after an investigation due in 15 to 45 days. Against 30 days every
  // deviation would be late; 90 days leaves about a month each to investigation, CAPA and the check.
  closureTarget: DEFAULT_CLOSURE_TARGET,
  // No site is configured: GET /kpis?site= needs the policy file to map the lines to sites.
  sites: {},
  severities: {
    critical: {
      ...common,
      investigationDue: '15 days',
      capaPlanDue: '30 days',
      changeControlDue: '60 days',
      effectivenessDelay: '30 days',
      overdueReminderInterval: '1 day',
      escalatedReminderInterval: '7 days',
    },
    major: {
      ...common,
      investigationDue: '30 days',
      capaPlanDue: '45 days',
      changeControlDue: '90 days',
      effectivenessDelay: '30 days',
      overdueReminderInterval: '2 days',
      escalatedReminderInterval: '7 days',
    },
    minor: {
      ...common,
      investigationDue: '45 days',
      capaPlanDue: '60 days',
      changeControlDue: '120 days',
      effectivenessDelay: '60 days',
      overdueReminderInterval: '7 days',
      escalatedReminderInterval: '7 days',
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
