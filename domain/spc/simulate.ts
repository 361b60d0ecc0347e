import type { SpcMeasure, SpcSample } from './laney';

/**
 * Seeded, deterministic batches of an in-control (or deliberately shifted) serialization process,
 * for the tests and benchmarks that measure the charts' false-alarm rate and detection delay.
 *
 * The model: each batch has its own true defect rate, drawn around the process rate with the given
 * coefficient of variation (a beta distribution for proportions, a gamma for rates: the
 * batch-to-batch over-dispersion Laney's chart is for); its count is then Poisson(n · true rate).
 * For proportions that is the binomial's limit for small p: its variance n·p differs from the
 * binomial's n·p·(1 − p) by the factor 1 − p, nothing at serialization defect rates (p ≤ 1 %). The
 * count is capped at n.
 */

export interface Rng {
  /** Uniform on [0, 1), 32-bit resolution. */
  uniform(): number;
  /** An integer uniform on [min, max]. */
  integer(min: number, max: number): number;
  normal(): number;
  gamma(shape: number): number;
  beta(a: number, b: number): number;
  poisson(mean: number): number;
}

/** sfc32 (Doty-Humphrey's small fast counting generator), its state filled by splitmix32 from the seed. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const splitmix32 = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let t = s ^ (s >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  const uniform = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  /** On (0, 1]: safe under a logarithm. */
  const positive = (): number => 1 - uniform();
  let spareNormal: number | null = null;

  const normal = (): number => {
    if (spareNormal !== null) {
      const z = spareNormal;
      spareNormal = null;
      return z;
    }
    const radius = Math.sqrt(-2 * Math.log(positive()));
    const angle = 2 * Math.PI * uniform();
    spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };

  // Marsaglia and Tsang (2000); a shape below 1 is boosted by one and scaled back by U^(1/shape).
  const gamma = (shape: number): number => {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be positive, not ${shape}`);
    if (shape < 1) return gamma(shape + 1) * Math.pow(positive(), 1 / shape);
    const dd = shape - 1 / 3;
    const cc = 1 / Math.sqrt(9 * dd);
    for (;;) {
      const x = normal();
      const v0 = 1 + cc * x;
      if (v0 <= 0) continue;
      const v = v0 * v0 * v0;
      const u = positive();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + dd * (1 - v + Math.log(v))) return dd * v;
    }
  };

  const poisson = (mean: number): number => {
    if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`Poisson mean must be a finite number ≥ 0, not ${mean}`);
    if (mean === 0) return 0;
    if (mean < 10) {
      // Knuth: multiply uniforms until the product falls below e^(−mean).
      const limit = Math.exp(-mean);
      let k = 0;
      let product = positive();
      while (product > limit) {
        k++;
        product *= positive();
      }
      return k;
    }
    // PTRS, Hörmann (1993): transformed rejection with squeeze, constant time in the mean.
    const slam = Math.sqrt(mean);
    const logMean = Math.log(mean);
    const bb = 0.931 + 2.53 * slam;
    const aa = -0.059 + 0.02483 * bb;
    const invAlpha = 1.1239 + 1.1328 / (bb - 3.4);
    const vr = 0.9277 - 3.6224 / (bb - 2);
    for (;;) {
      const u = uniform() - 0.5;
      const v = uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * aa) / us + bb) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invAlpha) - Math.log(aa / (us * us) + bb) <= -mean + k * logMean - logFactorial(k)) return k;
    }
  };

  return {
    uniform,
    integer: (min, max) => min + Math.floor(uniform() * (max - min + 1)),
    normal,
    gamma,
    beta: (alpha, beta) => {
      const x = gamma(alpha);
      return x / (x + gamma(beta));
    },
    poisson,
  };
}

export interface SimulationOptions {
  seed: number;
  /** How many batches. */
  points: number;
  measure?: SpcMeasure;
  /** The process's long-run defect rate (p̄ or ū). */
  rate: number;
  /** Batch-to-batch coefficient of variation of the true rate: 0 for none (a pure binomial/Poisson process). */
  rateCv: number;
  /** Batch sizes, uniform between these, inclusive. */
  n: { min: number; max: number };
  /** A planted special cause: the rate multiplied by `factor` from point index `from` (0-based) on. */
  shift?: { from: number; factor: number };
}

export function simulateBatches(options: SimulationOptions): SpcSample[] {
  const { seed, points, measure = 'proportion', rate, rateCv, n, shift } = options;
  if (!(rate > 0) || !(rateCv >= 0)) throw new RangeError('rate must be positive and rateCv ≥ 0');
  if (!Number.isInteger(n.min) || !Number.isInteger(n.max) || n.min < 1 || n.max < n.min)
    throw new RangeError('n must be 1 ≤ min ≤ max, integers');
  const rng = createRng(seed);
  const trueRate = (mean: number): number => {
    if (rateCv === 0) return mean;
    if (measure === 'rate') return rng.gamma(1 / rateCv ** 2) * mean * rateCv ** 2;
    // Beta with this mean and CV: a + b = (1 − mean) / (CV² · mean) − 1, which must be positive.
    const total = (1 - mean) / (rateCv ** 2 * mean) - 1;
    if (!(mean < 1) || !(total > 0)) throw new RangeError(`no beta distribution has mean ${mean} and CV ${rateCv}`);
    return rng.beta(mean * total, (1 - mean) * total);
  };
  return Array.from({ length: points }, (_, i) => {
    const size = rng.integer(n.min, n.max);
    const mean = shift && i >= shift.from ? rate * shift.factor : rate;
    const count = rng.poisson(size * trueRate(mean));
    return { count: measure === 'proportion' ? Math.min(count, size) : count, n: size };
  });
}

/** ln k!, from Stirling's series once k ≥ 10 (error below 1e-13), exactly below. */
function logFactorial(k: number): number {
  if (k < 10) {
    let f = 1;
    for (let i = 2; i <= k; i++) f *= i;
    return Math.log(f);
  }
  const x = k + 1;
  const inv = 1 / x;
  const inv2 = inv * inv;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
}
