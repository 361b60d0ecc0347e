import { z } from 'zod';

/**
 * Western Electric rules 1–4 on a sequence of z-scores (one per batch, in production order; see
 * laney.ts for how a batch's z is computed). Judging z rather than raw values is what lets the
 * rules work although every batch has its own limits from its own n: on the z-scale the centre line
 * is 0 and the 1σ/2σ/3σ zones are ±1/±2/±3 for every point.
 *
 *   rule             Western Electric   Nelson   default
 *   ──────────────   ────────────────   ──────   ──────────────────────────────────────────────
 *   beyond_limit     1                  1        one point beyond 3σ
 *   two_of_three     2                  5        2 of 3 consecutive beyond 2σ, same side
 *   four_of_five     3                  6        4 of 5 consecutive beyond 1σ, same side
 *   same_side_run    4                  2        8 in a row on one side of the centre (Nelson: 9)
 *
 * Decisions:
 * - "Beyond" is strict: z = 2 exactly is not beyond 2σ; z = 0 is on neither side and ends a run.
 * - A point beyond a wider zone counts for a narrower one (a point beyond 3σ is beyond 2σ).
 * - A null z (a batch with n = 0: nothing inspected) carries no information: the rules pass over it,
 *   so it neither extends nor breaks a pattern; "consecutive" means consecutive non-null points.
 * - A violation is reported at every point that completes its pattern, looking back from that point:
 *   a run of 10 with `length` 8 gives violations at its 8th, 9th and 10th point. Raising one
 *   deviation per episode, not per point, is the caller's concern.
 * - For "k of m", the first points of a series count with the points available: 2 points beyond 2σ
 *   as the first two of a series already are 2 of 3 consecutive.
 */

export const SPC_RULE_IDS = ['beyond_limit', 'two_of_three', 'four_of_five', 'same_side_run'] as const;
export type SpcRuleId = (typeof SPC_RULE_IDS)[number];
export type SpcSide = 'above' | 'below';

const sigmas = z.number().positive().max(6);

const kOfMRule = (count: number, window: number, sigma: number) =>
  z
    .object({
      enabled: z.boolean().default(true),
      /** How many points of the window must lie beyond `sigma` on the same side. */
      count: z.number().int().min(1).max(50).default(count),
      /** Consecutive points looked at, ending with the newest. */
      window: z.number().int().min(1).max(50).default(window),
      sigma: sigmas.default(sigma),
    })
    .strict()
    .refine((r) => r.count <= r.window, { message: 'count cannot exceed window', path: ['count'] })
    .prefault({});

/** One chart's rule set. Every field has a default, so `{}` is the Western Electric set. */
export const spcRulesSchema = z
  .object({
    beyond_limit: z
      .object({ enabled: z.boolean().default(true), sigma: sigmas.default(3) })
      .strict()
      .prefault({}),
    two_of_three: kOfMRule(2, 3, 2),
    four_of_five: kOfMRule(4, 5, 1),
    same_side_run: z
      .object({ enabled: z.boolean().default(true), length: z.number().int().min(2).max(50).default(8) })
      .strict()
      .prefault({}),
  })
  .strict();
export type SpcRules = z.output<typeof spcRulesSchema>;
export type SpcRulesInput = z.input<typeof spcRulesSchema>;

export const DEFAULT_SPC_RULES: SpcRules = spcRulesSchema.parse({});

export interface SpcViolation {
  rule: SpcRuleId;
  /** The point that completed the pattern: an index into the z-scores given, from 0. */
  index: number;
  side: SpcSide;
  /**
   * Every point that makes up the pattern, ascending, ending with `index`: the point itself for
   * beyond_limit; the points beyond the zone within the window for the k-of-m rules (not the
   * window's other points); the last `length` points of the run for same_side_run.
   */
  points: number[];
}

/** A sentence for an alarm or a chart legend: "2 of 3 consecutive points beyond 2σ on the same side". */
export function describeRule(rule: SpcRuleId, rules: SpcRules = DEFAULT_SPC_RULES): string {
  switch (rule) {
    case 'beyond_limit':
      return `1 point beyond ${rules.beyond_limit.sigma}σ`;
    case 'two_of_three':
    case 'four_of_five': {
      const { count, window, sigma } = rules[rule];
      return `${count} of ${window} consecutive points beyond ${sigma}σ on the same side`;
    }
    case 'same_side_run':
      return `${rules.same_side_run.length} points in a row on the same side of the centre line`;
  }
}

/**
 * The violations of the enabled rules over z-scores in production order, by completing point and
 * then in the order of SPC_RULE_IDS.
 */
export function evaluateRules(zScores: ReadonlyArray<number | null>, rules: SpcRules = DEFAULT_SPC_RULES): SpcViolation[] {
  const violations: SpcViolation[] = [];
  /** Indices of the non-null points seen so far, newest last. */
  const seen: number[] = [];
  let run: { side: SpcSide; length: number } | null = null;

  zScores.forEach((z, index) => {
    if (z === null) return;
    if (!Number.isFinite(z)) throw new RangeError(`z-score ${index} is ${z}`);
    seen.push(index);
    const side: SpcSide | null = z > 0 ? 'above' : z < 0 ? 'below' : null;
    run = side === null ? null : run?.side === side ? { side, length: run.length + 1 } : { side, length: 1 };

    if (rules.beyond_limit.enabled && side && Math.abs(z) > rules.beyond_limit.sigma) {
      violations.push({ rule: 'beyond_limit', index, side, points: [index] });
    }
    for (const rule of ['two_of_three', 'four_of_five'] as const) {
      const { enabled, count, window, sigma } = rules[rule];
      if (!enabled || !side || !beyond(z, side, sigma)) continue;
      const points = seen.slice(-window).filter((i) => beyond(zScores[i]!, side, sigma));
      if (points.length >= count) violations.push({ rule, index, side, points });
    }
    if (rules.same_side_run.enabled && run && run.length >= rules.same_side_run.length) {
      violations.push({ rule: 'same_side_run', index, side: run.side, points: seen.slice(-rules.same_side_run.length) });
    }
  });
  return violations;
}

function beyond(z: number, side: SpcSide, sigma: number): boolean {
  return side === 'above' ? z > sigma : z < -sigma;
}
