import { describe, expect, it } from 'vitest';
import { createRng, DifficultyRouter, hardClusterMap, solveSpd, type LabelledPrompt } from '../../research/index';

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
