import {
  chartPoints,
  computeBaseline,
  evaluateChart,
  spcBaselineSchema,
  spcSampleSchema,
  type SpcBaseline,
  type SpcSample,
} from '../../../domain/spc';

const samples = (n: number[], count: number[]): SpcSample[] => n.map((ni, i) => ({ n: ni, count: count[i]! }));

function frozen(result: ReturnType<typeof computeBaseline>): SpcBaseline {
  if (!result.ok) throw new Error(`baseline refused: ${result.problem.message}`);
  return result.baseline;
}

/*
 * Hand-worked Laney p′ example: 10 batches, 1,100 nonconforming units among 110,000.
 *
 *   p̄ = 1100 / 110000 = 0.01          p̄(1 − p̄) = 0.0099
 *
 *   batch   nᵢ       countᵢ   pᵢ         σᵢ = √(0.0099/nᵢ)   zᵢ = (pᵢ − p̄)/σᵢ   MRᵢ = |zᵢ − zᵢ₋₁|
 *   1       10,000   118      0.011800   0.00099499          1.8091
 *   2       12,000    96      0.008000   0.00090830         −2.2019             4.0110
 *   3        8,000    95      0.011875   0.00111243          1.6855             3.8874
 *   4       10,000   130      0.013000   0.00099499          3.0151             1.3296
 *   5       15,000   140      0.009333   0.00081240         −0.8206             3.8357
 *   6        9,000    72      0.008000   0.00104881         −1.9069             1.0863
 *   7       11,000   124      0.011273   0.00094868          1.3416             3.2485
 *   8       10,000    88      0.008800   0.00099499         −1.2060             2.5476
 *   9       13,000   141      0.010846   0.00087266          0.9696             2.1757
 *   10      12,000    96      0.008000   0.00090830         −2.2019             3.1716
 *                                                                          Σ = 25.2934
 *
 *   MR̄ = 25.2934 / 9 = 2.81038        sigma_z = MR̄ / 1.128 = 2.49147 > 1: over-dispersed, Laney p′
 *
 *   n = 10,000: σ = 2.49147 · 0.00099499 = 0.00247898   UCL = 0.01 + 3σ = 0.017437   LCL = 0.01 − 3σ = 0.002563
 *   n = 15,000: σ = 2.49147 · 0.00081240 = 0.00202408   UCL = 0.016072              LCL = 0.003928
 *   n = 20,000: σ = 2.49147 · 0.00070356 = 0.00175291   UCL = 0.015259              LCL = 0.004741
 *
 * The classic p chart (sigma_z = 1) has UCL 0.01 + 3 · 0.00099499 = 0.012985 at n = 10,000, so
 * batch 4 (0.0130) would be beyond it; on the Laney chart it is 3.0151 / 2.49147 = 1.21σ above.
 */
const HAND_WORKED = samples(
  [10_000, 12_000, 8_000, 10_000, 15_000, 9_000, 11_000, 10_000, 13_000, 12_000],
  [118, 96, 95, 130, 140, 72, 124, 88, 141, 96],
);

describe('Laney p′ baseline', () => {
  it('matches the hand-worked example: p̄, sigma_z and per-point limits', () => {
    const baseline = frozen(computeBaseline(HAND_WORKED, { minPoints: 10 }));
    expect(baseline.kind).toBe('laney_p');
    expect(baseline.points).toBe(10);
    expect(baseline.centre).toBeCloseTo(0.01, 10);
    expect(baseline.movingRangeMean).toBeCloseTo(2.81038, 4);
    expect(baseline.sigmaZ).toBeCloseTo(2.49147, 4);

    const [at10k, at15k, at20k] = chartPoints(baseline, samples([10_000, 15_000, 20_000], [130, 100, 150]));
    expect(at10k!.sigma).toBeCloseTo(0.00247898, 7);
    expect(at10k!.ucl).toBeCloseTo(0.017437, 5);
    expect(at10k!.lcl).toBeCloseTo(0.002563, 5);
    expect(at10k!.z).toBeCloseTo(3.0151 / 2.49147, 3);
    expect(at15k!.ucl).toBeCloseTo(0.016072, 5);
    expect(at15k!.lcl).toBeCloseTo(0.003928, 5);
    expect(at20k!.ucl).toBeCloseTo(0.015259, 5);
    expect(at20k!.lcl).toBeCloseTo(0.004741, 5);
    expect(at20k!.value).toBe(0.0075);
  });

  it('keeps batch 4 of the example inside the Laney limits although it is beyond the classic ones', () => {
    const laney = frozen(computeBaseline(HAND_WORKED, { minPoints: 10 }));
    const classic = spcBaselineSchema.parse({ ...laney, kind: 'p', sigmaZ: 1 });
    expect(evaluateChart(laney, HAND_WORKED).violations.filter((v) => v.rule === 'beyond_limit')).toEqual([]);
    expect(evaluateChart(classic, HAND_WORKED).violations.filter((v) => v.rule === 'beyond_limit')).toEqual([
      { rule: 'beyond_limit', index: 3, side: 'above', points: [3] },
    ]);
  });

  /*
   * Ten batches of 10,000 with counts 100, 101, 99, 100, 102, 98, 100, 101, 99, 100: p̄ = 0.01,
   * σᵢ = 0.00099499, zᵢ = (countᵢ − 100) / 9.9499; moving ranges of the counts 1, 2, 1, 2, 4, 2, 1, 2, 1
   * (Σ 16), so MR̄ = 16 / 9 / 9.9499 = 0.17867 and sigma_z = 0.15840 ≤ 1: the classic p chart, with
   * UCL = 0.01 + 3 · 0.00099499 = 0.012985 and LCL = 0.007015.
   */
  it('falls back to the classic p chart when the baseline is not over-dispersed', () => {
    const baseline = frozen(
      computeBaseline(samples(Array(10).fill(10_000), [100, 101, 99, 100, 102, 98, 100, 101, 99, 100]), { minPoints: 10 }),
    );
    expect(baseline.kind).toBe('p');
    expect(baseline.sigmaZ).toBe(1);
    expect(baseline.sigmaZEstimate).toBeCloseTo(0.1584, 4);
    const [point] = chartPoints(baseline, [{ n: 10_000, count: 100 }]);
    expect(point!.ucl).toBeCloseTo(0.012985, 6);
    expect(point!.lcl).toBeCloseTo(0.007015, 6);
  });

  /*
   * Laney u′, defects per unit, 5 batches: ū = 100 / 800 = 0.125, σᵢ = √(0.125/nᵢ).
   *
   *   nᵢ    countᵢ   uᵢ      σᵢ         zᵢ        MRᵢ
   *   100   12       0.12    0.035355   −0.1414
   *   200   30       0.15    0.025000    1.0000   1.1414
   *   150    9       0.06    0.028868   −2.2517   3.2517
   *   100   20       0.20    0.035355    2.1213   4.3730
   *   250   29       0.116   0.022361   −0.4025   2.5238     Σ = 11.2899
   *
   *   MR̄ = 2.82247, sigma_z = 2.50219; at n = 100: σ = 2.50219 · 0.035355 = 0.088466,
   *   UCL = 0.125 + 3σ = 0.390397, LCL = 0.125 − 3σ < 0, clipped to 0.
   */
  it('computes the Laney u′ chart for defects per unit, the lower limit clipped at 0', () => {
    const baseline = frozen(computeBaseline(samples([100, 200, 150, 100, 250], [12, 30, 9, 20, 29]), { measure: 'rate', minPoints: 5 }));
    expect(baseline.kind).toBe('laney_u');
    expect(baseline.centre).toBeCloseTo(0.125, 10);
    expect(baseline.sigmaZ).toBeCloseTo(2.50219, 4);
    const [point] = chartPoints(baseline, [{ n: 100, count: 45 }]);
    expect(point!.ucl).toBeCloseTo(0.390397, 5);
    expect(point!.lcl).toBe(0);
    expect(point!.z).toBeCloseTo((0.45 - 0.125) / 0.088466, 3);
  });

  it('draws limits at the width asked for and keeps a proportion’s upper limit at 1', () => {
    const baseline = spcBaselineSchema.parse({
      measure: 'proportion',
      kind: 'laney_p',
      centre: 0.4,
      sigmaZ: 2,
      sigmaZEstimate: 2,
      movingRangeMean: 2.256,
      points: 20,
    });
    // n = 6: σ = 2 · √(0.24/6) = 0.4, so 3σ reaches 1.6 and −0.8.
    const [wide] = chartPoints(baseline, [{ n: 6, count: 3 }]);
    expect(wide).toMatchObject({ ucl: 1, lcl: 0, value: 0.5 });
    expect(wide!.z).toBeCloseTo(0.25, 10);
    const [narrow] = chartPoints(baseline, [{ n: 600, count: 240 }], 2);
    expect(narrow!.ucl).toBeCloseTo(0.4 + 2 * 0.04, 10);
  });
});

describe('baseline edge cases', () => {
  const steady = (points: number): SpcSample[] => Array.from({ length: points }, (_, i) => ({ n: 100_000, count: 20 + (i % 3) * 5 }));

  it('refuses a baseline without a single defect: the chart would have no spread', () => {
    const result = computeBaseline(Array.from({ length: 25 }, () => ({ n: 500_000, count: 0 })));
    expect(result).toMatchObject({ ok: false, problem: { code: 'no_defects' } });
  });

  it('refuses a proportion baseline in which every unit is defective', () => {
    expect(computeBaseline(Array.from({ length: 20 }, () => ({ n: 10, count: 10 })))).toMatchObject({
      ok: false,
      problem: { code: 'all_defective' },
    });
  });

  it('needs 20 usable points by default, and as many as configured', () => {
    expect(computeBaseline(steady(19))).toMatchObject({
      ok: false,
      problem: { code: 'too_few_points', message: expect.stringMatching(/^19 .*20 needed/) },
    });
    expect(computeBaseline(steady(20)).ok).toBe(true);
    expect(computeBaseline(steady(29), { minPoints: 30 })).toMatchObject({ ok: false, problem: { code: 'too_few_points' } });
    expect(computeBaseline(steady(30), { minPoints: 30 }).ok).toBe(true);
  });

  it('skips batches with nothing inspected: they do not count as points nor join a moving range', () => {
    const withEmpty = [...steady(10), { n: 0, count: 0 }, ...steady(9)];
    expect(computeBaseline(withEmpty)).toMatchObject({
      ok: false,
      problem: { code: 'too_few_points', message: expect.stringMatching(/1 with none skipped/) },
    });
    const spread = samples(Array(10).fill(10_000), [118, 82, 130, 75, 100, 121, 90, 77, 125, 88]);
    const gapped = [...spread.slice(0, 5), { n: 0, count: 0 }, ...spread.slice(5)];
    expect(frozen(computeBaseline(gapped, { minPoints: 10 }))).toEqual(frozen(computeBaseline(spread, { minPoints: 10 })));
  });

  it('gives a batch with nothing inspected neither a value, nor limits, nor a z-score', () => {
    const baseline = frozen(computeBaseline(HAND_WORKED, { minPoints: 10 }));
    expect(chartPoints(baseline, [{ n: 0, count: 0 }])).toEqual([
      { index: 0, n: 0, count: 0, value: null, centre: 0.01, sigma: null, lcl: null, ucl: null, z: null },
    ]);
  });

  it('throws on a malformed sample, which the schema rejects at the boundary', () => {
    const baseline = frozen(computeBaseline(HAND_WORKED, { minPoints: 10 }));
    for (const bad of [
      { n: 100, count: 101 },
      { n: 100, count: -1 },
      { n: 100, count: 1.5 },
      { n: -5, count: 0 },
      { n: 0, count: 2 },
    ]) {
      expect(() => chartPoints(baseline, [bad])).toThrow(RangeError);
      expect(() => computeBaseline([...HAND_WORKED, bad], { minPoints: 10 })).toThrow(RangeError);
    }
    expect(spcSampleSchema.safeParse({ n: 0, count: 2 }).success).toBe(false);
    expect(spcSampleSchema.safeParse({ n: 100, count: 1.5 }).success).toBe(false);
    expect(spcSampleSchema.safeParse({ n: 100, count: 3 }).success).toBe(true);
  });

  it('freezes into JSON that the baseline schema reads back unchanged', () => {
    const baseline = frozen(computeBaseline(HAND_WORKED, { minPoints: 10 }));
    expect(spcBaselineSchema.parse(JSON.parse(JSON.stringify(baseline)))).toEqual(baseline);
    expect(spcBaselineSchema.safeParse({ ...baseline, kind: 'u' }).success).toBe(false);
    expect(spcBaselineSchema.safeParse({ ...baseline, kind: 'p' }).success).toBe(false);
    expect(spcBaselineSchema.safeParse({ ...baseline, centre: 0 }).success).toBe(false);
  });
});
