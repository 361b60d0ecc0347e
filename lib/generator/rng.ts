/**
 * Deterministic randomness for the generator: the same seed writes byte-identical files, so a
 * failing reconciliation test or a benchmark run can be reproduced exactly.
 */

/** sfc32-style generator on 32-bit integers; small state, good enough statistics, no dependencies. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.nextU32() / 0x1_0000_0000) * n);
  }

  /** A random (version 4 layout) UUID, for event IDs. */
  uuid(): string {
    const hex = [this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32()].map((n) => n.toString(16).padStart(8, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex[16] as string, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

/**
 * A bijection on 32-bit integers (murmur3's finaliser, every step invertible), keyed by the seed:
 * unit i gets serial f(i), distinct for distinct i without remembering the serials already issued —
 * the generator never holds a batch's serials in memory.
 */
export function permute32(i: number, key: number): number {
  let h = (i ^ key) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
