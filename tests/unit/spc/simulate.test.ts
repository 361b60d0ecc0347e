import { createRng, simulateBatches } from '../../../domain/spc';

/** The false-alarm and detection figures in monitoring.test.ts are only as good as these draws. */
const moments = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, variance: xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) };
};
const draw = <T>(count: number, f: () => T): T[] => Array.from({ length: count }, f);

describe('seeded simulation', () => {
  it('repeats itself for a seed and differs between seeds', () => {
    const options = { points: 50, rate: 2e-4, rateCv: 0.4, n: { min: 100_000, max: 1_000_000 } };
    expect(simulateBatches({ ...options, seed: 7 })).toEqual(simulateBatches({ ...options, seed: 7 }));
    expect(simulateBatches({ ...options, seed: 7 })).not.toEqual(simulateBatches({ ...options, seed: 8 }));
  });

  it('draws uniforms on [0, 1) and integers within their bounds', () => {
    const rng = createRng(1);
    const u = draw(100_000, () => rng.uniform());
    expect(u.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(moments(u).mean).toBeCloseTo(0.5, 2);
    expect(new Set(draw(10_000, () => rng.integer(3, 6)))).toEqual(new Set([3, 4, 5, 6]));
  });

  it('draws Poisson counts with mean and variance λ, below and above the algorithm switch at 10', () => {
    const rng = createRng(2);
    for (const lambda of [4, 150]) {
      const { mean, variance } = moments(draw(100_000, () => rng.poisson(lambda)));
      expect(mean / lambda).toBeCloseTo(1, 2);
      expect(variance / lambda).toBeGreaterThan(0.97);
      expect(variance / lambda).toBeLessThan(1.03);
    }
  });

  it('draws true batch rates with the asked mean and coefficient of variation', () => {
    const rng = createRng(3);
    // Beta with mean 2e-4 and CV 0.4: a + b = (1 − 2e-4) / (0.16 · 2e-4) − 1.
    const total = (1 - 2e-4) / (0.16 * 2e-4) - 1;
    const { mean, variance } = moments(draw(100_000, () => rng.beta(2e-4 * total, (1 - 2e-4) * total)));
    expect(mean / 2e-4).toBeCloseTo(1, 2);
    expect(Math.sqrt(variance) / mean).toBeCloseTo(0.4, 2);
    const shape = moments(draw(100_000, () => rng.gamma(0.5)));
    expect(shape.mean).toBeCloseTo(0.5, 1);
    expect(shape.variance).toBeCloseTo(0.5, 1);
  });

  it('plants a shift of the rate from the point asked', () => {
    const base = { seed: 4, points: 4_000, rate: 1e-3, rateCv: 0, n: { min: 10_000, max: 10_000 } };
    const counts = simulateBatches({ ...base, shift: { from: 2_000, factor: 3 } }).map((s) => s.count);
    const before = moments(counts.slice(0, 2_000)).mean;
    const after = moments(counts.slice(2_000)).mean;
    expect(before / 10).toBeCloseTo(1, 1);
    expect(after / 30).toBeCloseTo(1, 1);
  });
});
