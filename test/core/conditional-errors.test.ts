import { describe, expect, it } from 'vitest';
import {
  buildProfile,
  clusterPriorHelps,
  ConditionalHybridRouter,
  createRng,
  fitConditionalErrors,
  fitLogisticNewton,
  hardClusterMap,
  outOfFoldClusterErrors,
  scaleConfidence,
  type ConditionalErrorSample,
  type LabelledPrompt,
} from '../../research/index';

const sigmoid = (s: number): number => 1 / (1 + Math.exp(-s));
const logit = (p: number): number => Math.log(p / (1 - p));

describe('logistic regression with a prior and an offset', () => {
  it('fits only what the offset leaves unexplained', () => {
    const rng = createRng(3);
    const rows: number[][] = [];
    const y: number[] = [];
    const offset: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const a = rng.normal();
      const o = 2 * rng.normal();
      rows.push([1, a]);
      offset.push(o);
      y.push(rng.next() < sigmoid(0.4 + 0.9 * a + o) ? 1 : 0);
    }
    const [b, w] = fitLogisticNewton(rows, y, 1e-2, [0, 0], offset);
    expect(b).toBeCloseTo(0.4, 1);
    expect(w).toBeCloseTo(0.9, 1);
  });

  it('stays at the prior without data and is pulled toward it by the penalty', () => {
    expect(fitLogisticNewton([], [], 1, [0.3, -2])).toEqual([0.3, -2]);
    // Ten samples all right: the unpenalised bias runs off toward +∞; a strong pull keeps it near −1.
    const rows = Array.from({ length: 10 }, () => [1]);
    const y = rows.map(() => 1);
    expect(fitLogisticNewton(rows, y, 1e3, [-1])[0]).toBeLessThan(-0.9);
    expect(fitLogisticNewton(rows, y, 1e-3, [-1])[0]).toBeGreaterThan(2);
  });
});

describe('out-of-fold cluster errors', () => {
  it('equals UniRoute Ψ rebuilt on the other folds', () => {
    const rng = createRng(5);
    const centroids = [Float32Array.from([1, 0, 0]), Float32Array.from([0, 1, 0]), Float32Array.from([0, 0, 1])];
    const map = hardClusterMap(centroids);
    const prompts: LabelledPrompt[] = Array.from({ length: 47 }, (_, i) => {
      const k = Math.floor(rng.next() * 3);
      const e = Float32Array.from(centroids[k]!, (v) => v + 0.1 * rng.normal());
      // Model m is scored on most prompts, right more often in cluster 0.
      const scores: Record<string, number> = i % 7 === 3 ? {} : { m: rng.next() < (k === 0 ? 0.8 : 0.3) ? 1 : 0 };
      return { id: `p${i}`, embedding: e, scores };
    });
    const probs = prompts.map((x) => map.probabilities(x.embedding));
    const errors = prompts.map((x) => (x.scores['m'] === undefined ? NaN : 1 - x.scores['m']!));
    const oof = outOfFoldClusterErrors(probs, errors, 5, 4);
    prompts.forEach((_x, i) => {
      if (Number.isNaN(errors[i]!)) {
        expect(oof[i]).toBeNaN();
        return;
      }
      const others = prompts.filter((_, j) => j % 4 !== i % 4);
      const profile = buildProfile({ validation: others, models: [{ id: 'm', cost: 1 }], clusterMap: map, shrinkage: 5 });
      const p = probs[i]!;
      const expected = p.reduce((a, v, k) => a + v * profile.featureVectors[0]![k]!, 0);
      expect(oof[i]).toBeCloseTo(expected, 12);
    });
  });

  it('gives the prompts of one fold and cluster one value, whatever their own labels', () => {
    const probs = Array.from({ length: 20 }, () => Float64Array.from([1]));
    const errors = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const oof = outOfFoldClusterErrors(probs, errors, 0, 2);
    const fold0 = [...oof].filter((_, i) => i % 2 === 0);
    expect(new Set(fold0).size).toBe(1);
    expect(() => outOfFoldClusterErrors(probs, errors, 0, 1)).toThrow(/folds/);
  });
});

/** Prompts whose difficulty d drives every model's correctness; the local confidence sees d too. */
function difficultySamples(n: number, seed: number) {
  const rng = createRng(seed);
  const cloud: ConditionalErrorSample[] = [];
  const local: ConditionalErrorSample[] = [];
  for (let i = 0; i < n; i++) {
    const d = rng.normal();
    const confidence = Math.log(sigmoid(-d + 0.5 * rng.normal()));
    local.push({ psiError: 0.5, confidence, correct: rng.next() < sigmoid(-1.5 * d) ? 1 : 0 });
    cloud.push({ psiError: 0.2, confidence, correct: rng.next() < sigmoid(logit(0.8) - 0.8 * d) ? 1 : 0 });
  }
  return { local, cloud };
}

describe('confidence-conditioned errors', () => {
  it('reads a harder prompt from a less confident local answer, for the cloud models too', () => {
    const { local, cloud } = difficultySamples(4000, 1);
    const model = fitConditionalErrors({ local, cloud }, { scale: 'log-probability', confidenceOnly: ['local'] });
    expect(model.params.models['cloud']!.confidence).toBeGreaterThan(0.3);
    expect(model.params.models['local']!.psi).toBe(0);
    expect(model.params.models['cloud']!.psi).toBe(1);
    const sure = Math.log(0.95);
    const unsure = Math.log(0.3);
    expect(model.predictError('cloud', 0.2, sure)).toBeLessThan(model.predictError('cloud', 0.2, unsure) - 0.1);
    expect(model.predictError('local', 0.5, sure)).toBeLessThan(model.predictError('local', 0.5, unsure) - 0.2);
    // Before the local model answers, every model falls back to (recalibrated) UniRoute.
    expect(model.predictError('cloud', 0.2, NaN)).toBeCloseTo(0.2, 1);
  });

  it('is UniRoute where the confidence says nothing', () => {
    const rng = createRng(2);
    const samples = Array.from({ length: 3000 }, () => {
      const psiError = rng.next() < 0.5 ? 0.1 : 0.6;
      return { psiError, confidence: -rng.next(), correct: rng.next() < 1 - psiError ? 1 : 0 };
    });
    const model = fitConditionalErrors({ m: samples });
    expect(Math.abs(model.params.models['m']!.confidence)).toBeLessThan(0.1);
    expect(model.predictError('m', 0.1, -0.5)).toBeCloseTo(0.1, 1);
    expect(model.predictError('m', 0.6, -0.5)).toBeCloseTo(0.6, 1);
  });

  it('lets a group member with few prompts keep the group slope', () => {
    const big = difficultySamples(3000, 3).cloud;
    // The small member's 40 prompts say nothing about the confidence (labels shuffled).
    const rng = createRng(4);
    const small = difficultySamples(40, 5).cloud.map((s) => ({ ...s, correct: rng.next() < 0.8 ? 1 : 0 }));
    const grouped = fitConditionalErrors({ big, small }, { scale: 'log-probability', groups: [['big', 'small']] });
    const alone = fitConditionalErrors({ big, small }, { scale: 'log-probability' });
    const slope = (m: typeof grouped, id: string): number => m.params.models[id]!.confidence;
    expect(Math.abs(slope(grouped, 'small') - slope(grouped, 'big'))).toBeLessThan(Math.abs(slope(alone, 'small') - slope(alone, 'big')));
    expect(slope(grouped, 'small')).toBeGreaterThan(0.5 * slope(grouped, 'big'));
    expect(() => fitConditionalErrors({ big, small }, { groups: [['big', 'small']], confidenceOnly: ['small'] })).toThrow(/group/);
  });

  it('log-probability scale: log-odds of the answer probability', () => {
    expect(scaleConfidence(Math.log(0.5), 'log-probability')).toBeCloseTo(0, 12);
    expect(scaleConfidence(Math.log(0.9), 'log-probability')).toBeCloseTo(Math.log(9), 9);
    expect(scaleConfidence(-0.7, 'raw')).toBe(-0.7);
    expect(scaleConfidence(NaN, 'log-probability')).toBeNaN();
  });
});

describe('cluster prior test', () => {
  function clusterSamples(informative: boolean, seed: number): ConditionalErrorSample[] {
    const rng = createRng(seed);
    return Array.from({ length: 1500 }, () => {
      const k = rng.next() < 0.5 ? 0 : 1;
      const rate = informative ? (k === 0 ? 0.9 : 0.2) : 0.55;
      const correct = rng.next() < rate ? 1 : 0;
      // ψ as a map fitted elsewhere would give: the cluster's error rate (uninformative: a coin).
      const psiError = informative ? 1 - (k === 0 ? 0.9 : 0.2) : rng.next() < 0.5 ? 0.3 : 0.6;
      return { psiError, confidence: Math.log(sigmoid((correct ? 0.5 : -0.5) + rng.normal())), correct };
    });
  }

  it('keeps a prior that predicts beyond the confidence, drops one that does not', () => {
    expect(clusterPriorHelps(clusterSamples(true, 1), { scale: 'log-probability' }).helps).toBe(true);
    const noise = clusterPriorHelps(clusterSamples(false, 2), { scale: 'log-probability' });
    expect(noise.helps).toBe(false);
    expect(noise.gain).toBeGreaterThan(0);
  });
});

describe('conditional hybrid router', () => {
  it('predicts every model from Ψ and the local confidence', () => {
    const map = hardClusterMap([Float32Array.from([1, 0]), Float32Array.from([0, 1])]);
    const models = [
      { id: 'local', cost: 0 },
      { id: 'cloud', cost: 1 },
    ];
    const { local, cloud } = difficultySamples(3000, 7);
    const errorModel = fitConditionalErrors({ local, cloud }, { scale: 'log-probability', confidenceOnly: ['local'] });
    const psi = { local: Float64Array.from([0.5, 0.5]), cloud: Float64Array.from([0.1, 0.4]) };
    const router = new ConditionalHybridRouter({ models, clusterMap: map, psi, errorModel });
    expect(router.name).toBe('hybrid-conditional');
    const x = Float32Array.from([1, 0]);
    const y = Float32Array.from([0, 1]);
    const sure = router.predictErrors({ embedding: x, localConfidence: Math.log(0.95) });
    const unsure = router.predictErrors({ embedding: x, localConfidence: Math.log(0.3) });
    expect(sure[0]).toBeLessThan(unsure[0]!);
    expect(sure[1]).toBeLessThan(unsure[1]!);
    // The cloud model's cluster still counts; the local one's does not once it has answered.
    expect(router.predictErrors({ embedding: y, localConfidence: Math.log(0.95) })[1]).toBeGreaterThan(sure[1]!);
    expect(router.predictErrors({ embedding: y, localConfidence: Math.log(0.95) })[0]).toBeCloseTo(sure[0]!, 12);
    expect(router.predictErrors({ embedding: x })).toHaveLength(2);
    expect(() => new ConditionalHybridRouter({ models, clusterMap: map, psi: { local: psi.local }, errorModel })).toThrow(/Ψ/);
    expect(() => new ConditionalHybridRouter({ models, clusterMap: map, psi: { ...psi, cloud: Float64Array.from([0.1]) }, errorModel })).toThrow(/entries/);
  });
});
