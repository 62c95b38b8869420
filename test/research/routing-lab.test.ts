import { describe, expect, it } from 'vitest';
import { lambdaRange, LAMBDA_ROUTERS, operatingPoint, pointForTarget, runRoutingLab, splitFitTest } from '../../research/routing-lab';
import type { ModelSpec } from '../../src/core/types';
import { twoClusterPrompts } from '../core/uniroute-fixtures';

// Two clusters; A is right on the first, B on the second, and a free local model C is right on
// nothing: the routers must learn to split A/B by cluster, which no fixed mix can do.
const MODELS: ModelSpec[] = [
  { id: 'A', cost: 0.002 },
  { id: 'B', cost: 0.001 },
  { id: 'C', cost: 0 },
];
const prompts = twoClusterPrompts(60, 60, 3).map((x) => ({ ...x, scores: { ...x.scores, C: 0 } }));

describe('routing lab', () => {
  const lab = runRoutingLab(prompts, MODELS, { k: 2, seed: 5 });

  it('splits fit/test by the seed, without overlap', () => {
    expect(lab.sizes).toEqual({ fit: 84, test: 36 });
    const ids = new Set(lab.fit.map((x) => x.id));
    expect(lab.test.some((x) => ids.has(x.id))).toBe(false);
    expect(splitFitTest([1, 2, 3, 4, 5], 0.6, 9)).toEqual(splitFitTest([1, 2, 3, 4, 5], 0.6, 9));
    expect(() => splitFitTest([1], 1, 0)).toThrow(/fitShare/);
  });

  it('UniRoute finds the per-cluster split that a fixed mix of models cannot', () => {
    const area = (name: string): number => lab.routers[name]!.area;
    expect(area('uniroute-kmeans')).toBeGreaterThan(area('zero-router') + 0.1);
    expect(area('uniroute-learned-map')).toBeGreaterThan(area('zero-router') + 0.1);
    expect(area('oracle')).toBeGreaterThanOrEqual(area('uniroute-kmeans') - 1e-9);
    // At λ = 0 the best predicted model per prompt is chosen: every test prompt is answered right.
    for (const name of LAMBDA_ROUTERS) expect(operatingPoint(lab, name, 0).quality).toBeCloseTo(1, 6);
  });

  it('a large λ sends everything to the free model; a cloud-share target is met on the fit prompts', () => {
    const { max } = lambdaRange(lab);
    const cheap = operatingPoint(lab, 'uniroute-kmeans', max * 2);
    expect(cheap.shares?.C).toBe(1);
    expect(cheap.cost).toBe(0);
    const half = pointForTarget(lab, 'uniroute-kmeans', { kind: 'cloudShare', share: 0.5 });
    expect(half.feasible).toBe(true);
    expect(half.achievedOnFit).toBeLessThanOrEqual(0.5);
    expect(half.test.quality).toBeGreaterThan(0.3);
    expect(() => operatingPoint(lab, 'knn', -1)).toThrow(/λ must be/);
  });

  it('refuses inputs it cannot route', () => {
    expect(() => runRoutingLab(prompts.slice(0, 10), MODELS)).toThrow(/at least 20 prompts/);
    expect(() => runRoutingLab(prompts, MODELS.slice(0, 1))).toThrow(/at least two models/);
    const unscored = prompts.map((x, i) => (i === 7 ? { ...x, scores: { A: 1, B: 0 } } : x));
    expect(() => runRoutingLab(unscored, MODELS)).toThrow(/has no score for model C/);
  });
});
