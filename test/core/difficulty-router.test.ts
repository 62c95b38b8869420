import { describe, expect, it } from 'vitest';
import { DifficultyRouter, easinessOf, fitDifficultyState, fitEasiness, promptIndexFolds, solveSpd, unitWithBias } from '../../src/core/difficulty-router';
import { createRng } from '../../src/core/random';
import type { LabelledPrompt } from '../../src/core/types';
import { hardClusterMap } from '../../src/core/uniroute';

describe('solveSpd', () => {
  it('solves a small positive-definite system (hand-checked)', () => {
    // [[4, 2], [2, 3]] x = [2, 1] → x = [0.5, 0].
    const x = solveSpd(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 1]), 2);
    expect(x[0]).toBeCloseTo(0.5, 12);
    expect(x[1]).toBeCloseTo(0, 12);
    expect(() => solveSpd(Float64Array.from([0, 0, 0, 0]), Float64Array.from([1, 1]), 2)).toThrow(/positive definite/);
  });
});

describe('DifficultyRouter', () => {
  // Easiness grows along embedding axis 0; a strong model fails only the hardest prompts, a weak
  // one all but the easiest. 'new' is unseen: scored on the validation-like prompts only.
  function prompts(n: number, seed: number): LabelledPrompt[] {
    const rng = createRng(seed);
    return Array.from({ length: n }, (_, i) => {
      const t = rng.next();
      const e = Float32Array.from({ length: 8 }, (_, j) => (j === 0 ? t : j === 1 ? 1 - t : 0.05 * rng.normal()) + (j === 2 ? 1 : 0));
      const scores: Record<string, number> = { weak: t > 0.7 ? 1 : 0, strong: t > 0.2 ? 1 : 0 };
      if (i % 5 === 0) scores['new'] = t > 0.45 ? 1 : 0;
      return { id: `p${i}`, embedding: e, scores };
    });
  }
  const models = [
    { id: 'weak', cost: 0 },
    { id: 'strong', cost: 1 },
    { id: 'new', cost: 0.5 },
  ];

  it('learns one difficulty shared by all models, the unseen one included', () => {
    const evidence = prompts(1000, 1);
    const router = DifficultyRouter.fit({
      evidence,
      models,
      seen: models.slice(0, 2),
      clusterMap: hardClusterMap([Float32Array.from({ length: 8 }, (_, j) => (j === 2 ? 1 : 0))]),
    });
    const at = (t: number) =>
      router.predictErrors({ embedding: Float32Array.from({ length: 8 }, (_, j) => (j === 0 ? t : j === 1 ? 1 - t : j === 2 ? 1 : 0)) });
    const easy = at(0.95);
    const hard = at(0.05);
    const middle = at(0.55);
    for (let h = 0; h < 3; h++) expect(easy[h]!).toBeLessThan(hard[h]!);
    // Strong beats weak everywhere; in the middle the unseen model sits between them.
    expect(middle[1]!).toBeLessThan(middle[2]!);
    expect(middle[2]!).toBeLessThan(middle[0]!);
    expect(easy[0]!).toBeLessThan(0.4);
    expect(hard[1]!).toBeGreaterThan(0.5);
  });
});

describe('fitEasiness', () => {
  // 30 rows of a 40-d embedding: fewer rows than dimensions, where the worker uses the kernel form.
  const rng = createRng(7);
  const rows = Array.from({ length: 30 }, () => unitWithBias(Float32Array.from({ length: 40 }, () => rng.normal())));
  const target = Float64Array.from(rows, (x, i) => (i % 7 === 3 ? NaN : 0.5 + 0.3 * x[1]! - 0.2 * x[2]! + 0.05 * rng.normal()));

  it('gives the same weights and out-of-fold easiness by the kernel system as by the normal equations', () => {
    const primal = fitEasiness(rows, target, { solver: 'primal' });
    const dual = fitEasiness(rows, target, { solver: 'dual' });
    expect(dual.weights.length).toBe(41);
    for (let j = 0; j < 41; j++) expect(dual.weights[j]!).toBeCloseTo(primal.weights[j]!, 7);
    for (let i = 0; i < rows.length; i++) expect(dual.outOfFold[i]!).toBeCloseTo(primal.outOfFold[i]!, 7);
    // The easiness is centred: the out-of-fold values average to 0.
    expect(dual.outOfFold.reduce((a, b) => a + b, 0) / rows.length).toBeCloseTo(0, 9);
  });

  it('ranks prompts by their target, out of fold', () => {
    const fit = fitEasiness(rows, target, { ridge: 0.1 });
    const labelled = rows.map((_, i) => i).filter((i) => Number.isFinite(target[i]!));
    const mean = (f: (i: number) => number): number => labelled.reduce((s, i) => s + f(i), 0) / labelled.length;
    const my = mean((i) => target[i]!);
    const me = mean((i) => fit.outOfFold[i]!);
    const cov = mean((i) => (target[i]! - my) * (fit.outOfFold[i]! - me));
    expect(cov).toBeGreaterThan(0);
  });

  it('refuses an embedding of another dimension', () => {
    const fit = fitEasiness(rows, target);
    expect(() => easinessOf(fit.weights, new Float32Array(12))).toThrow(/expect 40/);
  });
});

describe('fitDifficultyState', () => {
  it("keeps, per cross-validation half, the fit half's out-of-fold easiness and the held half's prediction", () => {
    const rng = createRng(3);
    const embeddings = Array.from({ length: 24 }, () => Float32Array.from({ length: 6 }, () => rng.normal()));
    const target = Float64Array.from(embeddings, (e) => (e[0]! > 0 ? 1 : 0));
    const state = fitDifficultyState(embeddings, target, { seed: 0, repeats: 2 });
    const folds = promptIndexFolds(24, 0, 2);
    expect(state.foldEasiness).toHaveLength(folds.length);
    expect(state.easiness).toEqual(fitEasiness(embeddings.map(unitWithBias), target).outOfFold);
    const [fit, held] = folds[0]!;
    const part = fitEasiness(
      fit.map((i) => unitWithBias(embeddings[i]!)),
      Float64Array.from(fit, (i) => target[i]!),
    );
    fit.forEach((i, j) => expect(state.foldEasiness[0]![i]).toBe(part.outOfFold[j]));
    for (const i of held) expect(state.foldEasiness[0]![i]).toBeCloseTo(easinessOf(part.weights, embeddings[i]!), 12);
  });
});
