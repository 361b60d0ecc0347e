import { z } from 'zod';
import { packagingLineSchema, type Severity } from './deviation';
import type { DiscrepancyCategory } from './reconciliation-summary';
import { isoDateTime } from './iso-time';
import { lineText } from './text';

/** Without `from`, the window is this many days before `to`. */
export const KPI_DEFAULT_WINDOW_DAYS = 90;

/** The query of GET /kpis (docs/kpis.md): a window, and a line or a site of the policy. */
export const kpiQuerySchema = z
  .object({
    /** The window's start, included. */
    from: isoDateTime.optional(),
    /** The window's end, excluded; also the moment the "open at" KPIs are taken. Default: now. */
    to: isoDateTime.optional(),
    /** One packaging line, exactly as deviations and batches name it. */
    line: packagingLineSchema.optional(),
    /** A site of the policy's `sites`: the lines it lists. */
    site: lineText(100).optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to), {
    message: 'from must be before to',
    path: ['from'],
  });
export type KpiQuery = z.infer<typeof kpiQuerySchema>;

/** The window a query names, its defaults filled in from `now`; null when it ends before it starts. */
export function kpiWindow(q: Pick<KpiQuery, 'from' | 'to'>, now: Date): { from: Date; to: Date } | null {
  const to = q.to === undefined ? now : new Date(q.to);
  const from = q.from === undefined ? new Date(to.getTime() - KPI_DEFAULT_WINDOW_DAYS * 86_400_000) : new Date(q.from);
  return from.getTime() < to.getTime() ? { from, to } : null;
}

/** A share: the numerator, the denominator, and their quotient (null when nothing was counted). */
export interface KpiRate {
  count: number;
  of: number;
  rate: number | null;
}

/** Durations in seconds; null when there was nothing to measure. */
export interface KpiDurations {
  count: number;
  medianSeconds: number | null;
  p90Seconds: number | null;
}

export interface KpiReport {
  window: { from: string; to: string; line: string | null; site: string | null; siteLines: string[] | null };
  openDeviations: {
    total: number;
    /** Open at `to` and still in the stage they were in then (none has changed stage since). */
    byStage: Record<string, number>;
    /** Open at `to`, but their stage has changed since: the read model keeps the current stage only. */
    stageChangedSince: number;
    bySeverity: Record<Severity, number>;
  };
  containment: {
    /** The containment window per severity, in seconds, as the policy says. */
    windowSeconds: Record<Severity, number>;
    onTime: KpiRate;
    timeToContainment: KpiDurations;
  };
  closure: {
    targetSeconds: number;
    timeToClosure: KpiDurations;
    withinTarget: KpiRate;
  };
  overdueSignoffs: { total: number; byGate: Record<string, number> };
  capaEffectiveness: KpiRate;
  recurrence: KpiRate;
  detection: { total: number; automated: number; manual: number; bySource: Record<string, number> };
  discrepancyRates: Array<{
    line: string;
    /** YYYY-MM (UTC): the month of the batch's first reconciliation. */
    month: string;
    batches: number;
    commissioned: number;
    discrepancies: Record<DiscrepancyCategory, number>;
    /** Discrepancies per commissioned unit; null when the batches commissioned nothing. */
    rates: Record<DiscrepancyCategory, number | null>;
  }>;
}
