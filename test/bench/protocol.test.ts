import { describe, expect, it } from 'vitest';
import { createRng, type LabelledPrompt } from '../../research/index';
import { runSeed } from '../../bench/protocol';
import { splitModels, splitPrompts } from '../../dev/data';

/**
 * Two tasks in embedding space. 'small' is right on task A and wrong on task B; 'large' is right
 * on both at 10× the price; 'mid' is right half the time anywhere. Routing by cluster should
 * send A to small and B to large, which no fixed mix of models can do.
 */
function twoTaskSet(n: number, seed: number): LabelledPrompt[] {
  const rng = createRng(seed);
  const dim = 16;
  return Array.from({ length: n }, (_, i) => {
    const task = i % 2;
    const e = new Float32Array(dim);
    for (let j = 0; j < dim; j++) e[j] = 0.15 * rng.normal();
    e[task] += 1;
    let s = 0;
    for (const v of e) s += v * v;
    for (let j = 0; j < dim; j++) e[j] /= Math.sqrt(s);
    const smallRight = task === 0 ? 1 : 0;
    // The local model's own confidence is informative: high when right, low when wrong (noisy).
    const confidence = (smallRight ? -0.2 : -1.2) + 0.3 * rng.normal();
    return {
      id: `p${i}`,
      embedding: e,
      scores: { small: smallRight, mid: rng.next() < 0.5 ? 1 : 0, large: 1 },
      confidences: { small: confidence },
    };
  });
}

const models = [
  { id: 'small', cost: 1 },
  { id: 'mid', cost: 3 },
  { id: 'large', cost: 10 },
];

describe('quality benchmark protocol', () => {
  it('splits prompts 60/10/30 deterministically and models into seen/unseen', () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const a = splitPrompts(items, 3);
    expect([a.train.length, a.validation.length, a.test.length]).toEqual([600, 100, 300]);
    expect(splitPrompts(items, 3)).toEqual(a);
    expect(new Set([...a.train, ...a.validation, ...a.test]).size).toBe(1000);
    expect(splitPrompts(items, 4).train).not.toEqual(a.train);
    const m = splitModels(
      Array.from({ length: 11 }, (_, i) => ({ id: `m${i}`, cost: i })),
      1,
      0.6,
    );
    expect([m.seen.length, m.unseen.length]).toEqual([7, 4]);
  });

  it('routes by cluster where a fixed mix of models cannot, and never beats the oracle', () => {
    const result = runSeed(twoTaskSet(600, 1), { name: 'synthetic', models, pair: { weak: 'small', strong: 'large' } }, { seed: 0 });
    const area = (name: string): number => result.routers[name]!.area;
    expect(result.clusters).toBeGreaterThanOrEqual(2);
    expect(area('uniroute-kmeans')).toBeGreaterThan(area('zero-router') + 0.05);
    expect(area('uniroute-learned-map')).toBeGreaterThan(area('zero-router') + 0.05);
    expect(area('knn')).toBeGreaterThan(area('zero-router'));
    for (const name of Object.keys(result.routers)) expect(area(name)).toBeLessThanOrEqual(area('oracle') + 1e-9);
    // Sending task A to small and B to large recovers the whole gap at half the strong calls.
    expect(result.routers['uniroute-kmeans']!.cpt80).toBeLessThan(0.6);
    expect(result.routers['random']!.apgr).toBeGreaterThan(0.4);
    expect(result.routers['random']!.apgr).toBeLessThan(0.6);
    // The best possible APGR here is 0.75: PGR climbs to 1 at a strong share of 0.5, then stays.
    expect(result.routers['oracle']!.apgr).toBeCloseTo(0.75, 2);
    expect(result.routers['confidence-mlp']!.apgr).toBeGreaterThan(0.7);
    expect(result.routers['uniroute-kmeans']!.apgr).toBeGreaterThan(0.7);
  });

  it('in a cascade block the local model is free and the hybrid uses both signals', () => {
    const prompts = twoTaskSet(800, 2).map((p) => ({ ...p }));
    const local = [{ id: 'small', cost: 0 }, ...models.slice(1)];
    const result = runSeed(prompts, { name: 'synthetic@small', models: local, pair: { weak: 'small', strong: 'large' }, localModel: 'small' }, { seed: 1 });
    const r = result.routers;
    expect(result.singleModels.find((s) => s.modelId === 'small')!.cost).toBe(0);
    expect(r['confidence-only']!.area).toBeGreaterThan(r['zero-router']!.area);
    expect(r['hybrid-conditional-kmeans']!.area).toBeGreaterThanOrEqual(r['confidence-only']!.area - 0.01);
    expect(r['hybrid-conditional-kmeans']!.area).toBeGreaterThanOrEqual(r['uniroute-kmeans']!.area - 0.01);
  });

  it('drops and counts test prompts a model was not scored on, and flags a pair whose strong model is not the best', () => {
    const prompts = twoTaskSet(600, 3).map((p, i) => (i % 10 === 0 ? { ...p, scores: { small: p.scores['small']!, large: 1 } } : p));
    const result = runSeed(prompts, { name: 'gappy', models, pair: { weak: 'small', strong: 'mid' } }, { seed: 0 });
    expect(result.gaps.testWithoutScores).toBeGreaterThan(0);
    expect(result.sizes.test + result.gaps.testWithoutScores).toBe(180);
    expect(result.pairFlags.some((f) => /mid is not the best \(large is/.test(f))).toBe(true);
    const clean = runSeed(twoTaskSet(600, 3), { name: 'clean', models, pair: { weak: 'small', strong: 'large' } }, { seed: 0 });
    expect(clean.pairFlags).toEqual([]);
    expect(clean.gaps.testWithoutScores).toBe(0);
    expect(typeof clean.choices['knnK']).toBe('number');
  });

  it('runs the universal-difficulty router by default, and not when turned off', () => {
    const spec = { name: 'synthetic', models, pair: { weak: 'small', strong: 'large' } };
    const withIrt = runSeed(twoTaskSet(600, 1), spec, { seed: 0 });
    expect(withIrt.routers['irt-difficulty']!.area).toBeGreaterThan(withIrt.routers['zero-router']!.area + 0.05);
    expect(withIrt.routers['irt-difficulty']!.area).toBeLessThanOrEqual(withIrt.routers['oracle']!.area + 1e-9);
    expect(runSeed(twoTaskSet(600, 1), spec, { seed: 0, difficultyRouter: false }).routers['irt-difficulty']).toBeUndefined();
  });

  it("adds the hybrid with a k-NN predictor of the local model's correctness when asked", () => {
    const local = [{ id: 'small', cost: 0 }, ...models.slice(1)];
    const spec = { name: 'synthetic@small', models: local, pair: { weak: 'small', strong: 'large' }, localModel: 'small' };
    const r = runSeed(twoTaskSet(800, 2), spec, { seed: 1, localKnnFeature: true }).routers;
    // The embedding tells task A (small right) from task B: the k-NN feature alone routes well.
    expect(r['hybrid-fitted-knn-local']!.area).toBeGreaterThan(r['zero-router']!.area + 0.05);
    expect(r['hybrid-fitted-knn-local']!.area).toBeLessThanOrEqual(r['oracle']!.area + 1e-9);
    expect(runSeed(twoTaskSet(800, 2), spec, { seed: 1 }).routers['hybrid-fitted-knn-local']).toBeUndefined();
  });
});
