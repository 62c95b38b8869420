/**
 * A small seeded PRNG (mulberry32). Pure 32-bit integer arithmetic via Math.imul, so the same
 * seed gives the same stream in Node and in every browser; Math.random is never used.
 */

/** An indexable, writable sequence: plain arrays and typed arrays both fit. */
export interface MutableIndexable<T> {
  length: number;
  [index: number]: T;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). `n` must be a positive integer. */
  int(n: number): number;
  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<A extends MutableIndexable<unknown>>(arr: A): A;
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number;
}

/** Seeds are reduced to a uint32; any finite number is accepted (non-integers are truncated). */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be finite, got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  let spareNormal: number | null = null;

  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };

  const next = (): number => nextUint32() / 4294967296;

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };

  const shuffle = <A extends MutableIndexable<unknown>>(arr: A): A => {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  };

  const normal = (): number => {
    if (spareNormal !== null) {
      const z = spareNormal;
      spareNormal = null;
      return z;
    }
    // 1 - next() is in (0, 1], so the log is finite.
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };

  return { next, int, shuffle, normal };
}
