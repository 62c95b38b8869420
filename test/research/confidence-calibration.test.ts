import { describe, expect, it } from 'vitest';
import { fitClusterConfidenceCalibrator, fitIsotonic, fitPlatt, PlattCalibrator, ClusterConfidenceCalibrator } from '../../research/confidence-calibration';
import { createRng } from '../../src/core/random';

const sigma = (s: number) => 1 / (1 + Math.exp(-s));

describe('Platt scaling', () => {
  it('recovers a known logistic P = σ(1.5·c − 0.5)', () => {
    const rng = createRng(7);
    const n = 20000;
    const c = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      // raw scale like a mean log-prob: c in roughly [−4, 2]
      c[i] = -1 + 1.5 * rng.normal();
      y[i] = rng.next() < sigma(1.5 * c[i]! - 0.5) ? 1 : 0;
    }
    const p = fitPlatt(c, y);
    // standard errors at n = 20000 are ≈ 0.03; 0.1 is a 3σ band
    expect(p.a).toBeGreaterThan(1.4);
    expect(p.a).toBeLessThan(1.6);
    expect(p.b).toBeGreaterThan(-0.6);
    expect(p.b).toBeLessThan(-0.4);
    expect(p.predict(0)).toBeCloseTo(sigma(p.b), 12);
  });

  it('stays finite and monotone on separable data; non-finite confidence → NaN', () => {
    const c = [-3, -2, -1, 1, 2, 3];
    const y = [0, 0, 0, 1, 1, 1];
    const p = fitPlatt(c, y);
    expect(Number.isFinite(p.a) && Number.isFinite(p.b)).toBe(true);
    expect(p.a).toBeGreaterThan(0);
    expect(p.predict(2)).toBeGreaterThan(0.95);
    expect(p.predict(-2)).toBeLessThan(0.05);
    expect(p.predict(NaN)).toBeNaN();
  });

  it('one-class labels give a finite fit near that class; non-finite samples are ignored', () => {
    const p = fitPlatt([0.1, 0.2, 0.3, NaN], [1, 1, 1, 0]);
    expect(Number.isFinite(p.b)).toBe(true);
    expect(p.predict(0.2)).toBeGreaterThan(0.9);
  });

  it('serialises', () => {
    expect(new PlattCalibrator(2, -1).toJSON()).toEqual({ kind: 'platt', a: 2, b: -1 });
  });
});

describe('isotonic calibration', () => {
  it('PAV hand case', () => {
    // labels 1,0,1,1 at c = 1..4: (1,1),(2,0) violate → pooled to 0.5 on [1,2]; then 1, 1.
    const iso = fitIsotonic([4, 1, 3, 2], [1, 1, 1, 0]);
    expect(iso.predict(0)).toBeCloseTo(0.5, 12);
    expect(iso.predict(1.5)).toBeCloseTo(0.5, 12);
    expect(iso.predict(2.5)).toBeCloseTo(0.75, 12); // between (2, 0.5) and (3, 1)
    expect(iso.predict(10)).toBeCloseTo(1, 12);
  });
  it('is non-decreasing on noisy data', () => {
    const rng = createRng(3);
    const c = Array.from({ length: 500 }, () => rng.normal());
    const y = c.map((v) => (rng.next() < sigma(2 * v) ? 1 : 0));
    const iso = fitIsotonic(c, y);
    let prev = -Infinity;
    for (let v = -3; v <= 3; v += 0.05) {
      const p = iso.predict(v);
      expect(p).toBeGreaterThanOrEqual(prev);
      prev = p;
    }
  });
});

describe('per-cluster calibration', () => {
  // Two clusters with opposite confidence slopes: the global fit is nearly flat.
  const rng = createRng(11);
  const samples: { clusterProbs: Float64Array; confidence: number; correct: number }[] = [];
  for (let i = 0; i < 6000; i++) {
    const k = i % 2;
    const c = rng.normal();
    const logit = k === 0 ? 2 * c + 0.5 : -1.5 * c - 0.5;
    samples.push({
      clusterProbs: k === 0 ? Float64Array.of(1, 0) : Float64Array.of(0, 1),
      confidence: c,
      correct: rng.next() < sigma(logit) ? 1 : 0,
    });
  }

  it('recovers each cluster’s logistic with hard memberships', () => {
    const cal = fitClusterConfidenceCalibrator(samples);
    const c0 = cal.rawCoefficients(0);
    const c1 = cal.rawCoefficients(1);
    // 3000 samples per cluster: standard errors ≈ 0.05–0.08, so 0.25 is a ≥ 3σ band
    expect(Math.abs(c0.a - 2)).toBeLessThan(0.25);
    expect(Math.abs(c0.b - 0.5)).toBeLessThan(0.25);
    expect(Math.abs(c1.a + 1.5)).toBeLessThan(0.25);
    expect(Math.abs(c1.b + 0.5)).toBeLessThan(0.25);
    // the mixture prediction is the membership-weighted sum
    const mix = cal.predict(Float64Array.of(0.3, 0.7), 1);
    expect(mix).toBeCloseTo(0.3 * cal.predictCluster(0, 1) + 0.7 * cal.predictCluster(1, 1), 12);
  });

  it('shrinks a cluster with little data toward the global fit', () => {
    // keep cluster 1 tiny: 20 samples
    let kept1 = 0;
    const small = samples.filter((s) => s.clusterProbs[1] === 0 || kept1++ < 20);
    const free = fitClusterConfidenceCalibrator(small, { shrinkage: 0 });
    const strong = fitClusterConfidenceCalibrator(small, { shrinkage: 1e6 });
    const g = strong.params;
    // huge shrinkage: every cluster ≈ global
    expect(strong.params.a[1]).toBeCloseTo(g.globalA, 3);
    expect(strong.params.b[1]).toBeCloseTo(g.globalB, 3);
    // default lies between the unshrunk fit and the global one
    const mid = fitClusterConfidenceCalibrator(small).params;
    const lo = Math.min(free.params.a[1]!, g.globalA);
    const hi = Math.max(free.params.a[1]!, g.globalA);
    expect(mid.a[1]).toBeGreaterThan(lo);
    expect(mid.a[1]).toBeLessThan(hi);
    expect(Math.abs(free.params.a[1]! - g.globalA)).toBeGreaterThan(0.3);
  });

  it('falls back to per-cluster base rates without a confidence; round-trips params', () => {
    const cal = fitClusterConfidenceCalibrator(samples);
    const p = cal.predict(Float64Array.of(1, 0), NaN);
    expect(p).toBeGreaterThan(0.5); // cluster 0 is right more often than not (logit +0.5 at c = 0)
    const copy = new ClusterConfidenceCalibrator(JSON.parse(JSON.stringify(cal.toJSON())));
    expect(copy.predict(Float64Array.of(0.2, 0.8), 0.3)).toBeCloseTo(cal.predict(Float64Array.of(0.2, 0.8), 0.3), 12);
    expect(() => cal.predict(Float64Array.of(1), 0)).toThrow(RangeError);
  });
});
