import { describe, expect, it } from 'vitest';
import {
  bestSingleModel,
  KnnRouter,
  OracleRouter,
  oracleCurve,
  randomRouterCurve,
  singleModelPoints,
  upperConvexHull,
  zeroRouterCurve,
} from '../../research/baselines';
import { evaluateRouter } from '../../src/core/evaluation';
import { createRng } from '../../src/core/random';
import type { DeferralPoint, LabelledPrompt, ModelSpec } from '../../src/core/types';
import { unit } from '../core/uniroute-fixtures';

/** One prompt whose scores are the models' mean qualities, so single-model points are exact. */
function onePrompt(scores: Record<string, number>): LabelledPrompt[] {
  return [{ id: 'x', embedding: unit(0), scores }];
}

describe('singleModelPoints / zeroRouterCurve', () => {
  const models: ModelSpec[] = [
    { id: 'a', cost: 0 },
    { id: 'b', cost: 1 },
    { id: 'f', cost: 1 },
    { id: 'c', cost: 2 },
    { id: 'e', cost: 2 },
    { id: 'd', cost: 3 },
  ];
  const prompts = onePrompt({ a: 0.5, b: 0.6, f: 0.75, c: 0.9, e: 0.7, d: 0.85 });

  it('measures each model alone', () => {
    const pts = singleModelPoints(prompts, models);
    expect(pts.map((p) => [p.modelId, p.cost, p.quality])).toEqual([
      ['a', 0, 0.5],
      ['b', 1, 0.6],
      ['f', 1, 0.75],
      ['c', 2, 0.9],
      ['e', 2, 0.7],
      ['d', 3, 0.85],
    ]);
    expect(Number.isNaN(pts[0]!.lambda)).toBe(true);
    expect(pts[2]!.shares).toMatchObject({ f: 1, a: 0 });
  });

  it('is the upper convex hull of the single-model points (hand-computed)', () => {
    // a(0,.5) → f(1,.75) → c(2,.9): f lies above the a–c chord (0.7); b, e, d are under it or dominated.
    expect(zeroRouterCurve(prompts, models).map((p) => (p as DeferralPoint & { modelId: string }).modelId)).toEqual(['a', 'f', 'c']);
    // With f gone, b (0.6) is below the a–c chord (0.7) and drops out.
    const withoutF = models.filter((m) => m.id !== 'f');
    expect(zeroRouterCurve(prompts, withoutF).map((p) => p.cost)).toEqual([0, 2]);
  });

  it('drops collinear and dominated points', () => {
    const pts = [
      { lambda: NaN, cost: 0, quality: 0.2 },
      { lambda: NaN, cost: 1, quality: 0.4 }, // on the chord
      { lambda: NaN, cost: 2, quality: 0.6 },
      { lambda: NaN, cost: 3, quality: 0.5 }, // dominated
      { lambda: NaN, cost: 0, quality: 0.1 }, // same cost, worse
    ];
    expect(upperConvexHull(pts).map((p) => [p.cost, p.quality])).toEqual([
      [0, 0.2],
      [2, 0.6],
    ]);
  });
});

describe('randomRouterCurve', () => {
  it('runs from the cheap model to the strong one, near the straight line between them', () => {
    const rng = createRng(8);
    const models: ModelSpec[] = [
      { id: 'cheap', cost: 0 },
      { id: 'strong', cost: 0.01 },
    ];
    const prompts: LabelledPrompt[] = Array.from({ length: 4000 }, (_, i) => ({
      id: `r${i}`,
      embedding: unit(0),
      scores: { cheap: rng.next() < 0.4 ? 1 : 0, strong: rng.next() < 0.8 ? 1 : 0 },
    }));
    const [cheap, strong] = singleModelPoints(prompts, models);
    const curve = randomRouterCurve(prompts, models, { seed: 1, steps: 5 });
    expect(curve).toHaveLength(5);
    expect(curve[0]!.quality).toBe(cheap!.quality);
    expect(curve[4]!.quality).toBe(strong!.quality);
    expect(curve[4]!.cost).toBeCloseTo(0.01, 12);
    const mid = curve[2]!;
    expect(mid.shares!.strong).toBeGreaterThan(0.45);
    expect(mid.shares!.strong).toBeLessThan(0.55);
    const onLine = cheap!.quality + (strong!.quality - cheap!.quality) * (mid.cost / 0.01);
    expect(Math.abs(mid.quality - onLine)).toBeLessThan(0.03);
    for (let i = 1; i < curve.length; i++) expect(curve[i]!.cost).toBeGreaterThanOrEqual(curve[i - 1]!.cost);
    expect(randomRouterCurve(prompts, models, { seed: 1, steps: 5 })).toEqual(curve);
  });
});

describe('KnnRouter', () => {
  const models: ModelSpec[] = [
    { id: 'A', cost: 1 },
    { id: 'B', cost: 0 },
  ];
  const e = (x: number, y: number) => Float32Array.from([x, y]);
  const validation: LabelledPrompt[] = [
    { id: 'v0', embedding: e(1, 0), scores: { A: 1, B: 0 } },
    { id: 'v1', embedding: e(0.9, 0.1), scores: { A: 1, B: 1 } },
    { id: 'v2', embedding: e(0, 1), scores: { A: 0, B: 1 } },
    { id: 'v3', embedding: e(0.1, 0.9), scores: { A: 0, B: 0 } },
  ];

  it('averages errors over the k most cosine-similar validation prompts (hand-computed)', () => {
    const q = { embedding: e(1, 0.05) };
    const k2 = KnnRouter.fromValidation(validation, models, 2);
    expect(Array.from(k2.neighbours(q.embedding))).toEqual([0, 1]);
    expect(Array.from(k2.predictErrors(q))).toEqual([0, 0.5]);
    const k3 = KnnRouter.fromValidation(validation, models, 3);
    expect(Array.from(k3.neighbours(q.embedding))).toEqual([0, 1, 3]);
    const p3 = k3.predictErrors(q);
    expect(p3[0]).toBeCloseTo(1 / 3, 12);
    expect(p3[1]).toBeCloseTo(2 / 3, 12);
    expect(KnnRouter.fromValidation(validation, models, 99).k).toBe(4);
  });

  it('adds an unseen model from its validation scores alone', () => {
    const two = KnnRouter.fromValidation(validation, models, 2);
    const withC = two.addModel('C', 0.5, { v0: 0, v1: 1, v2: 1, v3: 1 });
    const all: LabelledPrompt[] = validation.map((x, i) => ({ ...x, scores: { ...x.scores, C: [0, 1, 1, 1][i]! } }));
    const scratch = KnnRouter.fromValidation(all, [...models, { id: 'C', cost: 0.5 }], 2);
    const q = { embedding: e(0.7, 0.3) };
    expect(Array.from(withC.predictErrors(q))).toEqual(Array.from(scratch.predictErrors(q)));
    expect(withC.predictErrors(q)[2]).toBe(0.5);
    expect(two.models).toHaveLength(2);
  });

  it("shrinks toward each model's global error and skips prompts a model was not scored on", () => {
    // B unscored on v1 (an unseen model's training prompt): its neighbourhood is v0 alone.
    const evidence = validation.map((x) => (x.id === 'v1' ? { ...x, scores: { A: 1 } } : x));
    const knn = KnnRouter.fromEvidence(evidence, models, { k: 2, shrinkage: 2 });
    const q = { embedding: e(1, 0.05) };
    // A: errors 0, 0 on v0, v1; global 2/4. (0 + 2·0.5)/(2 + 2) = 0.25.
    // B: error 1 on v0 only; global over v0, v2, v3 = 2/3. (1 + 2·2/3)/(1 + 2) = 7/9.
    const p = knn.predictErrors(q);
    expect(p[0]).toBeCloseTo(0.25, 12);
    expect(p[1]).toBeCloseTo(7 / 9, 12);
    // One neighbour search serves every k, with the same answers as separate routers.
    const many = knn.predictErrorsForKs(q, [1, 2, 3]);
    for (const [i, k] of [1, 2, 3].entries()) expect(Array.from(many[i]!)).toEqual(Array.from(knn.withK(k).predictErrors(q)));
    expect(() => KnnRouter.fromEvidence(validation, models, { shrinkage: -1 })).toThrow(/shrinkage/);
  });
});

describe('baselines chosen on train+validation', () => {
  const models: ModelSpec[] = [
    { id: 'cheap', cost: 0 },
    { id: 'mid', cost: 1 },
    { id: 'dear', cost: 2 },
  ];
  const p = (id: string, scores: Record<string, number>): LabelledPrompt => ({ id, embedding: Float32Array.from([1]), scores });
  // On the selection prompts mid is on the hull; on test it is not (and dear is best on selection).
  const selection = [p('s0', { cheap: 0, mid: 1, dear: 1 }), p('s1', { cheap: 0, mid: 1, dear: 1 })];
  const test = [p('t0', { cheap: 1, mid: 0, dear: 1 }), p('t1', { cheap: 0, mid: 0, dear: 1 })];

  it('ZeroRouter takes its hull models from the selection prompts and measures them on test', () => {
    expect(zeroRouterCurve(test, models).map((x) => x.quality)).toEqual([0.5, 1]);
    const chosen = zeroRouterCurve(test, models, selection);
    expect(chosen.map((x) => x.cost)).toEqual([0, 1]);
    expect(chosen.map((x) => x.quality)).toEqual([0.5, 0]);
    expect(bestSingleModel(selection, models)).toBe('mid');
    expect(bestSingleModel(test, models)).toBe('dear');
  });
});

describe('oracle', () => {
  const models: ModelSpec[] = [
    { id: 'cheap', cost: 0 },
    { id: 'strong', cost: 1 },
  ];
  const prompts: LabelledPrompt[] = [
    { id: 'o0', embedding: unit(0), scores: { cheap: 1, strong: 1 } },
    { id: 'o1', embedding: unit(1), scores: { cheap: 0, strong: 1 } },
    { id: 'o2', embedding: unit(2), scores: { cheap: 0, strong: 0 } },
  ];

  it('sends each prompt to the cheapest model with the highest score at λ = 0', () => {
    const curve = oracleCurve(prompts, models, [0]);
    expect(curve[0]!.quality).toBeCloseTo(2 / 3, 12);
    expect(curve[0]!.cost).toBeCloseTo(1 / 3, 12);
    expect(curve[0]!.shares).toEqual({ cheap: 2 / 3, strong: 1 / 3 });
  });

  it('its curve dominates every single model and it refuses unknown prompts', () => {
    const full = oracleCurve(prompts, models);
    expect(full.map((p) => [p.cost, p.quality])).toEqual([
      [0, 1 / 3],
      [1 / 3, 2 / 3],
    ]);
    const oracle = new OracleRouter(prompts, models);
    expect(() => oracle.predictErrors({ embedding: unit(0) })).toThrow(/unknown prompt/);
    expect(evaluateRouter(oracle, prompts, [0])).toEqual(oracleCurve(prompts, models, [0]));
  });
});
