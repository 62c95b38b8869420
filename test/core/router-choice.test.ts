import { describe, expect, it } from 'vitest';
import { fitDifficultyState, meanSeenScore } from '../../src/core/difficulty-router';
import { createRng } from '../../src/core/random';
import { MIN_PRE_ROUTER_EVIDENCE, PRE_ROUTER_CV, choosePreRouter } from '../../src/core/router-choice';
import type { LabelledPrompt, ModelSpec } from '../../src/core/types';

const models: ModelSpec[] = [
  { id: 'local', cost: 0 },
  { id: 'mini', cost: 1 },
  { id: 'large', cost: 10 },
];
// A model is right when the prompt's easiness t clears its bar (with 10% label noise).
const bars = [0.65, 0.4, 0.15];

/**
 * n prompts in `topics` topics (the clusters). `difficultyIn`: where a prompt's easiness shows,
 * along an embedding axis the clusters ignore ('embedding'), or only in its topic ('cluster').
 */
function profile(n: number, difficultyIn: 'embedding' | 'cluster', seed = 1) {
  const rng = createRng(seed);
  const topics = 4;
  const prompts: LabelledPrompt[] = [];
  const assignments = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const topic = i % topics;
    const t = difficultyIn === 'embedding' ? rng.next() : (topic + 0.5) / topics;
    const e = new Float32Array(12);
    e[topic] = 3;
    e[4] = difficultyIn === 'embedding' ? 2 * t - 1 : 0;
    for (let j = 5; j < 12; j++) e[j] = 0.3 * rng.normal();
    const scores = Object.fromEntries(models.map((m, h) => [m.id, t > bars[h]! !== rng.next() < 0.1 ? 1 : 0]));
    prompts.push({ id: `p${i}`, embedding: e, scores });
    assignments[i] = topic;
  }
  const difficulty = fitDifficultyState(
    prompts.map((x) => x.embedding),
    meanSeenScore(prompts, models),
    PRE_ROUTER_CV,
  );
  const scores = models.map((m) => Float64Array.from(prompts, (x) => x.scores[m.id]!));
  return { assignments, clusters: topics, models, scores, shrinkage: 5, difficulty };
}

describe('choosePreRouter', () => {
  it('takes the universal-difficulty router when easiness shows in the embedding but not in the clusters', () => {
    const choice = choosePreRouter(profile(400, 'embedding'))!;
    expect(choice.name).toBe('irt-difficulty');
    expect(choice.folds).toBe(6);
    expect(choice.cvAreas['irt-difficulty']).toBeGreaterThan(choice.cvAreas['uniroute-kmeans'] + 0.02);
  });

  it('keeps UniRoute when the clusters already carry the difficulty (the simpler router within one standard error)', () => {
    const choice = choosePreRouter(profile(400, 'cluster'))!;
    expect(choice.name).toBe('uniroute-kmeans');
    expect(Math.abs(choice.cvAreas['irt-difficulty'] - choice.cvAreas['uniroute-kmeans'])).toBeLessThan(0.01);
  });

  it('makes no choice on too few prompts, and judges only prompts every candidate was scored on', () => {
    expect(choosePreRouter(profile(2 * MIN_PRE_ROUTER_EVIDENCE - 10, 'embedding'))).toBeUndefined();
    const p = profile(400, 'embedding');
    // A candidate scored on a quarter of the prompts: held halves keep ~50 complete prompts each.
    const sparse = Float64Array.from(p.scores[2]!, (s, i) => (i % 4 === 0 ? s : NaN));
    const choice = choosePreRouter({ ...p, scores: [p.scores[0]!, p.scores[1]!, sparse] });
    expect(choice).toBeDefined();
    const sparser = Float64Array.from(p.scores[2]!, (s, i) => (i % 8 === 0 ? s : NaN));
    expect(choosePreRouter({ ...p, scores: [p.scores[0]!, p.scores[1]!, sparser] })).toBeUndefined();
  });

  it('refuses fold easiness that does not match the folds', () => {
    const p = profile(200, 'embedding');
    expect(() => choosePreRouter({ ...p, difficulty: { ...p.difficulty, foldEasiness: p.difficulty.foldEasiness.slice(1) } })).toThrow(RangeError);
  });
});
