import { describe, expect, it } from 'vitest';
import { judgeLocalAnswer } from '../../src/common/escalation';
import type { EscalationRule } from '../../src/core/escalation-rule';

const identity = { bias: 0, confidence: 0, psi: 1, biasNoConfidence: 0 };
const rule: EscalationRule = {
  name: 'uniroute',
  localModelId: 'local',
  confidenceKind: 'mean-logprob',
  params: { scale: 'raw', mean: 0, sd: 1, models: { local: identity, a: identity, free: identity } },
  cvAreas: { 'confidence-only': 0.7, uniroute: 0.8, hybrid: 0.8 },
  folds: 6,
  prompts: 100,
};

describe('judgeLocalAnswer', () => {
  it("under 'uniroute' passes ψ through, whatever the confidence", () => {
    const judged = judgeLocalAnswer(rule, { local: 0.4, a: 0.2 }, -9, [{ id: 'a', cost: 0.01 }], 5);
    expect(judged).toEqual({ localError: 0.4, bestCloud: { id: 'a', objective: 0.2 + 5 * 0.01 } });
  });

  it('skips cloud models the rule or the decision does not know; a free cloud model costs nothing even at λ = ∞', () => {
    const cloud = [
      { id: 'a', cost: 0.01 },
      { id: 'unknown', cost: 0 },
      { id: 'free', cost: 0 },
    ];
    expect(judgeLocalAnswer(rule, { local: 0.4, a: 0.2, free: 0.3, unknown: 0 }, 0, cloud, Infinity).bestCloud).toEqual({ id: 'free', objective: 0.3 });
    expect(judgeLocalAnswer(rule, { local: 0.4 }, 0, cloud, 0).bestCloud).toBeUndefined();
  });
});
