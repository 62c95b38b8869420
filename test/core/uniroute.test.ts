import { describe, expect, it } from 'vitest';
import {
  addModel,
  buildProfile,
  decide,
  decisionPath,
  DEFAULT_SHRINKAGE,
  evaluatePredictions,
  evaluateRouter,
  expectedErrors,
  fitLearnedClusterMap,
  hardClusterMap,
  LearnedClusterMap,
  learnedMapGradient,
  learnedMapLogLoss,
  operatingPieces,
  route,
  sweepLambdas,
  UniRouteRouter,
} from '../../research/index';
import { kmeans } from '../../src/core/kmeans';
import { createRng } from '../../src/core/random';
import type { LabelledPrompt, ModelSpec } from '../../src/core/types';
import { MODELS, near, twoClusterPrompts, unit } from './uniroute-fixtures';

const CENTROIDS = [unit(0), unit(1)];

describe('hardClusterMap', () => {
  it('is one-hot on the most cosine-similar centroid', () => {
    const map = hardClusterMap([
      [2, 0],
      [0, 1],
    ]);
    expect(Array.from(map.probabilities(Float32Array.from([0.9, 0.1])))).toEqual([1, 0]);
    expect(Array.from(map.probabilities(Float32Array.from([0.1, 0.3])))).toEqual([0, 1]);
    expect(map.nearest(Float32Array.from([0.5, 0.5]))).toBe(0); // tie → lower index
    expect(() => map.probabilities(Float32Array.from([1, 0, 0]))).toThrow(/dimension/);
  });
});

describe('buildProfile / UniRouteRouter', () => {
  const validation = twoClusterPrompts(10, 6, 1);

  it('computes Ψ with shrinkage toward the global error (hand-computed)', () => {
    const profile = buildProfile({ validation, models: MODELS, centroids: CENTROIDS, shrinkage: 5 });
    // A: errors 0 on the 10 cluster-1 prompts, 1 on the 6 cluster-2 prompts; global 6/16.
    const gA = 6 / 16;
    const gB = 10 / 16;
    expect(profile.globalErrors[0]).toBeCloseTo(gA, 12);
    expect(profile.globalErrors[1]).toBeCloseTo(gB, 12);
    expect(profile.featureVectors[0]![0]).toBeCloseTo((10 * 0 + 5 * gA) / (10 + 5), 12); // 0.125
    expect(profile.featureVectors[0]![1]).toBeCloseTo((6 * 1 + 5 * gA) / (6 + 5), 12); // 0.7159…
    expect(profile.featureVectors[1]![0]).toBeCloseTo((10 * 1 + 5 * gB) / (10 + 5), 12); // 0.875
    expect(profile.featureVectors[1]![1]).toBeCloseTo((6 * 0 + 5 * gB) / (6 + 5), 12); // 0.2840…
    expect(profile.featureVectors[0]![0]).toBeCloseTo(0.125, 12);

    const raw = buildProfile({ validation, models: MODELS, centroids: CENTROIDS, shrinkage: 0 });
    expect(Array.from(raw.featureVectors[0]!)).toEqual([0, 1]);
    expect(Array.from(raw.featureVectors[1]!)).toEqual([1, 0]);
    expect(DEFAULT_SHRINKAGE).toBe(5);
  });

  it('expectedErrors is Σ_k P(k|x)·Ψ_k(h), what the router predicts from the same P(k|x)', () => {
    const profile = buildProfile({ validation, models: MODELS, centroids: CENTROIDS, shrinkage: 5 });
    const psi = profile.featureVectors;
    expect(Array.from(expectedErrors([0.25, 0.75], psi))).toEqual([0, 1].map((h) => 0.25 * psi[h]![0]! + 0.75 * psi[h]![1]!));
    const x = near(1, createRng(5));
    expect(expectedErrors(profile.clusterMap.probabilities(x), psi)).toEqual(new UniRouteRouter(profile).predictErrors({ embedding: x }));
    expect(() => expectedErrors([1, 0, 0], psi)).toThrow(/clusters/);
  });

  it('routes each test prompt to the model that is right on its cluster (k-means centroids)', () => {
    const km = kmeans(
      validation.map((x) => x.embedding),
      { k: 2, seed: 3 },
    );
    const router = new UniRouteRouter(buildProfile({ validation, models: MODELS, centroids: km.centroids }));
    expect(router.name).toBe('uniroute-kmeans');
    const test = twoClusterPrompts(20, 20, 99, 't');
    for (const x of test) {
      const chosen = MODELS[route(router.predictErrors({ embedding: x.embedding }), MODELS, 0)]!.id;
      expect(chosen).toBe(x.scores.A === 1 ? 'A' : 'B');
    }
    const curve = evaluateRouter(router, test, [0]);
    expect(curve[0]!.quality).toBe(1);
    expect(curve[0]!.shares).toEqual({ A: 0.5, B: 0.5 });
    expect(curve[0]!.cost).toBeCloseTo(0.0015, 12);
  });

  it('uses soft counts Σ P(k|x) for a soft map', () => {
    const soft = { numClusters: 2, probabilities: () => Float64Array.from([0.25, 0.75]) };
    const v: LabelledPrompt[] = [
      { id: 'a', embedding: unit(0), scores: { A: 1 } },
      { id: 'b', embedding: unit(1), scores: { A: 0 } },
    ];
    const p = buildProfile({ validation: v, models: [{ id: 'A', cost: 0 }], clusterMap: soft, shrinkage: 1 });
    // n_1 = 0.5, Σ P·err = 0.25; global 0.5 → (0.25 + 0.5)/(0.5 + 1)
    expect(p.featureVectors[0]![0]).toBeCloseTo(0.75 / 1.5, 12);
    // n_2 = 1.5, Σ P·err = 0.75 → (0.75 + 0.5)/(1.5 + 1)
    expect(p.featureVectors[0]![1]).toBeCloseTo(1.25 / 2.5, 12);
  });

  it('addModel of an unseen model equals building with it from scratch', () => {
    const base = buildProfile({ validation, models: [MODELS[0]!], centroids: CENTROIDS });
    const byId: Record<string, number> = {};
    for (const x of validation) byId[x.id] = x.scores.B!;
    const added = addModel(base, 'B', 0.001, byId);
    const full = buildProfile({ validation, models: MODELS, centroids: CENTROIDS });
    expect(added.models).toEqual(full.models);
    expect(Array.from(added.featureVectors[1]!)).toEqual(Array.from(full.featureVectors[1]!));
    expect(added.globalErrors).toEqual(full.globalErrors);
    expect(base.models).toHaveLength(1); // input left unchanged
    // Array form in validation order gives the same.
    const byOrder = addModel(
      base,
      'B',
      0.001,
      validation.map((x) => x.scores.B!),
    );
    expect(Array.from(byOrder.featureVectors[1]!)).toEqual(Array.from(full.featureVectors[1]!));
    expect(() => addModel(base, 'A', 0, byId)).toThrow(/duplicate/);
    expect(() => addModel(base, 'C', 0, {})).toThrow(/no validation scores/);
  });

  it('addModel also matches from-scratch with a soft (learned) map', () => {
    const map = LearnedClusterMap.fromCentroids(CENTROIDS, 3);
    const base = buildProfile({ validation, models: [MODELS[0]!], clusterMap: map });
    const added = addModel(
      base,
      'B',
      0.001,
      validation.map((x) => x.scores.B!),
    );
    const full = buildProfile({ validation, models: MODELS, clusterMap: map });
    const a = Array.from(added.featureVectors[1]!);
    const f = Array.from(full.featureVectors[1]!);
    a.forEach((v, i) => expect(v).toBeCloseTo(f[i]!, 14));
    expect(new UniRouteRouter(added).name).toBe('uniroute-learned-map');
  });
});

describe('learned cluster map', () => {
  const training = twoClusterPrompts(30, 30, 11, 'tr');
  const validation = twoClusterPrompts(15, 15, 12, 'va');
  const test = twoClusterPrompts(25, 25, 13, 'te');

  it('analytic gradient matches finite differences (gradient flows through Ψ)', () => {
    const rng = createRng(3);
    const map = LearnedClusterMap.fromCentroids([unit(0), unit(1), unit(2)], 2);
    for (let i = 0; i < map.bias.length; i++) map.bias[i] = 0.3 * rng.normal();
    const prompts = training.slice(25, 40);
    const g = learnedMapGradient(map, prompts, MODELS, 2);
    const h = 1e-6;
    for (const i of [0, 1, 9, 17, 20]) {
      const t = map.theta.slice();
      t[i] = t[i]! + h;
      const up = learnedMapLogLoss(new LearnedClusterMap(t, map.bias, map.dim), prompts, MODELS, 2);
      expect((up - g.loss) / h).toBeCloseTo(g.theta[i]!, 5);
    }
    const b = map.bias.slice();
    b[1] = b[1]! + h;
    const upB = learnedMapLogLoss(new LearnedClusterMap(map.theta, b, map.dim), prompts, MODELS, 2);
    expect((upB - g.loss) / h).toBeCloseTo(g.bias[1]!, 5);
  });

  it('reduces log-loss from its (soft) init and then routes the synthetic case correctly', () => {
    // τ = 0.2 makes the init nearly uniform, so Ψ is uninformative; fitting must sharpen the map.
    const fit = fitLearnedClusterMap({ centroids: CENTROIDS, training, trainingModels: MODELS, temperature: 0.2, epochs: 150, learningRate: 0.05 });
    expect(fit.losses).toHaveLength(151);
    expect(fit.initialLoss).toBeGreaterThan(0.6);
    expect(fit.finalLoss).toBeLessThan(0.2);
    // Floor set by shrinkage: Ψ = (30·0 + 5·0.5)/35 on each cluster for the right model.
    expect(fit.finalLoss).toBeGreaterThan(-Math.log(1 - 2.5 / 35) - 1e-6);
    expect(fit.finalLoss).toBeCloseTo(learnedMapLogLoss(fit.map, training, MODELS), 10);
    // It also helps on prompts it did not see.
    const init = LearnedClusterMap.fromCentroids(CENTROIDS, 0.2);
    expect(learnedMapLogLoss(fit.map, test, MODELS)).toBeLessThan(learnedMapLogLoss(init, test, MODELS) - 0.2);

    const router = new UniRouteRouter(buildProfile({ validation, models: MODELS, clusterMap: fit.map }));
    for (const x of test) {
      const d = decide(router.predictErrors({ embedding: x.embedding }), MODELS, 0);
      expect(d.modelId).toBe(x.scores.A === 1 ? 'A' : 'B');
    }
  });

  it('is deterministic', () => {
    const a = fitLearnedClusterMap({ centroids: CENTROIDS, training, trainingModels: MODELS, epochs: 5 });
    const b = fitLearnedClusterMap({ centroids: CENTROIDS, training, trainingModels: MODELS, epochs: 5 });
    expect(Array.from(a.map.theta)).toEqual(Array.from(b.map.theta));
  });
});

describe('route / decide', () => {
  const models: ModelSpec[] = [
    { id: 'big', cost: 3 },
    { id: 'mid', cost: 1 },
    { id: 'mid2', cost: 1 },
    { id: 'local', cost: 0 },
  ];

  it('takes argmin of error + λ·cost', () => {
    expect(route([0.1, 0.3, 0.35, 0.6], models, 0)).toBe(0);
    expect(route([0.1, 0.3, 0.35, 0.6], models, 0.2)).toBe(1); // 0.7, 0.5, 0.55, 0.6
    expect(route([0.1, 0.3, 0.35, 0.6], models, 0.5)).toBe(3);
  });

  it('breaks ties toward the cheaper model, then the lower index', () => {
    expect(route([0.2, 0.2, 0.2, 0.2], models, 0)).toBe(3);
    expect(route([0.2, 0.4, 0.4, 0.9], models, 0)).toBe(0);
    expect(route([0.5, 0.4, 0.4, 0.9], models, 0)).toBe(1); // mid and mid2 tie at equal cost
    expect(route([0.4, 0.3, 0.4, 0.5], models, 0.1)).toBe(1); // 0.7 vs 0.4 vs 0.5 vs 0.5
    expect(route([0.9, 0.3, 0.3, 0.5], models, 0.2)).toBe(3); // mid 0.5 ties local 0.5 → local
  });

  it('sends everything to the cheapest model for large λ, and validates input', () => {
    expect(route([0, 0, 0, 1], models, 1e9)).toBe(3);
    expect(route([0, 0, 0, 1], models, Infinity)).toBe(3);
    expect(() => route([0, 0, 0, 1], models, -1)).toThrow(/lambda/);
    expect(() => route([0, 0, 0], models, 0)).toThrow();
    const d = decide(Float64Array.from([0.1, 0.3, 0.35, 0.6]), models, 0.2);
    expect(d).toMatchObject({ modelIndex: 1, modelId: 'mid', lambda: 0.2 });
    expect(d.objective).toBeCloseTo(0.5, 12);
  });
});

describe('λ sweep and deferral curves', () => {
  const models: ModelSpec[] = [
    { id: 'big', cost: 3 },
    { id: 'mid', cost: 1 },
    { id: 'local', cost: 0 },
  ];

  it('finds the breakpoints of the lower envelope (hand-computed)', () => {
    // big→mid at (0.3−0.1)/2 = 0.1, mid→local at (0.6−0.3)/1 = 0.3.
    const p1 = decisionPath([[0.1, 0.3, 0.6]], models);
    expect(Array.from(p1.initial)).toEqual([0]);
    expect(p1.events.map((e) => [e.from, e.to])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(p1.events[0]!.lambda).toBeCloseTo(0.1, 12);
    expect(p1.events[1]!.lambda).toBeCloseTo(0.3, 12);
    const reps = sweepLambdas([[0.1, 0.3, 0.6]], models);
    expect(reps[0]).toBe(0);
    expect(reps[1]).toBeCloseTo(0.2, 12);
    expect(reps[2]).toBeCloseTo(0.6, 12);
    // mid is never optimal: big→local directly at 0.5/3.
    const p2 = decisionPath([[0.1, 0.5, 0.6]], models);
    expect(p2.events.map((e) => [e.from, e.to])).toEqual([[0, 2]]);
    expect(p2.events[0]!.lambda).toBeCloseTo(0.5 / 3, 12);
  });

  it('the exact sweep agrees with route() at each representative λ', () => {
    const rng = createRng(21);
    const ms: ModelSpec[] = [
      { id: 'a', cost: 0 },
      { id: 'b', cost: 0.5 },
      { id: 'c', cost: 1 },
      { id: 'd', cost: 2 },
    ];
    const prompts: LabelledPrompt[] = [];
    const preds: Float64Array[] = [];
    for (let i = 0; i < 60; i++) {
      const scores: Record<string, number> = {};
      for (const m of ms) scores[m.id] = rng.next() < 0.5 + 0.1 * m.cost ? 1 : 0;
      prompts.push({ id: `q${i}`, embedding: unit(0), scores, costs: { d: 2.5 } });
      preds.push(Float64Array.from(ms, () => rng.next()));
    }
    const lambdas = sweepLambdas(preds, ms);
    expect(lambdas.length).toBeGreaterThan(20);
    const exact = evaluatePredictions(preds, prompts, ms, undefined, { maxPoints: 10_000 });
    const direct = evaluatePredictions(preds, prompts, ms, lambdas);
    expect(exact).toHaveLength(lambdas.length);
    expect(direct.map((p) => p.lambda)).toEqual(exact.map((p) => p.lambda));
    direct.forEach((p, i) => {
      expect(p.cost).toBeCloseTo(exact[i]!.cost, 12);
      expect(p.quality).toBeCloseTo(exact[i]!.quality, 12);
      expect(p.shares).toEqual(exact[i]!.shares);
    });
    // Cost never rises with λ; the last λ sends every prompt to its cheapest model.
    const pieces = operatingPieces(preds, prompts, ms);
    for (let i = 1; i < pieces.length; i++) expect(pieces[i]!.cost).toBeLessThanOrEqual(pieces[i - 1]!.cost + 1e-15);
    expect(pieces[pieces.length - 1]!.counts[0]).toBe(60);
    // Recorded per-prompt cost (d: 2.5) is used instead of the model's cost.
    const atZero = pieces[0]!;
    let expected = 0;
    preds.forEach((e) => {
      const h = route(e, ms, 0);
      expected += h === 3 ? 2.5 : ms[h]!.cost;
    });
    expect(atZero.cost).toBeCloseTo(expected / 60, 12);
    // Thinning keeps the ends.
    const thin = sweepLambdas(preds, ms, { maxPoints: 5 });
    expect(thin).toHaveLength(5);
    expect(thin[0]).toBe(lambdas[0]);
    expect(thin[4]).toBe(lambdas[lambdas.length - 1]);
  });
});
