import { z } from 'zod';

/**
 * Attribute control charts for serialization batches: the Laney p′ (and u′) chart, falling back to
 * the classic p (u) chart when the baseline shows no over-dispersion.
 *
 * Why Laney: a batch holds 10⁵–10⁶ units, so the binomial (Poisson) sigma of a batch's defect rate is
 * tiny, far smaller than the real batch-to-batch variation of the process (material lots, operators,
 * line set-up). A classic chart's limits, built from that sigma alone, would alarm on most batches of
 * a process that is in control. Laney (2002) measures the extra variation on the z-scale: each
 * baseline point's z-score against the classic sigma, then sigma_z = MR̄ / 1.128 from the moving
 * ranges of those z-scores (1.128 = d₂ for ranges of two). Limits widen by sigma_z:
 *
 *   p̄ ± k · sigma_z · √(p̄(1 − p̄) / nᵢ)      (u chart: ū ± k · sigma_z · √(ū / nᵢ))
 *
 * Phases: the centre line and sigma_z come from a baseline window only (phase I); once the baseline is
 * approved it is frozen, stored as an `SpcBaseline`, and every later batch is judged against it with
 * its own limits from its own n (phase II). Rules are evaluated on zᵢ = (valueᵢ − centre) / sigmaᵢ,
 * which is comparable across points although the limits differ (see rules.ts).
 *
 * Edge cases, decided here so that callers need not:
 * - A sample with n = 0 inspected nothing: it has no value, no limits and no z. In the baseline it is
 *   skipped (it neither counts toward `minPoints` nor forms a moving range); on the chart its `z` is
 *   null and the rules pass over it.
 * - A baseline with no defect at all (centre 0) has sigma 0: no chart can be drawn, and
 *   `computeBaseline` answers `no_defects`. Any defect on such a line is then a matter for the
 *   threshold rules, which are separate from these charts.
 * - A proportion baseline where every unit is defective (centre 1) is degenerate the same way
 *   (`all_defective`).
 * - Fewer usable baseline points than `minPoints` (default 20): `too_few_points`; sigma_z from a
 *   handful of moving ranges is too uncertain to freeze.
 * - sigma_z ≤ 1 (no over-dispersion, Laney's own criterion): the classic chart, sigma_z taken as 1.
 *   An under-dispersed baseline would otherwise narrow the limits below the binomial ones and raise
 *   false alarms; the estimate is kept in `sigmaZEstimate` for the record.
 * - Limits are clipped to the possible values (≥ 0; a proportion's ≤ 1); z is never clipped.
 * - A malformed sample (negative or fractional count, negative n, a count with n = 0, count > n or a
 *   fractional n for a proportion) is a programming error, since requests are validated with
 *   `spcSampleSchema` first: it throws a RangeError.
 */

/** d₂ for moving ranges of two consecutive points: E[|X₁ − X₂|] = 1.128 σ for normal X. */
export const D2_MOVING_RANGE = 1.128;
export const DEFAULT_MIN_BASELINE_POINTS = 20;

/** `proportion`: nonconforming units out of n (p chart). `rate`: defects per unit, several per unit possible (u chart). */
export const SPC_MEASURES = ['proportion', 'rate'] as const;
export const SPC_CHART_KINDS = ['laney_p', 'p', 'laney_u', 'u'] as const;
export type SpcMeasure = (typeof SPC_MEASURES)[number];
export type SpcChartKind = (typeof SPC_CHART_KINDS)[number];

/** One batch: `count` defects (or nonconforming units) found among `n` units. */
export const spcSampleSchema = z
  .object({
    count: z.number().int().min(0),
    n: z.number().min(0),
  })
  .strict()
  .refine((s) => s.n > 0 || s.count === 0, { message: 'no defect can be found among 0 units', path: ['count'] });
export type SpcSample = z.infer<typeof spcSampleSchema>;

export const spcBaselineOptionsSchema = z
  .object({
    measure: z.enum(SPC_MEASURES).default('proportion'),
    /** Usable points (n > 0) the baseline needs; fewer cannot be frozen. */
    minPoints: z.number().int().min(2).max(10_000).default(DEFAULT_MIN_BASELINE_POINTS),
  })
  .strict();
export type SpcBaselineOptions = z.input<typeof spcBaselineOptionsSchema>;

/**
 * A frozen baseline: everything phase II needs, as plain JSON so it can be stored with its approval.
 * `sigmaZ` is the factor the limits use (1 for a classic chart); `sigmaZEstimate` is what the
 * baseline measured.
 */
export const spcBaselineSchema = z
  .object({
    measure: z.enum(SPC_MEASURES),
    kind: z.enum(SPC_CHART_KINDS),
    /** p̄ (or ū): total count over total n of the usable baseline points. */
    centre: z.number().positive(),
    sigmaZ: z.number().min(1),
    sigmaZEstimate: z.number().min(0),
    movingRangeMean: z.number().min(0),
    /** Usable baseline points (n > 0). */
    points: z.number().int().min(2),
  })
  .strict()
  .refine((b) => b.measure === 'rate' || b.centre < 1, { message: 'a proportion centre line is below 1', path: ['centre'] })
  .refine((b) => (b.measure === 'proportion') === (b.kind === 'laney_p' || b.kind === 'p'), {
    message: 'a p chart measures proportions, a u chart rates',
    path: ['kind'],
  })
  .refine((b) => (b.kind === 'laney_p' || b.kind === 'laney_u' ? b.sigmaZ > 1 : b.sigmaZ === 1), {
    message: 'a Laney chart has sigmaZ above 1, a classic chart exactly 1',
    path: ['sigmaZ'],
  });
export type SpcBaseline = z.infer<typeof spcBaselineSchema>;

export type BaselineProblemCode = 'too_few_points' | 'no_defects' | 'all_defective';
export type BaselineResult = { ok: true; baseline: SpcBaseline } | { ok: false; problem: { code: BaselineProblemCode; message: string } };

/**
 * Phase I: the centre line and sigma_z of a baseline window, in production order, and the decision
 * between the Laney and the classic chart.
 */
export function computeBaseline(samples: readonly SpcSample[], options: SpcBaselineOptions = {}): BaselineResult {
  const { measure, minPoints } = spcBaselineOptionsSchema.parse(options);
  samples.forEach((s, i) => assertSample(measure, s, i));
  const usable = samples.filter((s) => s.n > 0);
  if (usable.length < minPoints) {
    const skipped = samples.length - usable.length;
    return problem(
      'too_few_points',
      `${usable.length} baseline point(s) with units inspected${skipped ? ` (${skipped} with none skipped)` : ''}; ${minPoints} needed`,
    );
  }
  const totalCount = usable.reduce((sum, s) => sum + s.count, 0);
  const totalN = usable.reduce((sum, s) => sum + s.n, 0);
  const centre = totalCount / totalN;
  if (centre === 0)
    return problem('no_defects', 'no defect in the baseline: the chart has no spread; the threshold rules catch any defect');
  if (measure === 'proportion' && centre === 1)
    return problem('all_defective', 'every baseline unit is defective: the chart has no spread');

  const z = usable.map((s) => (s.count / s.n - centre) / classicSigma(measure, centre, s.n));
  let rangeSum = 0;
  for (let i = 1; i < z.length; i++) rangeSum += Math.abs(z[i]! - z[i - 1]!);
  const movingRangeMean = rangeSum / (z.length - 1);
  const sigmaZEstimate = movingRangeMean / D2_MOVING_RANGE;
  const overDispersed = sigmaZEstimate > 1;
  const kind: SpcChartKind = measure === 'proportion' ? (overDispersed ? 'laney_p' : 'p') : overDispersed ? 'laney_u' : 'u';
  return {
    ok: true,
    baseline: { measure, kind, centre, sigmaZ: overDispersed ? sigmaZEstimate : 1, sigmaZEstimate, movingRangeMean, points: usable.length },
  };
}

/** One sample on a frozen baseline's chart. Null fields: the sample had n = 0. */
export interface SpcChartPoint {
  /** Position in the samples given, from 0. */
  index: number;
  n: number;
  count: number;
  /** pᵢ (or uᵢ) = count / n. */
  value: number | null;
  centre: number;
  /** One sigma of this point, in the value's units: sigma_z · √(p̄(1 − p̄) / nᵢ). */
  sigma: number | null;
  lcl: number | null;
  ucl: number | null;
  /** (value − centre) / sigma: what the rules judge. */
  z: number | null;
}

/**
 * Phase II (or a look back over the baseline itself): each sample's value, its own limits at
 * ±`k` sigma from its own n, and its z-score.
 */
export function chartPoints(baseline: SpcBaseline, samples: readonly SpcSample[], k = 3): SpcChartPoint[] {
  if (!(k > 0) || !Number.isFinite(k)) throw new RangeError(`limit width k must be a positive number of sigmas, not ${k}`);
  return samples.map((s, index) => {
    assertSample(baseline.measure, s, index);
    const { centre } = baseline;
    if (s.n === 0) return { index, n: 0, count: s.count, value: null, centre, sigma: null, lcl: null, ucl: null, z: null };
    const value = s.count / s.n;
    const sigma = baseline.sigmaZ * classicSigma(baseline.measure, centre, s.n);
    const ucl = centre + k * sigma;
    return {
      index,
      n: s.n,
      count: s.count,
      value,
      centre,
      sigma,
      lcl: Math.max(0, centre - k * sigma),
      ucl: baseline.measure === 'proportion' ? Math.min(1, ucl) : ucl,
      z: (value - centre) / sigma,
    };
  });
}

/** The z-scores alone, in sample order (null where n = 0): the input of `evaluateRules`. */
export function zScores(baseline: SpcBaseline, samples: readonly SpcSample[]): Array<number | null> {
  return chartPoints(baseline, samples).map((p) => p.z);
}

/** The binomial (p) or Poisson (u) sigma of one point, before Laney's correction. */
function classicSigma(measure: SpcMeasure, centre: number, n: number): number {
  return Math.sqrt((measure === 'proportion' ? centre * (1 - centre) : centre) / n);
}

function assertSample(measure: SpcMeasure, s: SpcSample, index: number): void {
  const fine =
    Number.isInteger(s.count) &&
    s.count >= 0 &&
    Number.isFinite(s.n) &&
    s.n >= 0 &&
    (s.n > 0 || s.count === 0) &&
    (measure === 'rate' || (Number.isInteger(s.n) && s.count <= s.n));
  if (!fine) throw new RangeError(`sample ${index} (count ${s.count}, n ${s.n}) is not a valid ${measure} sample`);
}

function problem(code: BaselineProblemCode, message: string): BaselineResult {
  return { ok: false, problem: { code, message } };
}
