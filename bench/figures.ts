/** Percentiles as the benchmarks report them: nearest rank, so p99 of 200 samples is the second largest. */
export interface Distribution {
  n: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round1(percentile(sorted, 50)),
    p99: round1(percentile(sorted, 99)),
    max: round1(sorted.at(-1) ?? NaN),
    min: round1(sorted[0] ?? NaN),
    mean: round1(sorted.reduce((a, b) => a + b, 0) / (sorted.length || NaN)),
  };
}

/** "p50 12.3 ms, p99 45.6 ms (n 200, max 50.1 ms)" */
export function describe(d: Distribution, unit = 'ms'): string {
  if (d.n === 0) return 'no samples';
  return `p50 ${d.p50} ${unit}, p99 ${d.p99} ${unit} (n ${d.n}, max ${d.max} ${unit})`;
}

export const verdict = (met: boolean) => (met ? 'met' : '**missed**');

/** Results are named to the second: two runs in one minute must not overwrite each other. */
export const resultStamp = (iso: string) => iso.slice(0, 19).replace(/:/g, '');
