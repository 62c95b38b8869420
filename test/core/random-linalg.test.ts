import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/core/random';
import { argmax, argmin, cosine, dot, meanVector, norm, normalise, softmax, squaredDistance } from '../../src/core/linalg';

describe('createRng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 5 }, () => a.next());
    const sb = Array.from({ length: 5 }, () => b.next());
    const sc = Array.from({ length: 5 }, () => c.next());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('gives the same first values on every platform (pinned mulberry32 output)', () => {
    const r = createRng(1);
    // The published mulberry32 stream for seed 1; a change here breaks stored seeds.
    const first = r.next();
    expect(first).toBeCloseTo(0.6270739405881613, 15);
  });

  it('next is in [0,1), int in range, shuffle is a permutation, normal has mean 0 and variance 1', () => {
    const r = createRng(7);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      const k = r.int(5);
      expect(Number.isInteger(k) && k >= 0 && k < 5).toBe(true);
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    const arr = Int32Array.from({ length: 50 }, (_, i) => i);
    r.shuffle(arr);
    expect(Array.from(arr).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(arr)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => r.int(0)).toThrow();
  });
});

describe('linalg', () => {
  it('computes dot, norm, cosine, squared distance', () => {
    expect(dot([1, 2, 3], new Float32Array([4, 5, 6]))).toBe(32);
    expect(norm([3, 4])).toBe(5);
    expect(cosine([1, 0], [0, 2])).toBe(0);
    expect(cosine([1, 1], [2, 2])).toBeCloseTo(1, 12);
    expect(cosine([0, 0], [1, 2])).toBe(0);
    expect(squaredDistance([1, 2], [4, 6])).toBe(25);
    expect(() => dot([1], [1, 2])).toThrow(/length mismatch/);
  });

  it('normalise keeps the array kind, returns unit norm, and leaves a zero vector zero', () => {
    const v = normalise(new Float64Array([3, 4]));
    expect(v).toBeInstanceOf(Float64Array);
    expect(Array.from(v)).toEqual([0.6, 0.8]);
    const z = normalise(new Float32Array(3));
    expect(z).toBeInstanceOf(Float32Array);
    expect(Array.from(z)).toEqual([0, 0, 0]);
  });

  it('softmax is stable for large logits and sums to 1', () => {
    const p = softmax([1000, 1001, 1002]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[2]! / p[1]!).toBeCloseTo(Math.E, 10);
  });

  it('argmin/argmax take the first on ties; meanVector averages', () => {
    expect(argmin([3, 1, 1, 2])).toBe(1);
    expect(argmax([3, 5, 5, 2])).toBe(1);
    expect(argmin([NaN, 2, 1])).toBe(2);
    expect(() => argmin([])).toThrow();
    expect(
      Array.from(
        meanVector([
          [1, 2],
          [3, 6],
        ]),
      ),
    ).toEqual([2, 4]);
  });
});
