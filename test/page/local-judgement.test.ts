import { describe, expect, it } from 'vitest';
import type { EscalationRule } from '../../src/core/escalation-rule';
import { judgeLocal } from '../../src/page/local-judgement';
import type { RouteResult } from '../../src/worker/protocol';

const identity = { bias: 0, confidence: 0, psi: 1, biasNoConfidence: 0 };
const rule: EscalationRule = {
  name: 'uniroute',
  localModelId: 'local',
  confidenceKind: 'mean-logprob',
  params: { scale: 'raw', mean: 0, sd: 1, models: { local: identity, cloud: identity } },
  cvAreas: { 'confidence-only': 0.7, uniroute: 0.8, hybrid: 0.8 },
  folds: 6,
  prompts: 100,
};

const route = (extra: Partial<RouteResult>): RouteResult => ({
  clusterProbabilities: [1],
  predictedErrors: { local: 0.9, cloud: 0.1 },
  chosenModel: 'local',
  lambda: 0,
  embedMillis: 0,
  clusterMillis: 0,
  decideMillis: 0,
  promptChars: 2,
  embeddedChars: 2,
  truncated: false,
  notes: [],
  escalationRule: rule,
  ...extra,
});

const judge = (r: RouteResult) =>
  judgeLocal({
    route: r,
    lambda: 0,
    confidence: { score: -0.2, method: 'mean-logprob' },
    cloudChoice: 'cloud',
    cloudModels: [{ id: 'cloud', cost: 0.01 }],
    controller: undefined,
    threshold: undefined,
  });

describe('judgeLocal', () => {
  it("feeds the rule UniRoute's ψ (clusterErrors) when the decision came from the universal-difficulty router", () => {
    // The difficulty router thought the local model would fail; the rule is fitted on ψ, which says it is fine.
    const judged = judge(route({ preRouter: 'irt-difficulty', clusterErrors: { local: 0.2, cloud: 0.3 } }));
    expect(judged).toEqual({ escalate: false, target: 'cloud', rule: 'uniroute', localError: 0.2 });
  });

  it('uses predictedErrors when they are ψ (a worker that sends no clusterErrors)', () => {
    expect(judge(route({}))).toEqual({ escalate: true, target: 'cloud', rule: 'uniroute', localError: 0.9 });
  });
});
