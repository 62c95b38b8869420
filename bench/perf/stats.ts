/** Summary statistics for the performance benchmark (pure: runs in Node and in the browser). */

export interface Distribution {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** Percentile q ∈ [0, 1] of sorted values, linearly interpolated between ranks (NumPy's default). */
export function percentileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    p50: percentileOfSorted(sorted, 0.5),
    p95: percentileOfSorted(sorted, 0.95),
    mean: n > 0 ? sorted.reduce((a, b) => a + b, 0) / n : NaN,
    min: n > 0 ? sorted[0]! : NaN,
    max: n > 0 ? sorted[n - 1]! : NaN,
  };
}

/**
 * Smallest positive step of performance.now() seen over a few thousand reads: browsers coarsen
 * the clock (Chromium: 5 µs when cross-origin isolated, 100 µs otherwise), which bounds how
 * finely a single call can be timed.
 */
export function timerResolutionMillis(samples = 20_000): number {
  let best = Infinity;
  let last = performance.now();
  for (let i = 0; i < samples; i++) {
    const now = performance.now();
    const step = now - last;
    if (step > 0 && step < best) best = step;
    last = now;
  }
  return best;
}
