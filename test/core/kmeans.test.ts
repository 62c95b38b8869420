import { describe, expect, it } from 'vitest';
import { kmeans } from '../../src/core/kmeans';
import { createRng } from '../../src/core/random';
import { cosine } from '../../src/core/linalg';

/** `perCluster` noisy points around each of `k` random directions in `dim` dimensions. */
function blobs(k: number, perCluster: number, dim: number, noise: number, seed: number) {
  const rng = createRng(seed);
  const centres = Array.from({ length: k }, () => Float32Array.from({ length: dim }, () => rng.normal()));
  const points: Float32Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < perCluster; i++) {
      points.push(Float32Array.from(centres[c]!, (v) => v + noise * rng.normal()));
      labels.push(c);
    }
  }
  // Interleave so that order does not give the clusters away.
  const order = rng.shuffle(Array.from({ length: points.length }, (_, i) => i));
  return { points: order.map((i) => points[i]!), labels: order.map((i) => labels[i]!), centres };
}

/** True when the two labelings are the same partition up to renaming. */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]!) ?? b[i]) !== b[i] || (ba.get(b[i]!) ?? a[i]) !== a[i]) return false;
    ab.set(a[i]!, b[i]!);
    ba.set(b[i]!, a[i]!);
  }
  return true;
}

describe('kmeans', () => {
  it('is deterministic for a seed', () => {
    const { points } = blobs(4, 30, 16, 1.0, 1);
    const r1 = kmeans(points, { k: 4, seed: 9 });
    const r2 = kmeans(points, { k: 4, seed: 9 });
    expect(Array.from(r2.assignments)).toEqual(Array.from(r1.assignments));
    expect(r2.centroids.map((c) => Array.from(c))).toEqual(r1.centroids.map((c) => Array.from(c)));
    expect(r2.inertia).toBe(r1.inertia);
  });

  it('recovers well-separated clusters for every seed, with unit-norm centroids near the true directions', () => {
    const { points, labels, centres } = blobs(5, 40, 32, 0.3, 2);
    for (const seed of [0, 1, 2, 3]) {
      const r = kmeans(points, { k: 5, seed });
      expect(r.centroids).toHaveLength(5);
      expect(samePartition(r.assignments, labels)).toBe(true);
      for (const c of r.centroids) {
        const n = Math.hypot(...Array.from(c));
        expect(n).toBeCloseTo(1, 5);
        expect(Math.max(...centres.map((t) => cosine(c, t)))).toBeGreaterThan(0.99);
      }
    }
  });

  it('inertia is Σ(1 − cos) of points to their assigned centroids', () => {
    const { points } = blobs(3, 20, 8, 0.8, 3);
    const r = kmeans(points, { k: 3, seed: 0 });
    let expected = 0;
    points.forEach((p, i) => {
      expected += 1 - cosine(p, r.centroids[r.assignments[i]!]!);
    });
    expect(r.inertia).toBeCloseTo(expected, 5);
    // Assignments are to the nearest centroid.
    points.forEach((p, i) => {
      const sims = r.centroids.map((c) => cosine(p, c));
      expect(sims[r.assignments[i]!]).toBeCloseTo(Math.max(...sims), 6);
    });
  });

  it('reseeds an empty cluster from the point farthest from its centroid', () => {
    // Two tight groups on axes 0 and 1; both initial centroids see every point on one side, so
    // the second cluster starts empty and must be reseeded to split the groups.
    const rng = createRng(4);
    const points: Float32Array[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 20; i++) {
      const g = i % 2;
      const p = new Float32Array(4);
      p[g] = 1;
      p[2] = 0.05 * rng.normal();
      points.push(p);
      labels.push(g);
    }
    const s = Math.SQRT1_2;
    const r = kmeans(points, {
      k: 2,
      initialCentroids: [
        [s, s, 0, 0],
        [-s, -s, 0, 0],
      ],
    });
    expect(r.centroids).toHaveLength(2);
    expect(samePartition(r.assignments, labels)).toBe(true);
    const counts = [0, 0];
    for (const a of r.assignments) counts[a]!++;
    expect(counts).toEqual([10, 10]);
    expect(r.inertia).toBeLessThan(0.05);
  });

  it('clamps k > n and collapses identical points to one centroid', () => {
    const three = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ].map((v) => Float32Array.from(v));
    const r = kmeans(three, { k: 10, seed: 0 });
    expect(r.centroids).toHaveLength(3);
    expect(new Set(r.assignments).size).toBe(3);
    expect(r.inertia).toBeCloseTo(0, 10);

    const same = Array.from({ length: 6 }, () => Float32Array.from([0.6, 0.8]));
    const s = kmeans(same, { k: 3, seed: 5 });
    expect(s.centroids).toHaveLength(1);
    expect(Array.from(s.assignments)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(s.centroids[0]!)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(s.inertia).toBeCloseTo(0, 6);
  });

  it('rejects no points, k < 1 and ragged dimensions', () => {
    expect(() => kmeans([], { k: 2 })).toThrow(/no embeddings/);
    expect(() => kmeans([[1, 0]], { k: 0 })).toThrow(/k must be/);
    expect(() =>
      kmeans(
        [
          [1, 0],
          [1, 0, 0],
        ],
        { k: 1 },
      ),
    ).toThrow(/dimension/);
  });

  it('handles 2,000 × 128 with k = 32 quickly', () => {
    const { points } = blobs(32, 63, 128, 2, 6);
    const t = performance.now();
    const r = kmeans(points, { k: 32, seed: 1 });
    expect(performance.now() - t).toBeLessThan(5000);
    expect(r.centroids).toHaveLength(32);
    expect(r.iterations).toBeGreaterThan(0);
  });
});
