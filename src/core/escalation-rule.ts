/**
 * The escalation rule: once the local model has answered, its confidence c and UniRoute's
 * prediction ψ_h(x) = Σ_k P(k|x)·Ψ_k(h) give every model's error, and the answer escalates when
 * argmin_h [ err_h + λ·cost(h) ] is a cloud model. Three candidates, simplest first:
 *
 * - 'confidence-only' (Zhang et al.'s cascade): err_local = 1 − σ(a·c + b) (Platt scaling), every
 *   other model its mean error: only the confidence says anything about this prompt;
 * - 'uniroute': err_h = ψ_h(x): the confidence adds nothing to the clusters, the decision made
 *   before generating stands;
 * - 'hybrid': err_h = 1 − σ(b_h + w_h·z(c) + w_ψ·logit(1 − ψ_h(x))), fitted (conditional-errors.ts).
 *
 * One is chosen per profile by the benchmark's cross-validation (repeated halvings, deferral
 * area on the held half, one-standard-error rule), with the benchmark's own code: the benchmark
 * (bench/protocol.ts, 'hybrid-cv') and the worker both call chooseEscalationRule.
 * Pure: no DOM, no I/O.
 */
import {
  fitConditionalErrors,
  outOfFoldClusterErrors,
  predictConditionalError,
  type ConditionalErrorCoefficients,
  type ConditionalErrorModelParams,
  type ConditionalErrorSample,
  type ConfidenceScale,
} from './conditional-errors';
import { oneStandardErrorChoice, validationFolds, type Fold } from './cross-validation';
import { evaluatePredictions } from './evaluation';
import { fitLogisticNewton } from './logistic';
import { deferralArea } from './metrics';
import type { LabelledPrompt, ModelSpec } from './types';
import { expectedErrors, shrunkFeatureVector } from './uniroute';

/** The candidates, simplest first (the one-standard-error rule prefers the earlier). */
export const ESCALATION_RULES = ['confidence-only', 'uniroute', 'hybrid'] as const;
export type EscalationRuleName = (typeof ESCALATION_RULES)[number];

/** A prompt the rules are fitted or judged on: its scores (and costs), P(k|x), and the local confidence in `confidences`. */
export interface EvidencePrompt extends LabelledPrompt {
  /** P(k|x) over the profile's clusters. */
  readonly probabilities: Float64Array;
}

export interface EscalationFitOptions {
  /** The pool: the local model and the cloud models it may escalate to. */
  readonly models: readonly ModelSpec[];
  readonly localModelId: string;
  /** Pseudo-count m of Ψ's shrinkage (buildProfile's). */
  readonly shrinkage: number;
  /** How the hybrid reads the confidence (default 'raw'; 'log-probability' for a log-prob). */
  readonly scale?: ConfidenceScale;
}

/** A fitted rule as it crosses the worker boundary: plain data. */
export interface EscalationRule {
  readonly name: EscalationRuleName;
  readonly localModelId: string;
  /** What the local confidences it was fitted on measure: it applies only to answers whose confidence is of this kind. */
  readonly confidenceKind: string;
  /** The error model of 'confidence-only' and 'hybrid' (unused by 'uniroute'). */
  readonly params: ConditionalErrorModelParams;
  /** Mean held-out deferral area of each candidate over the folds (what the choice was made on). */
  readonly cvAreas: Readonly<Record<EscalationRuleName, number>>;
  readonly folds: number;
  /** Prompts with a local confidence that the rule was fitted on. */
  readonly prompts: number;
}

/** The smallest accuracy a logit is taken of, so that a model never wrong does not give ±∞. */
const EDGE = 1e-6;
const logit = (q: number): number => {
  const c = Math.min(1 - EDGE, Math.max(EDGE, q));
  return Math.log(c / (1 - c));
};

/** Errors (1 − score) of one model on the prompts, NaN where it was not scored. */
function errorsOf(prompts: readonly EvidencePrompt[], id: string): Float64Array {
  return Float64Array.from(prompts, (x) => (x.scores[id] === undefined ? NaN : 1 - x.scores[id]!));
}

const confidenceOf = (x: LabelledPrompt, local: string): number => x.confidences?.[local] ?? NaN;

/** Ψ(h) of every model from the evidence prompts it was scored on (buildProfile's formula). */
function featureVectorsOf(evidence: readonly EvidencePrompt[], o: EscalationFitOptions): Float64Array[] {
  const K = evidence[0]?.probabilities.length ?? 0;
  const flat = new Float64Array(evidence.length * K);
  evidence.forEach((x, i) => flat.set(x.probabilities, i * K));
  return o.models.map((m) => shrunkFeatureVector(flat, K, errorsOf(evidence, m.id), o.shrinkage, `escalation rule (${m.id})`).featureVector);
}

/** Per model, its evidence prompts with ψ from Ψ built on the other folds (a feature, not a fit). */
function conditionalSamples(evidence: readonly EvidencePrompt[], o: EscalationFitOptions): Record<string, ConditionalErrorSample[]> {
  const probabilities = evidence.map((x) => x.probabilities);
  return Object.fromEntries(
    o.models.map((m) => {
      const errors = errorsOf(evidence, m.id);
      const oof = outOfFoldClusterErrors(probabilities, errors, o.shrinkage);
      const samples = evidence.flatMap((x, i) =>
        Number.isFinite(errors[i]!) ? [{ psiError: oof[i]!, confidence: confidenceOf(x, o.localModelId), correct: 1 - errors[i]! }] : [],
      );
      return [m.id, samples];
    }),
  );
}

/** A model whose error is its mean error, whatever ψ and the confidence say. */
function constantCoefficients(meanError: number): ConditionalErrorCoefficients {
  const bias = logit(1 - meanError);
  return { bias, confidence: 0, psi: 0, biasNoConfidence: bias, psiNoConfidence: 0 };
}

/**
 * Platt scaling of the local confidence (σ(α·z + β) on z = (c − mean)/sd, L2 1e-2, as fitPlatt),
 * every model's mean error otherwise: Zhang et al.'s cascade as an error model.
 */
function confidenceOnlyParams(evidence: readonly EvidencePrompt[], o: EscalationFitOptions): ConditionalErrorModelParams {
  const local = o.localModelId;
  const meanError = (id: string): number => {
    const e = errorsOf(evidence, id).filter(Number.isFinite);
    return e.length > 0 ? e.reduce((a, b) => a + b, 0) / e.length : 0.5;
  };
  const known = evidence.filter((x) => Number.isFinite(confidenceOf(x, local)) && x.scores[local] !== undefined);
  const c = known.map((x) => confidenceOf(x, local));
  const mean = c.length > 0 ? c.reduce((a, b) => a + b, 0) / c.length : 0;
  const sdRaw = c.length > 0 ? Math.sqrt(c.reduce((a, b) => a + (b - mean) ** 2, 0) / c.length) : 1;
  const sd = sdRaw > 1e-12 ? sdRaw : 1;
  const [alpha, beta] =
    known.length > 0
      ? fitLogisticNewton(
          c.map((v) => [(v - mean) / sd, 1]),
          known.map((x) => x.scores[local]!),
          1e-2,
        )
      : [0, 0];
  const models: Record<string, ConditionalErrorCoefficients> = {};
  for (const m of o.models) models[m.id] = constantCoefficients(meanError(m.id));
  models[local] = { ...models[local]!, bias: beta!, confidence: alpha! };
  return { scale: 'raw', mean, sd, models };
}

/** ψ_h(x) passed through unchanged: UniRoute as it is. */
function identityParams(o: EscalationFitOptions): ConditionalErrorModelParams {
  const models = Object.fromEntries(o.models.map((m) => [m.id, { bias: 0, confidence: 0, psi: 1, biasNoConfidence: 0 }]));
  return { scale: 'raw', mean: 0, sd: 1, models };
}

/** One candidate's error model, fitted on `evidence`. */
function fitCandidate(name: EscalationRuleName, evidence: readonly EvidencePrompt[], o: EscalationFitOptions): ConditionalErrorModelParams {
  if (name === 'confidence-only') return confidenceOnlyParams(evidence, o);
  if (name === 'uniroute') return identityParams(o);
  const cloud = o.models.filter((m) => m.id !== o.localModelId).map((m) => m.id);
  return fitConditionalErrors(conditionalSamples(evidence, o), { scale: o.scale ?? 'raw', groups: [cloud], fitPsi: true }).params;
}

/** The three candidates' error models, fitted on `evidence`. */
export function fitEscalationCandidates(evidence: readonly EvidencePrompt[], o: EscalationFitOptions): Record<EscalationRuleName, ConditionalErrorModelParams> {
  return Object.fromEntries(ESCALATION_RULES.map((name) => [name, fitCandidate(name, evidence, o)])) as Record<EscalationRuleName, ConditionalErrorModelParams>;
}

/** One model's error under a rule, given UniRoute's ψ_h(x) and the local confidence (NaN: none, or of another kind). */
export function ruleError(name: EscalationRuleName, params: ConditionalErrorModelParams, modelId: string, psi: number, confidence: number): number {
  return name === 'uniroute' ? psi : predictConditionalError(params, modelId, psi, confidence);
}

/** Every model's error on one prompt under a rule (models order); `psi` is UniRoute's ψ_h(x) per model. */
export function ruleErrors(
  name: EscalationRuleName,
  params: ConditionalErrorModelParams,
  models: readonly ModelSpec[],
  psi: ArrayLike<number>,
  confidence: number,
): Float64Array {
  return Float64Array.from(models, (m, h) => ruleError(name, params, m.id, psi[h]!, confidence));
}

/**
 * The candidate the folds prefer: each fitted on a fold's fit part, its deferral area measured on
 * the held part (prompts every model was scored on), the one-standard-error rule over the folds.
 * `maxCost` normalises the cost axis (default: the priciest model). Without folds: the first.
 */
export function chooseEscalationRule(
  folds: readonly Fold<EvidencePrompt>[],
  o: EscalationFitOptions & { readonly maxCost?: number },
): { readonly name: EscalationRuleName; readonly areas: readonly (readonly number[])[] } {
  const maxCost = o.maxCost ?? Math.max(...o.models.map((m) => m.cost));
  const areas: number[][] = ESCALATION_RULES.map(() => []);
  for (const [fit, held] of folds) {
    if (fit.length === 0 || held.length === 0) continue;
    const candidates = fitEscalationCandidates(fit, o);
    const featureVectors = featureVectorsOf(fit, o);
    const psi = held.map((x) => expectedErrors(x.probabilities, featureVectors));
    ESCALATION_RULES.forEach((name, j) => {
      const predictions = held.map((x, i) => ruleErrors(name, candidates[name], o.models, psi[i]!, confidenceOf(x, o.localModelId)));
      areas[j]!.push(deferralArea(evaluatePredictions(predictions, held, o.models, undefined, { maxPoints: Infinity }), maxCost));
    });
  }
  const name = ESCALATION_RULES[areas[0]!.length > 0 ? oneStandardErrorChoice(areas) : 0]!;
  return { name, areas };
}

export interface FitEscalationRuleOptions extends EscalationFitOptions {
  /** What the local confidences measure (e.g. 'mean-logprob'). */
  readonly confidenceKind: string;
  /** Seed of the halvings (default 0) and how many (default 3, the benchmark's). */
  readonly seed?: number;
  readonly repeats?: number;
}

/** Fewest prompts with a local confidence a rule is fitted on: fewer cannot tell the candidates apart. */
export const MIN_ESCALATION_EVIDENCE = 40;

/**
 * The rule for one profile: chosen by cross-validation on `evidence` (the validation prompts),
 * then refitted on all of it. Undefined when fewer than MIN_ESCALATION_EVIDENCE prompts carry
 * both a local confidence and the local score.
 */
export function fitEscalationRule(evidence: readonly EvidencePrompt[], o: FitEscalationRuleOptions): EscalationRule | undefined {
  const local = o.localModelId;
  const usable = evidence.filter((x) => Number.isFinite(confidenceOf(x, local)) && x.scores[local] !== undefined).length;
  if (usable < MIN_ESCALATION_EVIDENCE) return undefined;
  const complete = (x: EvidencePrompt): boolean => o.models.every((m) => x.scores[m.id] !== undefined);
  const folds = validationFolds(evidence, o.seed ?? 0, o.repeats ?? 3, complete);
  const { name, areas } = chooseEscalationRule(folds, o);
  const mean = (a: readonly number[]): number => (a.length > 0 ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
  return {
    name,
    localModelId: local,
    confidenceKind: o.confidenceKind,
    params: fitCandidate(name, evidence, o),
    cvAreas: Object.fromEntries(ESCALATION_RULES.map((r, j) => [r, mean(areas[j]!)])) as Record<EscalationRuleName, number>,
    folds: areas[0]!.length,
    prompts: usable,
  };
}
