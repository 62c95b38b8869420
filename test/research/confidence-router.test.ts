import { describe, expect, it } from 'vitest';
import {
  ConfidenceCascadeRouter,
  ConfidenceKnnRouter,
  ConfidenceMlpRouter,
  HybridRouter,
  KnnSufficiencyPredictor,
  MlpSufficiencyPredictor,
  sufficiencyExamples,
  validationMeanErrors,
  weakSufficesLabel,
  type ClusterMapLike,
  type SufficiencyExample,
} from '../../research/confidence-router';
import { fitClusterConfidenceCalibrator, fitPlatt } from '../../research/confidence-calibration';
import { deferralArea } from '../../src/core/metrics';
import { createRng, type Rng } from '../../src/core/random';
import type { DeferralPoint, LabelledPrompt, ModelSpec, Router, RoutingInput } from '../../src/core/types';

const models: ModelSpec[] = [
  { id: 'local', cost: 0 },
  { id: 'cloud', cost: 1 },
];

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

/** A linearly separable problem with a margin: label = sign(w·e) of a random unit embedding. */
function halfSpace(rng: Rng, n: number, d: number, w: Float32Array): SufficiencyExample[] {
  return Array.from({ length: n }, () => {
    const e = unit(Float32Array.from({ length: d }, () => rng.normal()));
    let s = 0;
    for (let j = 0; j < d; j++) s += w[j]! * e[j]!;
    // margin: drop points too close to the boundary so the problem is cleanly separable
    return { embedding: e, suffices: Math.abs(s) > 0.1 ? (s > 0 ? 1 : 0) : -1 };
  }).filter((x) => x.suffices >= 0);
}

/**
 * Topic-like data: 8 cluster centres, each with a fixed label (not linearly separable: labels
 * alternate around the centres), embeddings = centre + noise. Local methods (k-NN) suit it.
 */
function topics(rng: Rng, centres: readonly Float32Array[], n: number): SufficiencyExample[] {
  return Array.from({ length: n }, () => {
    const k = rng.int(centres.length);
    const e = unit(Float32Array.from(centres[k]!, (v) => v + 0.25 * rng.normal()));
    return { embedding: e, suffices: k % 2 };
  });
}

function accuracy(p: { pSuffices(e: Float32Array): number }, data: readonly SufficiencyExample[]): number {
  let ok = 0;
  for (const x of data) ok += (p.pSuffices(x.embedding) > 0.5 ? 1 : 0) === x.suffices ? 1 : 0;
  return ok / data.length;
}

describe('training labels', () => {
  it('from correctness or from semantic entropy', () => {
    expect(weakSufficesLabel({ weakScore: 1 }, { kind: 'correctness' })).toBe(1);
    expect(weakSufficesLabel({ weakScore: 0.4 }, { kind: 'correctness' })).toBe(0);
    expect(weakSufficesLabel({ weakScore: 0.4 }, { kind: 'correctness', threshold: 0.3 })).toBe(1);
    expect(weakSufficesLabel({ semanticEntropy: 0.2 }, { kind: 'semantic-entropy', threshold: 0.5 })).toBe(1);
    expect(weakSufficesLabel({ semanticEntropy: 0.7 }, { kind: 'semantic-entropy', threshold: 0.5 })).toBe(0);
    expect(() => weakSufficesLabel({}, { kind: 'semantic-entropy', threshold: 0.5 })).toThrow();
  });

  it('sufficiencyExamples and validationMeanErrors over labelled prompts', () => {
    const e = Float32Array.of(1, 0);
    const prompts: LabelledPrompt[] = [
      { id: 'p1', embedding: e, scores: { local: 1, cloud: 1 } },
      { id: 'p2', embedding: e, scores: { local: 0, cloud: 1 } },
      { id: 'p3', embedding: e, scores: { cloud: 0 } },
    ];
    expect(sufficiencyExamples(prompts, 'local', { kind: 'correctness' }).map((x) => x.suffices)).toEqual([1, 0]);
    const se = sufficiencyExamples(prompts, 'local', { kind: 'semantic-entropy', threshold: 0.5 }, { p1: 0.9, p3: 0.1 });
    expect(se.map((x) => x.suffices)).toEqual([0, 1]);
    const errs = validationMeanErrors(prompts, models);
    expect(errs.local).toBeCloseTo(0.5, 12);
    expect(errs.cloud).toBeCloseTo(1 / 3, 12);
  });
});

describe('predictive routers (Zhang et al.)', () => {
  const d = 16;
  const rng = createRng(5);
  const w = Float32Array.from({ length: d }, () => rng.normal());
  const train = halfSpace(rng, 2000, d, w);
  const test = halfSpace(rng, 500, d, w);
  const centres = Array.from({ length: 8 }, () => unit(Float32Array.from({ length: d }, () => rng.normal())));
  const topicTrain = topics(rng, centres, 2000);
  const topicTest = topics(rng, centres, 500);

  it('k-NN learns a separable topic problem (held-out accuracy > 0.9)', () => {
    expect(accuracy(new KnnSufficiencyPredictor(topicTrain, { k: 10 }), topicTest)).toBeGreaterThan(0.9);
    expect(accuracy(new KnnSufficiencyPredictor(topicTrain, { k: 10, weighting: 'distance' }), topicTest)).toBeGreaterThan(0.9);
    // a constant predictor would score ≈ 0.5 here: the threshold is not trivially met
    expect(accuracy({ pSuffices: () => 1 }, topicTest)).toBeLessThan(0.6);
  });

  it('k-NN with k = 1 returns the nearest label', () => {
    const knn = new KnnSufficiencyPredictor(
      [
        { embedding: Float32Array.of(1, 0), suffices: 1 },
        { embedding: Float32Array.of(0, 1), suffices: 0 },
      ],
      { k: 1 },
    );
    expect(knn.pSuffices(Float32Array.of(0.9, 0.2))).toBe(1);
    expect(knn.pSuffices(Float32Array.of(0.2, 0.9))).toBe(0);
  });

  it('MLP learns separable problems (held-out accuracy > 0.9), deterministically', () => {
    const m = MlpSufficiencyPredictor.train(train, { seed: 1 });
    expect(accuracy(m, test)).toBeGreaterThan(0.9);
    expect(accuracy(MlpSufficiencyPredictor.train(topicTrain, { seed: 1 }), topicTest)).toBeGreaterThan(0.9);
    expect(m.trainingLog.length).toBeGreaterThan(0);
    const again = MlpSufficiencyPredictor.train(train, { seed: 1 });
    expect(Array.from(again.params.w1)).toEqual(Array.from(m.params.w1));
    const tanh = MlpSufficiencyPredictor.train(train, { seed: 2, activation: 'tanh', hidden: 16 });
    expect(accuracy(tanh, test)).toBeGreaterThan(0.9);
  });

  it('routers report 1 − P(suffices) for the weak model and mean errors for the others', () => {
    const meanErrors = { cloud: 0.2 };
    const knn = new ConfidenceKnnRouter({ models, weakModelId: 'local', meanErrors, examples: train, k: 5 });
    const mlp = new ConfidenceMlpRouter({ models, weakModelId: 'local', meanErrors, examples: train });
    for (const r of [knn, mlp] as Router[]) {
      expect(r.name.startsWith('confidence-')).toBe(true);
      const x = test[0]!;
      const err = r.predictErrors({ embedding: x.embedding });
      expect(err.length).toBe(2);
      expect(err[1]).toBe(0.2);
      expect(err[0]).toBeGreaterThanOrEqual(0);
      expect(err[0]).toBeLessThanOrEqual(1);
    }
    expect(knn.name).toBe('confidence-knn');
    expect(mlp.name).toBe('confidence-mlp');
    expect(() => new ConfidenceKnnRouter({ models, weakModelId: 'local', meanErrors: {}, examples: train })).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Hybrid vs confidence-only on a synthetic pool.

/** λ sweep with the shared decision rule argmin_h [err_h + λ·cost_h], evaluated on realised scores. */
function sweep(router: Router, inputs: readonly RoutingInput[], scores: readonly Float64Array[]): DeferralPoint[] {
  const lambdas = [1e9];
  for (let l = 1; l >= -1; l -= 0.0025) lambdas.push(l);
  const errs = inputs.map((x) => router.predictErrors(x));
  return lambdas.map((lambda) => {
    let cost = 0;
    let quality = 0;
    errs.forEach((e, i) => {
      let best = 0;
      let bestV = Infinity;
      router.models.forEach((m, h) => {
        const v = e[h]! + lambda * m.cost;
        if (v < bestV) {
          bestV = v;
          best = h;
        }
      });
      cost += router.models[best]!.cost;
      quality += scores[i]![best]!;
    });
    return { lambda, cost: cost / inputs.length, quality: quality / inputs.length };
  });
}

describe('hybrid router', () => {
  // Two prompt clusters. In A the local model's confidence is informative (P(correct) = conf);
  // in B the local model is right only 20% of the time whatever its (high) confidence says.
  // The cloud model is right 90% of the time everywhere.
  const centers = [Float32Array.of(1, 0, 0, 0), Float32Array.of(0, 1, 0, 0)];
  const clusterMap: ClusterMapLike = {
    numClusters: 2,
    probabilities(e) {
      const logits = centers.map((c) => 20 * c.reduce((s, v, j) => s + v * e[j]!, 0));
      const m = Math.max(...logits);
      const ex = logits.map((l) => Math.exp(l - m));
      const z = ex.reduce((a, b) => a + b, 0);
      return Float64Array.from(ex, (v) => v / z);
    },
  };
  function draw(rng: Rng, n: number) {
    const inputs: RoutingInput[] = [];
    const scores: Float64Array[] = [];
    const clusters: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = rng.int(2);
      const e = unit(Float32Array.from(centers[k]!, (v) => v + 0.2 * rng.normal()));
      const conf = k === 0 ? rng.next() : 0.5 + 0.5 * rng.next();
      const pLocal = k === 0 ? conf : 0.2;
      inputs.push({ embedding: e, localConfidence: conf });
      scores.push(Float64Array.of(rng.next() < pLocal ? 1 : 0, rng.next() < 0.9 ? 1 : 0));
      clusters.push(k);
    }
    return { inputs, scores, clusters };
  }
  const rng = createRng(42);
  const train = draw(rng, 3000);
  const test = draw(rng, 3000);

  const conf = train.inputs.map((x) => x.localConfidence!);
  const localCorrect = train.scores.map((s) => s[0]!);
  const meanErrors = {
    local: 1 - localCorrect.reduce((a, b) => a + b, 0) / localCorrect.length,
    cloud: 1 - train.scores.reduce((a, s) => a + s[1]!, 0) / train.scores.length,
  };
  const cascade = new ConfidenceCascadeRouter({
    models,
    localModelId: 'local',
    calibrator: fitPlatt(conf, localCorrect),
    meanErrors,
  });
  // Ψ_k(cloud): per-cluster mean error on the training split.
  const psiCloud = new Float64Array(2);
  const count = new Float64Array(2);
  train.inputs.forEach((x, i) => {
    const p = clusterMap.probabilities(x.embedding);
    for (let k = 0; k < 2; k++) {
      psiCloud[k]! += p[k]! * (1 - train.scores[i]![1]!);
      count[k]! += p[k]!;
    }
  });
  for (let k = 0; k < 2; k++) psiCloud[k]! /= count[k]!;
  const calibrator = fitClusterConfidenceCalibrator(
    train.inputs.map((x, i) => ({
      clusterProbs: clusterMap.probabilities(x.embedding),
      confidence: x.localConfidence!,
      correct: localCorrect[i]!,
    })),
  );
  const hybrid = new HybridRouter({ models, localModelId: 'local', clusterMap, calibrator, psi: { cloud: psiCloud } });

  it('beats confidence-only when confidence is informative in one cluster only', () => {
    const aHybrid = deferralArea(sweep(hybrid, test.inputs, test.scores), 1);
    const aCascade = deferralArea(sweep(cascade, test.inputs, test.scores), 1);
    // Hybrid sends cluster B to the cloud first: a clear margin, not noise.
    expect(aHybrid).toBeGreaterThan(aCascade + 0.03);
  });

  it('errors: hybrid local error reflects the cluster, cascade only the confidence', () => {
    const inB = { embedding: centers[1]!, localConfidence: 0.95 };
    const inA = { embedding: centers[0]!, localConfidence: 0.95 };
    expect(hybrid.predictErrors(inB)[0]).toBeGreaterThan(0.7); // ≈ 0.8
    expect(hybrid.predictErrors(inA)[0]).toBeLessThan(0.2); // ≈ 0.05
    expect(cascade.predictErrors(inA)[0]).toBeCloseTo(cascade.predictErrors(inB)[0]!, 12);
    expect(hybrid.predictErrors(inB)[1]).toBeCloseTo(psiCloud[1]!, 6);
    expect(hybrid.name.startsWith('hybrid-')).toBe(true);
    expect(cascade.name).toBe('confidence-only');
  });

  it('falls back without a local confidence', () => {
    expect(cascade.predictErrors({ embedding: centers[0]! })[0]).toBeCloseTo(meanErrors.local, 12);
    const e = hybrid.predictErrors({ embedding: centers[1]! })[0]!;
    expect(e).toBeGreaterThan(0.6); // cluster B's base rate of errors, shrunk toward global
  });

  it('validates Ψ and cluster counts', () => {
    const base = { models, localModelId: 'local', clusterMap, calibrator };
    expect(() => new HybridRouter({ ...base, psi: { cloud: Float64Array.of(0.1) } })).toThrow(RangeError);
    expect(() => new HybridRouter({ ...base, psi: {} })).toThrow();
    // Ψ in model order works too (the local entry is ignored)
    const ordered = new HybridRouter({ ...base, psi: [new Float64Array(2), psiCloud] });
    const x = { embedding: centers[0]!, localConfidence: 0.5 };
    expect(Array.from(ordered.predictErrors(x))).toEqual(Array.from(hybrid.predictErrors(x)));
  });
});
