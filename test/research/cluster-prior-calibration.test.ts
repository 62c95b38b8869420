import { describe, expect, it } from 'vitest';
import { createRng, fitClusterPriorCalibrator, fitLogisticNewton, fitPlatt } from '../../research/index';

const sigmoid = (s: number): number => 1 / (1 + Math.exp(-s));

describe('logistic regression by Newton', () => {
  it('recovers known coefficients', () => {
    const rng = createRng(7);
    const rows: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const a = rng.normal();
      const b = rng.normal();
      rows.push([a, b, 1]);
      y.push(rng.next() < sigmoid(1.5 * a - 0.8 * b + 0.3) ? 1 : 0);
    }
    const w = fitLogisticNewton(rows, y, 1e-2);
    expect(w[0]).toBeCloseTo(1.5, 1);
    expect(w[1]).toBeCloseTo(-0.8, 1);
    expect(w[2]).toBeCloseTo(0.3, 1);
  });
});

describe('cluster prior + confidence calibration (hybrid)', () => {
  // Two clusters: the local model is right 85% of the time in cluster 0 and 25% in cluster 1,
  // and its confidence is informative within each cluster as well.
  function samples(n: number, seed: number) {
    const rng = createRng(seed);
    return Array.from({ length: n }, () => {
      const k = rng.next() < 0.5 ? 0 : 1;
      const correct = rng.next() < (k === 0 ? 0.85 : 0.25) ? 1 : 0;
      const confidence = (correct ? -0.3 : -1.0) + 0.45 * rng.normal();
      return { clusterProbs: Float64Array.from(k === 0 ? [1, 0] : [0, 1]), confidence, correct };
    });
  }
  const logLoss = (p: number[], y: number[]): number => -p.reduce((a, v, i) => a + (y[i] ? Math.log(v) : Math.log(1 - v)), 0) / p.length;

  it('weights both signals and beats confidence alone out of sample', () => {
    const fit = samples(400, 1);
    const test = samples(4000, 2);
    const calibrator = fitClusterPriorCalibrator(fit, [0.85, 0.25]);
    expect(calibrator.params.wConfidence).toBeGreaterThan(0.3);
    expect(calibrator.params.wPrior).toBeGreaterThan(0.3);
    const platt = fitPlatt(
      fit.map((s) => s.confidence),
      fit.map((s) => s.correct),
    );
    const y = test.map((s) => s.correct);
    const hybrid = logLoss(
      test.map((s) => calibrator.predict(s.clusterProbs, s.confidence)),
      y,
    );
    const confidenceOnly = logLoss(
      test.map((s) => platt.predict(s.confidence)),
      y,
    );
    expect(hybrid).toBeLessThan(confidenceOnly - 0.05);
  });

  it('falls back to the cluster prior before the local model has answered', () => {
    const calibrator = fitClusterPriorCalibrator(samples(2000, 3), [0.85, 0.25]);
    expect(calibrator.predict(Float64Array.from([1, 0]), NaN)).toBeCloseTo(0.85, 1);
    expect(calibrator.predict(Float64Array.from([0, 1]), NaN)).toBeCloseTo(0.25, 1);
    expect(() => calibrator.predict(Float64Array.from([1]), -0.5)).toThrow(/cluster probabilities/);
  });
});
