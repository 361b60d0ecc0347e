/**
 * Statistical process control for serialization lines, pure and I/O-free: attribute control charts
 * (Laney p′/u′, classic p/u) with baselines frozen after approval, and the Western Electric rules
 * judged on each batch's z-score.
 *
 * Use: `computeBaseline(baselineSamples)` once (phase I) and store the `SpcBaseline` it answers with
 * its approval; then `evaluateChart(baseline, samples, rules)` for the batches since (phase II), with
 * the chart's rule set parsed by `spcRulesSchema`. Edge cases (n = 0, no defects in the baseline, too
 * few points, no over-dispersion) are documented in laney.ts and rules.ts.
 *
 * Error convention: conditions of the data (a baseline that cannot be frozen) are answers
 * (`{ ok: false, problem }`); malformed input, which `spcSampleSchema` and `spcRulesSchema` reject at
 * the boundary, throws.
 */
export {
  D2_MOVING_RANGE,
  DEFAULT_MIN_BASELINE_POINTS,
  SPC_CHART_KINDS,
  SPC_MEASURES,
  chartPoints,
  computeBaseline,
  spcBaselineOptionsSchema,
  spcBaselineSchema,
  spcSampleSchema,
  zScores,
  type BaselineProblemCode,
  type BaselineResult,
  type SpcBaseline,
  type SpcBaselineOptions,
  type SpcChartKind,
  type SpcChartPoint,
  type SpcMeasure,
  type SpcSample,
} from './laney';
export {
  DEFAULT_SPC_RULES,
  SPC_RULE_IDS,
  describeRule,
  evaluateRules,
  spcRulesSchema,
  type SpcRuleId,
  type SpcRules,
  type SpcRulesInput,
  type SpcSide,
  type SpcViolation,
} from './rules';
export { evaluateChart, type SpcChartEvaluation } from './chart';
export { createRng, simulateBatches, type Rng, type SimulationOptions } from './simulate';
