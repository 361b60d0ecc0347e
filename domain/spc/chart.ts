import { chartPoints, type SpcBaseline, type SpcChartPoint, type SpcSample } from './laney';
import { DEFAULT_SPC_RULES, evaluateRules, type SpcRules, type SpcViolation } from './rules';

export interface SpcChartEvaluation {
  /** Limits drawn at the width of rule beyond_limit (3σ by default), so a point outside them is its violation. */
  points: SpcChartPoint[];
  violations: SpcViolation[];
}

/** Samples judged against a frozen baseline: each point with its limits, and the rule violations. */
export function evaluateChart(
  baseline: SpcBaseline,
  samples: readonly SpcSample[],
  rules: SpcRules = DEFAULT_SPC_RULES,
): SpcChartEvaluation {
  const points = chartPoints(baseline, samples, rules.beyond_limit.sigma);
  return {
    points,
    violations: evaluateRules(
      points.map((p) => p.z),
      rules,
    ),
  };
}
