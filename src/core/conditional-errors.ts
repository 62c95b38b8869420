/**
 * Confidence-conditioned errors for the hybrid router.
 *
 * The local model's confidence in its own answer says how hard the prompt is for every model,
 * not only for the local one: on the cascade sets' training prompts Llama-3.2-3B's log-probability
 * separates the prompts Llama-3.1-405B gets right from those it gets wrong with AUC ≈ 0.68 (its
 * own: ≈ 0.75), far better than USE-lite prompt clusters do. So each model h gets
 *
 *   P(h right | x, c) = σ(b_h + w_h·z(c) + w_ψ·logit(1 − ψ_h(x))),
 *
 * z(c) the standardised local confidence and ψ_h(x) = Σ_k P(k|x)·Ψ_k(h) UniRoute's prediction,
 * entering with weight w_ψ = 1 (UniRoute as it is; b_h = w_h = 0 gives UniRoute back) or 0 for
 * models listed in `confidenceOnly` (their cluster prior is not trusted once the confidence is
 * known). Only b_h and w_h are fitted. Models in a group share one (b, w) fitted on all their
 * prompts, then each member moves from it as far as its own prompts justify (`memberPenalty`):
 * a cloud model known only through ~150 validation prompts cannot estimate its own slope.
 * Before the local model has answered (no confidence) every model gets σ(b'_h + logit(1 − ψ_h)).
 */

import { fitLogisticNewton, sigmoid } from './logistic';

/** One prompt on which model h was scored. */
export interface ConditionalErrorSample {
  /** UniRoute's predicted error of h on this prompt, from Ψ built without it (see outOfFoldClusterErrors). */
  readonly psiError: number;
  /** The local model's confidence on this prompt (NaN where unknown: then only the no-confidence fit uses it). */
  readonly confidence: number;
  /** h's score in [0, 1] (1 = right). */
  readonly correct: number;
}

/** P(right) = σ(bias + confidence·z + psi·logit(1 − ψ)); without a confidence σ(biasNoConfidence + logit(1 − ψ)). */
export interface ConditionalErrorCoefficients {
  readonly bias: number;
  readonly confidence: number;
  /** 1, or 0 for a model in `confidenceOnly`. */
  readonly psi: number;
  readonly biasNoConfidence: number;
  /** Weight of logit(1 − ψ) without a confidence (default 1; 0 for a model whose error ignores ψ). */
  readonly psiNoConfidence?: number;
}

/**
 * 'log-probability': the confidence is the log-probability of the answer the model gave; the
 * feature is its log-odds log(p/(1−p)), p = e^c, which spreads out the near-certain answers a
 * log-probability squeezes against 0 (on the cascade sets' training and validation prompts it
 * predicts every model's correctness better than the raw log-probability). 'raw': as it is.
 */
export type ConfidenceScale = 'raw' | 'log-probability';

export function scaleConfidence(confidence: number, scale: ConfidenceScale): number {
  if (scale === 'raw' || !Number.isFinite(confidence)) return confidence;
  const p = Math.min(1 - 1e-9, Math.max(1e-9, Math.exp(Math.min(0, confidence))));
  return Math.log(p / (1 - p));
}

/** Serializable state of a ConditionalErrorModel. */
export interface ConditionalErrorModelParams {
  readonly scale: ConfidenceScale;
  /** z = (scaleConfidence(c) − mean)/sd. */
  readonly mean: number;
  readonly sd: number;
  readonly models: Readonly<Record<string, ConditionalErrorCoefficients>>;
}

export interface ConditionalErrorOptions {
  /** Default 'raw'. */
  readonly scale?: ConfidenceScale;
  /** L2 pull of (b, w) toward 0, i.e. toward UniRoute, in units of summed log-loss. Default 2. */
  readonly penalty?: number;
  /** Models fitted as one, e.g. the cloud pool. */
  readonly groups?: readonly (readonly string[])[];
  /**
   * Pull of each group member's (b, w) toward the group's. Default 30: a member scored on a
   * thousand prompts follows them, one scored on a hundred stays near the group.
   */
  readonly memberPenalty?: number;
  /** Models whose error, once the confidence is known, ignores ψ (w_ψ = 0). */
  readonly confidenceOnly?: readonly string[];
  /**
   * Fit w_ψ too (a logistic on [1, z(c), logit(1 − ψ)], every weight pulled by `penalty` toward
   * (0, 0, 1), i.e. toward UniRoute) instead of fixing it at 1: where the confidence already says
   * what the clusters say, a fixed w_ψ = 1 counts the same evidence twice. Models in
   * `confidenceOnly` keep w_ψ = 0. Default false.
   */
  readonly fitPsi?: boolean;
}

/** logit of an accuracy, clamped so that a cluster without errors does not give ±∞. */
function logitAccuracy(error: number): number {
  const q = Math.min(1 - 1e-3, Math.max(1e-3, 1 - error));
  return Math.log(q / (1 - q));
}

/**
 * 1 − P(right) of `modelId` under `params`: σ(bias + confidence·z(c) + psi·logit(1 − ψ)), or
 * without a confidence σ(biasNoConfidence + psiNoConfidence·logit(1 − ψ)). A plain function of
 * plain data, so the page can apply a rule the worker fitted.
 */
export function predictConditionalError(params: ConditionalErrorModelParams, modelId: string, psiError: number, confidence: number): number {
  const w = params.models[modelId];
  if (!w) throw new Error(`no conditional error coefficients for model ${modelId}`);
  const l = logitAccuracy(psiError);
  const s = Number.isFinite(confidence)
    ? w.bias + w.confidence * ((scaleConfidence(confidence, params.scale) - params.mean) / params.sd) + w.psi * l
    : w.biasNoConfidence + (w.psiNoConfidence ?? 1) * l;
  return 1 - sigmoid(s);
}

export class ConditionalErrorModel {
  constructor(readonly params: ConditionalErrorModelParams) {}

  has(modelId: string): boolean {
    return this.params.models[modelId] !== undefined;
  }

  /** Predicted error of `modelId` from UniRoute's ψ_h(x) and the local confidence (NaN = not answered yet). */
  predictError(modelId: string, psiError: number, confidence: number): number {
    return predictConditionalError(this.params, modelId, psiError, confidence);
  }

  toJSON(): ConditionalErrorModelParams {
    return this.params;
  }
}

/**
 * Fits the coefficients of every model in `samples` (model id → the prompts it was scored on).
 * The confidence is standardised over all samples that have one.
 */
export function fitConditionalErrors(
  samples: Readonly<Record<string, readonly ConditionalErrorSample[]>>,
  options: ConditionalErrorOptions = {},
): ConditionalErrorModel {
  const scale = options.scale ?? 'raw';
  const penalty = options.penalty ?? 2;
  const memberPenalty = options.memberPenalty ?? 30;
  const confidenceOnly = new Set(options.confidenceOnly ?? []);
  const t = (c: number): number => scaleConfidence(c, scale);
  const scaled = Object.values(samples)
    .flatMap((list) => list.map((s) => t(s.confidence)))
    .filter(Number.isFinite);
  const mean = scaled.length > 0 ? scaled.reduce((a, b) => a + b, 0) / scaled.length : 0;
  const variance = scaled.length > 0 ? scaled.reduce((a, b) => a + (b - mean) ** 2, 0) / scaled.length : 1;
  const sd = variance > 1e-24 ? Math.sqrt(variance) : 1;

  // (b, w) with offset w_ψ·logit(1 − ψ), and b' with offset logit(1 − ψ), pulled toward `prior`.
  const fitPsi = options.fitPsi ?? false;
  const fit = (ids: readonly string[], psi: number, pen: number, prior: readonly [number, number, number], psiPrior = 1): ConditionalErrorCoefficients => {
    const usable = ids.flatMap((id) => samples[id] ?? []).filter((s) => Number.isFinite(s.psiError) && Number.isFinite(s.correct));
    const withConfidence = usable.filter((s) => Number.isFinite(s.confidence));
    // Before the local model answers: σ(b' + logit(1 − ψ)), whatever is fitted with the confidence.
    const [biasNoConfidence] = fitLogisticNewton(
      usable.map(() => [1]),
      usable.map((s) => s.correct),
      pen,
      [prior[2]],
      usable.map((s) => logitAccuracy(s.psiError)),
    );
    if (fitPsi && psi !== 0) {
      const [bias, confidence, psiWeight] = fitLogisticNewton(
        withConfidence.map((s) => [1, (t(s.confidence) - mean) / sd, logitAccuracy(s.psiError)]),
        withConfidence.map((s) => s.correct),
        pen,
        [prior[0], prior[1], psiPrior],
      );
      return { bias: bias!, confidence: confidence!, psi: psiWeight!, biasNoConfidence: biasNoConfidence! };
    }
    const [bias, confidence] = fitLogisticNewton(
      withConfidence.map((s) => [1, (t(s.confidence) - mean) / sd]),
      withConfidence.map((s) => s.correct),
      pen,
      [prior[0], prior[1]],
      withConfidence.map((s) => psi * logitAccuracy(s.psiError)),
    );
    return { bias: bias!, confidence: confidence!, psi, biasNoConfidence: biasNoConfidence! };
  };

  const models: Record<string, ConditionalErrorCoefficients> = {};
  const grouped = new Set<string>();
  for (const group of options.groups ?? []) {
    const ids = group.filter((id) => samples[id] !== undefined && !grouped.has(id));
    if (ids.length === 0) continue;
    ids.forEach((id) => grouped.add(id));
    const psiOf = (id: string): number => (confidenceOnly.has(id) ? 0 : 1);
    if (new Set(ids.map(psiOf)).size > 1) throw new RangeError('a group mixes confidence-only models with the others');
    const pooled = fit(ids, psiOf(ids[0]!), penalty, [0, 0, 0]);
    for (const id of ids) {
      models[id] = Number.isFinite(memberPenalty)
        ? fit([id], pooled.psi, memberPenalty, [pooled.bias, pooled.confidence, pooled.biasNoConfidence], pooled.psi)
        : pooled;
    }
  }
  for (const id of Object.keys(samples)) {
    if (!grouped.has(id)) models[id] = fit([id], confidenceOnly.has(id) ? 0 : 1, penalty, [0, 0, 0]);
  }
  return new ConditionalErrorModel({ scale, mean, sd, models });
}

/** Held-out comparison of a model's errors with and without its cluster prior (see clusterPriorHelps). */
export interface ClusterPriorTest {
  /** Mean held-out log-loss per prompt with ψ (weight 1) minus without: negative = ψ helps. */
  readonly gain: number;
  /** Standard error of that mean (paired over prompts). */
  readonly standardError: number;
  /** gain + standardError < 0: ψ helps by more than one standard error. */
  readonly helps: boolean;
}

/**
 * Does a model's cluster prior ψ_h(x) add to the local confidence? K-fold cross-validation on
 * its samples of σ(b + w·z) against σ(b + w·z + logit(1 − ψ)), judged by the one-standard-error
 * rule: a prior that is no better than noise on held-out prompts only reorders them at random.
 * The samples' ψ should come from a cluster map fitted without their labels (k-means), else the
 * prior looks better than it is.
 */
export function clusterPriorHelps(
  samples: readonly ConditionalErrorSample[],
  options: { readonly scale?: ConfidenceScale; readonly folds?: number; readonly penalty?: number } = {},
): ClusterPriorTest {
  const scale = options.scale ?? 'raw';
  const folds = options.folds ?? 5;
  const penalty = options.penalty ?? 2;
  const usable = samples.filter((s) => Number.isFinite(s.psiError) && Number.isFinite(s.correct) && Number.isFinite(s.confidence));
  const x = usable.map((s) => scaleConfidence(s.confidence, scale));
  const mean = x.reduce((a, b) => a + b, 0) / Math.max(1, x.length);
  const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, x.length)) || 1;
  const rows = x.map((v) => [1, (v - mean) / sd]);
  const offsets = usable.map((s) => logitAccuracy(s.psiError));
  const loss = (score: number, y: number): number => Math.max(score, 0) + Math.log1p(Math.exp(-Math.abs(score))) - y * score;
  const diffs: number[] = [];
  for (let f = 0; f < folds; f++) {
    const fit = usable.map((_, i) => i).filter((i) => i % folds !== f);
    const held = usable.map((_, i) => i).filter((i) => i % folds === f);
    if (fit.length === 0 || held.length === 0) continue;
    const y = fit.map((i) => usable[i]!.correct);
    const without = fitLogisticNewton(
      fit.map((i) => rows[i]!),
      y,
      penalty,
    );
    const withPsi = fitLogisticNewton(
      fit.map((i) => rows[i]!),
      y,
      penalty,
      [0, 0],
      fit.map((i) => offsets[i]!),
    );
    for (const i of held) {
      const r = rows[i]!;
      const s0 = without[0]! + without[1]! * r[1]!;
      const s1 = withPsi[0]! + withPsi[1]! * r[1]! + offsets[i]!;
      diffs.push(loss(s1, usable[i]!.correct) - loss(s0, usable[i]!.correct));
    }
  }
  const n = diffs.length;
  if (n < 2) return { gain: 0, standardError: Infinity, helps: false };
  const gain = diffs.reduce((a, b) => a + b, 0) / n;
  const standardError = Math.sqrt(diffs.reduce((a, b) => a + (b - gain) ** 2, 0) / (n - 1) / n);
  return { gain, standardError, helps: gain + standardError < 0 };
}

/**
 * UniRoute's predicted error Σ_k P(k|x)·Ψ_k on each prompt Ψ is built from, with Ψ (and the global
 * error it shrinks toward) computed from the other folds only. An in-sample prediction looks better
 * than it is; a leave-one-out one is worse than useless as a feature, since within a cluster it is
 * lower exactly for the prompts the model got wrong. Out of fold, the prompts of one fold and
 * cluster share one value, as test prompts do.
 * `probabilities[i]` = P(k | prompt i); `errors[i]` = 1 − score (NaN = not scored: skipped, NaN
 * out); `shrinkage` = the pseudo-count m of Ψ_k = (Σ p·e + m·global)/(Σ p + m), as in
 * buildProfile; prompt i is in fold i mod `folds`.
 */
export function outOfFoldClusterErrors(probabilities: readonly Float64Array[], errors: ArrayLike<number>, shrinkage: number, folds = 5): Float64Array {
  if (probabilities.length !== errors.length) throw new RangeError('probabilities and errors differ in length');
  if (!(Number.isInteger(folds) && folds >= 2)) throw new RangeError(`folds must be an integer ≥ 2, got ${folds}`);
  const K = probabilities[0]?.length ?? 0;
  // Per fold: soft counts and error sums per cluster, and the plain totals.
  const mass = Array.from({ length: folds }, () => new Float64Array(K));
  const errMass = Array.from({ length: folds }, () => new Float64Array(K));
  const total = new Float64Array(folds);
  const count = new Float64Array(folds);
  probabilities.forEach((p, i) => {
    const e = errors[i]!;
    if (!Number.isFinite(e)) return;
    const f = i % folds;
    total[f] += e;
    count[f] += 1;
    for (let k = 0; k < K; k++) {
      mass[f]![k] += p[k]!;
      errMass[f]![k] += p[k]! * e;
    }
  });
  const sum = (v: Float64Array): number => v.reduce((a, b) => a + b, 0);
  const allTotal = sum(total);
  const allCount = sum(count);
  const allMass = Float64Array.from({ length: K }, (_, k) => mass.reduce((a, m) => a + m[k]!, 0));
  const allErr = Float64Array.from({ length: K }, (_, k) => errMass.reduce((a, m) => a + m[k]!, 0));
  const psi = Array.from({ length: folds }, (_, f) => {
    const n = allCount - count[f]!;
    // A fold holding every scored prompt leaves nothing to learn from: the uninformative 0.5.
    const global = n > 0 ? (allTotal - total[f]!) / n : 0.5;
    return Float64Array.from({ length: K }, (_, k) => {
      const denom = allMass[k]! - mass[f]![k]! + shrinkage;
      return denom > 1e-12 ? (allErr[k]! - errMass[f]![k]! + shrinkage * global) / denom : global;
    });
  });
  return Float64Array.from(probabilities, (p, i) => {
    if (!Number.isFinite(errors[i]!)) return NaN;
    const v = psi[i % folds]!;
    let out = 0;
    for (let k = 0; k < K; k++) out += p[k]! * v[k]!;
    return out;
  });
}
