import { describe, expect, it } from 'vitest';
import { predictConditionalError } from '../../src/core/conditional-errors';
import { MIN_ESCALATION_EVIDENCE, fitEscalationCandidates, fitEscalationRule, ruleErrors, type EvidencePrompt } from '../../src/core/escalation-rule';
import { createRng } from '../../src/core/random';
import { fitPlatt } from '../../research/confidence-calibration';

const K = 4;
const models = [
  { id: 'local', cost: 0 },
  { id: 'mid', cost: 1 },
  { id: 'big', cost: 4 },
];

/**
 * Prompts in K clusters. `clusterSignal`: the local model's accuracy differs by cluster (0.15 …
 * 0.9) or not (0.5 everywhere). `confidenceSignal`: its confidence tracks its correctness or is
 * noise. The cloud models are right more often on the clusters where the local one is.
 */
function makeEvidence(n: number, seed: number, clusterSignal: boolean, confidenceSignal: boolean): EvidencePrompt[] {
  const rng = createRng(seed);
  const localAccuracy = clusterSignal ? [0.15, 0.4, 0.65, 0.9] : [0.5, 0.5, 0.5, 0.5];
  return Array.from({ length: n }, (_, i) => {
    const k = i % K;
    const probabilities = new Float64Array(K);
    probabilities[k] = 1;
    const local = rng.next() < localAccuracy[k]! ? 1 : 0;
    const confidence = confidenceSignal ? (local ? -0.2 : -1.6) + 0.5 * rng.normal() : rng.normal();
    return {
      id: `p${i}`,
      embedding: new Float32Array(0),
      probabilities,
      scores: { local, mid: rng.next() < 0.5 + 0.3 * localAccuracy[k]! ? 1 : 0, big: rng.next() < 0.9 ? 1 : 0 },
      confidences: { local: confidence },
    };
  });
}

const options = { models, localModelId: 'local', shrinkage: 5, confidenceKind: 'mean-logprob' };

describe('the escalation rule', () => {
  it('is chosen by cross-validation: the confidence where only it tells, the hybrid where both do', () => {
    const confident = fitEscalationRule(makeEvidence(400, 1, false, true), options)!;
    // The hybrid is as good here, but not better by a standard error: the simpler rule wins.
    expect(confident.name).toBe('confidence-only');
    expect(confident.cvAreas['confidence-only']).toBeGreaterThan(confident.cvAreas.uniroute + 0.1);
    const both = fitEscalationRule(makeEvidence(400, 1, true, true), options)!;
    expect(both.name).toBe('hybrid');
    expect(both.cvAreas.hybrid).toBeGreaterThan(Math.max(both.cvAreas['confidence-only'], both.cvAreas.uniroute));
    const clustered = fitEscalationRule(makeEvidence(400, 2, true, false), options)!;
    expect(clustered.name).not.toBe('confidence-only');
    expect(clustered.cvAreas.uniroute).toBeGreaterThan(clustered.cvAreas['confidence-only'] + 0.05);
    expect(clustered.folds).toBe(6);
    expect(clustered.prompts).toBe(400);
    expect(clustered.confidenceKind).toBe('mean-logprob');
  });

  it('needs enough prompts with a local confidence', () => {
    const evidence = makeEvidence(200, 3, true, true).map((x, i) => (i < MIN_ESCALATION_EVIDENCE - 1 ? x : { ...x, confidences: {} }));
    expect(fitEscalationRule(evidence, options)).toBeUndefined();
    expect(fitEscalationRule(evidence.slice(0, MIN_ESCALATION_EVIDENCE - 1), options)).toBeUndefined();
  });

  it('confidence-only is Platt scaling of the local confidence, every other model at its mean error', () => {
    const evidence = makeEvidence(300, 4, true, true);
    const params = fitEscalationCandidates(evidence, options)['confidence-only'];
    const platt = fitPlatt(
      evidence.map((x) => x.confidences!.local!),
      evidence.map((x) => x.scores.local!),
    );
    const meanError = (id: string) => evidence.reduce((a, x) => a + 1 - x.scores[id]!, 0) / evidence.length;
    for (const c of [-3, -1, -0.1]) {
      const errors = ruleErrors('confidence-only', params, models, [0.9, 0.9, 0.9], c);
      expect(errors[0]).toBeCloseTo(1 - platt.predict(c), 6);
      expect(errors[1]).toBeCloseTo(meanError('mid'), 9);
      expect(errors[2]).toBeCloseTo(meanError('big'), 9);
    }
    // Without a confidence the local model too is at its mean error, whatever ψ says.
    expect(ruleErrors('confidence-only', params, models, [0.1, 0.1, 0.1], NaN)[0]).toBeCloseTo(meanError('local'), 9);
  });

  it('uniroute passes ψ through; the hybrid lowers the local error on a confident answer', () => {
    const evidence = makeEvidence(400, 5, true, true);
    const candidates = fitEscalationCandidates(evidence, options);
    expect(Array.from(ruleErrors('uniroute', candidates.uniroute, models, [0.3, 0.2, 0.1], -5))).toEqual([0.3, 0.2, 0.1]);
    const sure = ruleErrors('hybrid', candidates.hybrid, models, [0.5, 0.3, 0.1], -0.1)[0]!;
    const unsure = ruleErrors('hybrid', candidates.hybrid, models, [0.5, 0.3, 0.1], -2)[0]!;
    expect(sure).toBeLessThan(0.5);
    expect(unsure).toBeGreaterThan(0.5);
  });

  it('predictConditionalError: without a confidence, psiNoConfidence weighs ψ', () => {
    const params = { scale: 'raw' as const, mean: 0, sd: 1, models: { a: { bias: 0, confidence: 1, psi: 1, biasNoConfidence: 0, psiNoConfidence: 0 } } };
    expect(predictConditionalError(params, 'a', 0.1, NaN)).toBeCloseTo(0.5, 12);
    expect(predictConditionalError({ ...params, models: { a: { ...params.models.a, psiNoConfidence: 1 } } }, 'a', 0.1, NaN)).toBeCloseTo(0.1, 6);
    expect(() => predictConditionalError(params, 'b', 0.1, 0)).toThrow(/no conditional error coefficients for model b/);
  });
});
