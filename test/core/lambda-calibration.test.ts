import { describe, expect, it } from 'vitest';
import { calibrateLambda, calibrateLambdaFromPredictions, calibrateThreshold } from '../../src/core/lambda-calibration';
import { buildProfile, route, UniRouteRouter } from '../../src/core/uniroute';
import { createRng } from '../../src/core/random';
import type { LabelledPrompt, ModelSpec } from '../../src/core/types';
import { twoClusterPrompts, unit } from './uniroute-fixtures';

const MODELS: ModelSpec[] = [
  { id: 'local', cost: 0 },
  { id: 'cloud-mini', cost: 0.0005 },
  { id: 'cloud', cost: 0.002 },
];

/** 1,000 prompts with random predicted errors; the cloud models are better on average. */
function synthetic(seed: number) {
  const rng = createRng(seed);
  const prompts: LabelledPrompt[] = [];
  const preds: Float64Array[] = [];
  for (let i = 0; i < 1000; i++) {
    const e = Float64Array.from([0.2 + 0.6 * rng.next(), 0.15 + 0.4 * rng.next(), 0.05 + 0.2 * rng.next()]);
    preds.push(e);
    prompts.push({
      id: `c${i}`,
      embedding: unit(0),
      scores: { local: rng.next() < 1 - e[0]! ? 1 : 0, 'cloud-mini': rng.next() < 1 - e[1]! ? 1 : 0, cloud: rng.next() < 1 - e[2]! ? 1 : 0 },
    });
  }
  return { prompts, preds };
}

/** Shares / cost / quality of deploying λ, recomputed independently with route(). */
function deploy(preds: readonly Float64Array[], prompts: readonly LabelledPrompt[], lambda: number) {
  let cloud = 0;
  let cost = 0;
  let quality = 0;
  preds.forEach((e, i) => {
    const h = route(e, MODELS, lambda);
    if (MODELS[h]!.cost > 0) cloud++;
    cost += MODELS[h]!.cost;
    quality += prompts[i]!.scores[MODELS[h]!.id]!;
  });
  const n = preds.length;
  return { cloud: cloud / n, usdPer1000: (cost / n) * 1000, quality: quality / n };
}

describe('calibrateLambda', () => {
  const { prompts, preds } = synthetic(5);

  it('hits a cloud-call share within one prompt, and the λ reproduces it', () => {
    for (const share of [0.1, 0.3, 0.75]) {
      const c = calibrateLambdaFromPredictions(preds, prompts, MODELS, { kind: 'cloudShare', share });
      expect(c.feasible).toBe(true);
      expect(c.achieved).toBeLessThanOrEqual(share);
      expect(c.achieved).toBeGreaterThan(share - 0.005);
      expect(deploy(preds, prompts, c.lambda).cloud).toBeCloseTo(c.achieved, 12);
    }
  });

  it('respects a custom cloud predicate', () => {
    const c = calibrateLambdaFromPredictions(preds, prompts, MODELS, {
      kind: 'cloudShare',
      share: 0.2,
      isCloud: (m) => m.id === 'cloud',
    });
    expect(c.achieved).toBeLessThanOrEqual(0.2);
    expect(c.achieved).toBeGreaterThan(0.19);
    expect(c.shares.cloud).toBeCloseTo(c.achieved, 12);
  });

  it('meets a budget per 1,000 prompts as closely as possible', () => {
    const c = calibrateLambdaFromPredictions(preds, prompts, MODELS, { kind: 'budget', usdPer1000: 0.5 });
    expect(c.achieved).toBeLessThanOrEqual(0.5);
    expect(c.achieved).toBeGreaterThan(0.5 - (0.002 * 1000) / 1000 - 1e-9); // within one cloud call
    expect(deploy(preds, prompts, c.lambda).usdPer1000).toBeCloseTo(c.achieved, 10);
    const none = calibrateLambdaFromPredictions(preds, prompts, MODELS, { kind: 'budget', usdPer1000: 0 });
    expect(none.achieved).toBe(0);
    expect(none.shares.local).toBe(1);
  });

  it('finds the cheapest point above a quality floor, and flags infeasible floors', () => {
    const local = deploy(preds, prompts, 1e9).quality;
    const best = deploy(preds, prompts, 0).quality;
    const floor = (local + best) / 2;
    const c = calibrateLambdaFromPredictions(preds, prompts, MODELS, { kind: 'qualityFloor', quality: floor });
    expect(c.feasible).toBe(true);
    expect(c.achieved).toBeGreaterThanOrEqual(floor);
    expect(deploy(preds, prompts, c.lambda).quality).toBeCloseTo(c.achieved, 12);
    expect(c.cost).toBeLessThan(deploy(preds, prompts, 0).usdPer1000 / 1000);
    const impossible = calibrateLambdaFromPredictions(preds, prompts, MODELS, { kind: 'qualityFloor', quality: 1.01 });
    expect(impossible.feasible).toBe(false);
    const pred = calibrateLambdaFromPredictions(preds, prompts, MODELS, { kind: 'qualityFloor', quality: 0.8, use: 'predicted' });
    expect(pred.achieved).toBeGreaterThanOrEqual(0.8);
  });

  it('works from a router', () => {
    const validation = twoClusterPrompts(40, 60, 3);
    const models: ModelSpec[] = [
      { id: 'A', cost: 0.002 },
      { id: 'B', cost: 0 },
    ];
    const router = new UniRouteRouter(buildProfile({ validation, models, centroids: [unit(0), unit(1)] }));
    // B (free) is right on the 60 cluster-2 prompts: a 40% cloud share routes perfectly.
    const c = calibrateLambda(router, validation, { kind: 'cloudShare', share: 0.4 });
    expect(c.achieved).toBeCloseTo(0.4, 12);
    expect(c.quality).toBe(1);
  });
});

describe('calibrateThreshold', () => {
  it('gives the largest share below the threshold that does not exceed the target', () => {
    const scores = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0];
    const t = calibrateThreshold(scores, 0.3);
    expect(t.threshold).toBe(0.3);
    expect(t.achieved).toBeCloseTo(0.3, 12);
    expect(scores.filter((s) => s < t.threshold).length / scores.length).toBeCloseTo(t.achieved, 12);
    expect(calibrateThreshold(scores, 1)).toEqual({ threshold: Infinity, achieved: 1 });
    expect(calibrateThreshold(scores, 0).achieved).toBe(0);
  });

  it('falls short rather than overshoot on ties', () => {
    const t = calibrateThreshold([0.1, 0.5, 0.5, 0.9], 0.5);
    expect(t).toEqual({ threshold: 0.5, achieved: 0.25 });
    expect(() => calibrateThreshold([], 0.5)).toThrow();
    expect(() => calibrateThreshold([0.1], 1.5)).toThrow();
  });
});
