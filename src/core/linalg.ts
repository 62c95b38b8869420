/**
 * Small dense vector helpers. They read any ArrayLike<number> (number[], Float32Array,
 * Float64Array) and accumulate in float64.
 *
 * Zero vectors: `normalise` returns a zero vector unchanged rather than throwing, and `cosine`
 * with a zero vector is 0. An empty or failed embedding then lands in some cluster with zero
 * similarity instead of crashing the page; callers that must reject it can check `norm(v) === 0`.
 */

export type Vector = ArrayLike<number>;

function sameLength(a: Vector, b: Vector, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length mismatch (${a.length} vs ${b.length})`);
}

export function dot(a: Vector, b: Vector): number {
  sameLength(a, b, 'dot');
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function norm(a: Vector): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/** A unit-norm copy of `v`, of the same typed-array kind; a zero vector comes back as zeros. */
export function normalise<T extends Float32Array | Float64Array>(v: T): T {
  const out = v.slice() as T;
  normaliseInPlace(out);
  return out;
}

/** Scales `v` to unit norm in place (no-op for a zero vector); returns the original norm. */
export function normaliseInPlace(v: Float32Array | Float64Array | number[]): number {
  const n = norm(v);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return n;
}

/** Cosine similarity in [-1, 1]; 0 when either vector is zero. */
export function cosine(a: Vector, b: Vector): number {
  sameLength(a, b, 'cosine');
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}

export function squaredDistance(a: Vector, b: Vector): number {
  sameLength(a, b, 'squaredDistance');
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

/** Numerically stable softmax (subtracts the max logit). Writes into `out` when given. */
export function softmax(logits: Vector, out: Float64Array = new Float64Array(logits.length)): Float64Array {
  if (logits.length === 0) throw new Error('softmax: empty input');
  sameLength(logits, out, 'softmax');
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Index of the smallest value; the first one on ties. NaN never wins. Throws on empty input. */
export function argmin(values: Vector): number {
  if (values.length === 0) throw new Error('argmin: empty input');
  let best = -1;
  let bestValue = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < bestValue || (best === -1 && v === bestValue)) {
      best = i;
      bestValue = v;
    }
  }
  return best === -1 ? 0 : best;
}

/** Index of the largest value; the first one on ties. NaN never wins. Throws on empty input. */
export function argmax(values: Vector): number {
  if (values.length === 0) throw new Error('argmax: empty input');
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > bestValue || (best === -1 && v === bestValue)) {
      best = i;
      bestValue = v;
    }
  }
  return best === -1 ? 0 : best;
}

/** Component-wise mean of equally long vectors. Throws on an empty list. */
export function meanVector(vectors: readonly Vector[]): Float64Array {
  if (vectors.length === 0) throw new Error('meanVector: no vectors');
  const d = vectors[0]!.length;
  const out = new Float64Array(d);
  for (const v of vectors) {
    if (v.length !== d) throw new Error(`meanVector: length mismatch (${v.length} vs ${d})`);
    for (let i = 0; i < d; i++) out[i] = out[i]! + v[i]!;
  }
  for (let i = 0; i < d; i++) out[i] = out[i]! / vectors.length;
  return out;
}
