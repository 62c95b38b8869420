import { describe, expect, it } from 'vitest';
import { chooseClusterCount } from '../../src/core/cluster-count';
import { validationFolds } from '../../src/core/cross-validation';
import { createRng } from '../../src/core/random';
import type { LabelledPrompt } from '../../src/core/types';

const models = [
  { id: 'a', cost: 0 },
  { id: 'b', cost: 1 },
];

/** Prompts around 4 well-separated directions; with `signal`, model a is right on two of them only, b on the others. */
function prompts(n: number, signal: boolean, seed: number): LabelledPrompt[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const c = i % 4;
    const embedding = Float32Array.from({ length: 8 }, (_, j) => (j === c ? 1 : 0) + 0.05 * rng.normal());
    const aRight = signal ? c < 2 : rng.next() < 0.5;
    return { id: `p${i}`, embedding, scores: { a: aRight ? 1 : 0, b: signal ? (aRight ? 0 : 1) : rng.next() < 0.5 ? 1 : 0 } };
  });
}

describe('chooseClusterCount', () => {
  it('takes clusters where they tell the models apart; where they do not, none is worth more than one', () => {
    for (const [signal, noSignal] of [
      [true, false],
      [false, true],
    ] as const) {
      const data = prompts(240, signal, 3);
      const choice = chooseClusterCount({
        points: data.map((x) => x.embedding),
        folds: validationFolds(data, 0, 3),
        models,
        seed: 0,
        candidates: [1, 2, 4, 8],
      });
      expect(Object.keys(choice.scores)).toEqual(['1', '2', '4', '8']);
      expect(choice.centroids).toHaveLength(choice.k);
      if (noSignal) expect(Math.max(...Object.values(choice.scores)) - choice.scores['1']!).toBeLessThan(0.03);
      else {
        expect(choice.k).toBeGreaterThanOrEqual(2);
        expect(choice.scores[String(choice.k)]!).toBeGreaterThan(choice.scores['1']! + 0.2);
      }
    }
  });

  it('tries no K with fewer than 10 points per cluster on average', () => {
    const data = prompts(30, true, 4);
    const choice = chooseClusterCount({ points: data.map((x) => x.embedding), folds: validationFolds(data, 0, 1), models, seed: 0 });
    expect(Object.keys(choice.scores)).toEqual(['1', '2']);
  });
});
