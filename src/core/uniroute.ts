/**
 * UniRoute (Jitkrittum et al. 2025, "Universal Model Routing for Efficient LLM Inference").
 *
 * Every model h is summarised by a featureVector Ψ(h) ∈ [0,1]^K: its error rate on the validation
 * prompts of each of K clusters. A prompt x is mapped to cluster probabilities P(·|x) (one-hot for
 * k-means, softmax for the learned map), and h's predicted error on x is Σ_k P(k|x)·Ψ_k(h).
 * A model never seen in training is added from its validation scores alone (`addModel`).
 *
 * This file also holds the decision rule every router shares (`route`) and the decision path that
 * λ calibration walks; fitting the learned map and evaluating curves live in research/.
 */
import type { Embedding, LabelledPrompt, ModelSpec, Router, RoutingInput } from './types';
import type { Vector } from './linalg';

// ---------------------------------------------------------------------------------------------
// Cluster maps
// ---------------------------------------------------------------------------------------------

/** Maps an embedding to a probability vector over K clusters. */
export interface ClusterMap {
  readonly numClusters: number;
  /** Short label used in router names ('kmeans', 'learned-map'). */
  readonly name?: string;
  probabilities(embedding: Embedding): Float64Array;
}

export interface HardClusterMap extends ClusterMap {
  /** Unit-norm centroids, one per cluster. */
  readonly centroids: readonly Float32Array[];
  /** Index of the most cosine-similar centroid (lowest index on ties). */
  nearest(embedding: Embedding): number;
}

/** @internal shared with research/ */
export function unitCopy(v: Vector): Float64Array {
  const out = Float64Array.from(v as ArrayLike<number>);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i]! * out[i]!;
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! * inv;
  }
  return out;
}

/** @internal shared with research/ */
export function checkDim(embedding: Vector, dim: number, who: string): void {
  if (embedding.length !== dim) throw new Error(`${who}: embedding has dimension ${embedding.length}, expected ${dim}`);
}

/** The k-means instantiation: P(k|x) is one-hot on the nearest centroid by cosine. */
export function hardClusterMap(centroids: readonly Vector[]): HardClusterMap {
  if (centroids.length === 0) throw new Error('hardClusterMap: no centroids');
  const dim = centroids[0]!.length;
  const units = centroids.map((c) => {
    checkDim(c, dim, 'hardClusterMap');
    return Float32Array.from(unitCopy(c));
  });
  const nearest = (embedding: Embedding): number => {
    checkDim(embedding, dim, 'hardClusterMap');
    // The embedding's own norm scales every dot product equally, so it need not be normalised.
    let best = 0;
    let bestSim = -Infinity;
    for (let k = 0; k < units.length; k++) {
      const c = units[k]!;
      let s = 0;
      for (let j = 0; j < dim; j++) s += c[j]! * embedding[j]!;
      if (s > bestSim) {
        bestSim = s;
        best = k;
      }
    }
    return best;
  };
  return {
    numClusters: units.length,
    name: 'kmeans',
    centroids: units,
    nearest,
    probabilities(embedding: Embedding): Float64Array {
      const p = new Float64Array(units.length);
      p[nearest(embedding)] = 1;
      return p;
    },
  };
}

/**
 * The learned instantiation: P(k|x) = softmax_k(θ_kᵀφ(x) + b_k), φ(x) the unit-normalised
 * embedding. θ is row-major K×dim.
 */
export class LearnedClusterMap implements ClusterMap {
  readonly name = 'learned-map';
  readonly numClusters: number;

  constructor(
    readonly theta: Float64Array,
    readonly bias: Float64Array,
    readonly dim: number,
  ) {
    if (dim < 1 || theta.length !== bias.length * dim) {
      throw new Error(`LearnedClusterMap: theta has ${theta.length} entries, expected ${bias.length}×${dim}`);
    }
    this.numClusters = bias.length;
  }

  /** θ_k = τ·centroid_k, b = 0: a softened k-means map; τ → ∞ recovers the hard map. */
  static fromCentroids(centroids: readonly Vector[], temperature: number): LearnedClusterMap {
    if (centroids.length === 0) throw new Error('LearnedClusterMap.fromCentroids: no centroids');
    const dim = centroids[0]!.length;
    const theta = new Float64Array(centroids.length * dim);
    centroids.forEach((c, k) => {
      checkDim(c, dim, 'LearnedClusterMap.fromCentroids');
      const u = unitCopy(c);
      for (let j = 0; j < dim; j++) theta[k * dim + j] = temperature * u[j]!;
    });
    return new LearnedClusterMap(theta, new Float64Array(centroids.length), dim);
  }

  probabilities(embedding: Embedding): Float64Array {
    checkDim(embedding, this.dim, 'LearnedClusterMap');
    const phi = unitCopy(embedding);
    const out = new Float64Array(this.numClusters);
    softmaxRowInto(phi, 0, this.theta, this.bias, this.dim, out, 0);
    return out;
  }
}

/** out[o..o+K) = softmax(θ·φ[po..po+dim) + b). */
/** @internal shared with research/ */
export function softmaxRowInto(
  phi: Float32Array | Float64Array,
  po: number,
  theta: Float64Array,
  bias: Float64Array,
  dim: number,
  out: Float64Array,
  o: number,
): void {
  const K = bias.length;
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    const t = k * dim;
    // Four accumulators let the JIT pipeline the multiply-adds (this loop dominates fitting).
    let s0 = bias[k]!;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 3 < dim; j += 4) {
      s0 += theta[t + j]! * phi[po + j]!;
      s1 += theta[t + j + 1]! * phi[po + j + 1]!;
      s2 += theta[t + j + 2]! * phi[po + j + 2]!;
      s3 += theta[t + j + 3]! * phi[po + j + 3]!;
    }
    for (; j < dim; j++) s0 += theta[t + j]! * phi[po + j]!;
    const s = s0 + s1 + s2 + s3;
    out[o + k] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const e = Math.exp(out[o + k]! - max);
    out[o + k] = e;
    sum += e;
  }
  for (let k = 0; k < K; k++) out[o + k] = out[o + k]! / sum;
}

// ---------------------------------------------------------------------------------------------
// Feature vectors Ψ(h) with shrinkage
// ---------------------------------------------------------------------------------------------

/**
 * Default pseudo-count m of the shrinkage Ψ_k = (n_k·mean_k + m·global)/(n_k + m).
 * With K = 20–64 clusters a cluster often holds only a handful of validation prompts, so its raw
 * error mean is very noisy (one prompt gives 0 or 1). The formula is the posterior mean under a
 * Beta(m·global, m·(1−global)) prior on the cluster's error rate: the model's overall error is worth
 * m prompts of evidence. m = 5 pulls a 2-prompt cluster most of the way to the global error and
 * moves a 50-prompt cluster by under 10%.
 */
export const DEFAULT_SHRINKAGE = 5;

/** @internal shared with research/ */
export function checkScore(score: number, where: string): void {
  if (!(score >= 0 && score <= 1)) throw new Error(`${where}: score must be in [0, 1], got ${score}`);
}

/**
 * Ψ(h) from cluster probabilities (flat N×K) and h's errors on those prompts (NaN = not scored,
 * skipped). Soft counts n_k = Σ_x P(k|x). With m = 0 an empty cluster falls back to the global error.
 */
/** @internal shared with escalation-rule.ts */
export function shrunkFeatureVector(
  probabilities: Float64Array,
  K: number,
  errors: Float64Array,
  shrinkage: number,
  who: string,
): { featureVector: Float64Array; globalError: number } {
  const N = errors.length;
  const mass = new Float64Array(K);
  const errMass = new Float64Array(K);
  let total = 0;
  let count = 0;
  for (let x = 0; x < N; x++) {
    const e = errors[x]!;
    if (Number.isNaN(e)) continue;
    total += e;
    count++;
    for (let k = 0; k < K; k++) {
      const p = probabilities[x * K + k]!;
      mass[k] = mass[k]! + p;
      errMass[k] = errMass[k]! + p * e;
    }
  }
  if (count === 0) throw new Error(`${who}: no validation scores for this model`);
  const globalError = total / count;
  const featureVector = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const denom = mass[k]! + shrinkage;
    featureVector[k] = denom > 0 ? (errMass[k]! + shrinkage * globalError) / denom : globalError;
  }
  return { featureVector, globalError };
}

export interface UniRouteProfile {
  readonly clusterMap: ClusterMap;
  readonly models: readonly ModelSpec[];
  /** Ψ(h) per model, same order as `models`, each of length K. */
  readonly featureVectors: readonly Float64Array[];
  /** Each model's mean validation error: the shrinkage target. */
  readonly globalErrors: readonly number[];
  readonly shrinkage: number;
  /** Validation prompt ids, in the order of `validationProbabilities` rows. */
  readonly validationIds: readonly string[];
  /** Cached P(k|x) of the validation prompts, flat N×K, so `addModel` needs no embeddings or centroids. */
  readonly validationProbabilities: Float64Array;
}

export type ScoresOnValidation = Readonly<Record<string, number>> | ArrayLike<number>;

export interface BuildProfileInput {
  readonly validation: readonly LabelledPrompt[];
  readonly models: readonly ModelSpec[];
  /** The cluster map; when absent, `hardClusterMap(centroids)`. */
  readonly clusterMap?: ClusterMap;
  readonly centroids?: readonly Vector[];
  /** Pseudo-count m (default DEFAULT_SHRINKAGE). */
  readonly shrinkage?: number;
}

/** @internal shared with research/ */
export function checkModels(models: readonly ModelSpec[], who: string): void {
  if (models.length === 0) throw new Error(`${who}: no models`);
  const seen = new Set<string>();
  for (const m of models) {
    if (!(Number.isFinite(m.cost) && m.cost >= 0)) throw new Error(`${who}: model ${m.id} has invalid cost ${m.cost}`);
    if (seen.has(m.id)) throw new Error(`${who}: duplicate model id ${m.id}`);
    seen.add(m.id);
  }
}

/** Errors (1 − score) of one model in validation order; NaN where it has no score. */
function errorsFromScores(scores: ScoresOnValidation, validationIds: readonly string[], who: string): Float64Array {
  const errors = new Float64Array(validationIds.length);
  const isArray = Array.isArray(scores) || ArrayBuffer.isView(scores);
  if (isArray) {
    const arr = scores as ArrayLike<number>;
    if (arr.length !== validationIds.length) {
      throw new Error(`${who}: ${arr.length} scores for ${validationIds.length} validation prompts`);
    }
    for (let i = 0; i < arr.length; i++) {
      const s = arr[i]!;
      if (Number.isNaN(s)) errors[i] = NaN;
      else {
        checkScore(s, who);
        errors[i] = 1 - s;
      }
    }
  } else {
    const rec = scores as Readonly<Record<string, number>>;
    validationIds.forEach((id, i) => {
      const s = rec[id];
      if (s === undefined) errors[i] = NaN;
      else {
        checkScore(s, who);
        errors[i] = 1 - s;
      }
    });
  }
  return errors;
}

/** Builds Ψ(h) for every model from its scores on the validation prompts. */
export function buildProfile(input: BuildProfileInput): UniRouteProfile {
  const shrinkage = input.shrinkage ?? DEFAULT_SHRINKAGE;
  if (!(shrinkage >= 0 && Number.isFinite(shrinkage))) throw new Error(`buildProfile: invalid shrinkage ${shrinkage}`);
  if (input.validation.length === 0) throw new Error('buildProfile: no validation prompts');
  checkModels(input.models, 'buildProfile');
  let clusterMap = input.clusterMap;
  if (clusterMap === undefined) {
    if (input.centroids === undefined) throw new Error('buildProfile: give clusterMap or centroids');
    clusterMap = hardClusterMap(input.centroids);
  }
  const K = clusterMap.numClusters;
  const N = input.validation.length;
  const validationProbabilities = new Float64Array(N * K);
  input.validation.forEach((x, i) => validationProbabilities.set(clusterMap.probabilities(x.embedding), i * K));
  const validationIds = input.validation.map((x) => x.id);

  const featureVectors: Float64Array[] = [];
  const globalErrors: number[] = [];
  for (const model of input.models) {
    const errors = new Float64Array(N);
    input.validation.forEach((x, i) => {
      const s = x.scores[model.id];
      if (s === undefined) errors[i] = NaN;
      else {
        checkScore(s, `buildProfile (${model.id}, ${x.id})`);
        errors[i] = 1 - s;
      }
    });
    const fv = shrunkFeatureVector(validationProbabilities, K, errors, shrinkage, `buildProfile (${model.id})`);
    featureVectors.push(fv.featureVector);
    globalErrors.push(fv.globalError);
  }
  return {
    clusterMap,
    models: [...input.models],
    featureVectors,
    globalErrors,
    shrinkage,
    validationIds,
    validationProbabilities,
  };
}

/**
 * Adds a model never seen in training from its scores on the validation prompts alone (the
 * property that makes UniRoute "universal"). `scoresOnValidation` is keyed by validation prompt id,
 * or an array in `profile.validationIds` order; missing / NaN entries are skipped.
 * Returns a new profile; the input profile is left unchanged.
 */
export function addModel(profile: UniRouteProfile, modelId: string, cost: number, scoresOnValidation: ScoresOnValidation): UniRouteProfile {
  const models = [...profile.models, { id: modelId, cost }];
  checkModels(models, 'addModel');
  const errors = errorsFromScores(scoresOnValidation, profile.validationIds, `addModel (${modelId})`);
  const fv = shrunkFeatureVector(profile.validationProbabilities, profile.clusterMap.numClusters, errors, profile.shrinkage, `addModel (${modelId})`);
  return {
    ...profile,
    models,
    featureVectors: [...profile.featureVectors, fv.featureVector],
    globalErrors: [...profile.globalErrors, fv.globalError],
  };
}

/** Predicted error Σ_k P(k|x)·Ψ_k(h) for every model in the profile. */
export class UniRouteRouter implements Router {
  readonly name: string;
  readonly models: readonly ModelSpec[];

  constructor(
    readonly profile: UniRouteProfile,
    name?: string,
  ) {
    this.name = name ?? `uniroute-${profile.clusterMap.name ?? 'custom'}`;
    this.models = profile.models;
  }

  predictErrors(input: RoutingInput): Float64Array {
    return expectedErrors(this.profile.clusterMap.probabilities(input.embedding), this.profile.featureVectors);
  }
}

/**
 * Σ_k P(k|x)·Ψ_k(h) for every model h, given P(·|x): the step after cluster assignment, apart so
 * callers can time (or reuse) the two steps separately.
 */
export function expectedErrors(probabilities: ArrayLike<number>, featureVectors: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(featureVectors.length);
  featureVectors.forEach((psi, h) => {
    if (psi.length !== probabilities.length) throw new Error(`expectedErrors: Ψ of model ${h} has ${psi.length} clusters, P(k|x) has ${probabilities.length}`);
    let s = 0;
    for (let k = 0; k < probabilities.length; k++) s += probabilities[k]! * psi[k]!;
    out[h] = s;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// The decision rule shared by every router
// ---------------------------------------------------------------------------------------------

/** Objectives within this absolute distance count as tied. */
const TIE_EPS = 1e-12;

/**
 * Index of argmin_h [ predictedErrors[h] + λ·cost(h) ]; ties go to the cheaper model, then to the
 * lower index. λ = Infinity picks the cheapest model (lowest predicted error among equally cheap).
 */
export function route(predictedErrors: ArrayLike<number>, models: readonly ModelSpec[], lambda: number): number {
  if (predictedErrors.length !== models.length || models.length === 0) {
    throw new Error(`route: ${predictedErrors.length} predicted errors for ${models.length} models`);
  }
  if (!(lambda >= 0)) throw new Error(`route: lambda must be ≥ 0, got ${lambda}`);
  if (lambda === Infinity) return cheapest(predictedErrors, models);
  let best = 0;
  let bestObj = predictedErrors[0]! + lambda * models[0]!.cost;
  for (let h = 1; h < models.length; h++) {
    const obj = predictedErrors[h]! + lambda * models[h]!.cost;
    if (obj < bestObj - TIE_EPS || (obj <= bestObj + TIE_EPS && models[h]!.cost < models[best]!.cost)) {
      best = h;
      bestObj = obj;
    }
  }
  return best;
}

function cheapest(predictedErrors: ArrayLike<number>, models: readonly ModelSpec[]): number {
  let best = 0;
  for (let h = 1; h < models.length; h++) {
    const c = models[h]!.cost;
    const bc = models[best]!.cost;
    if (c < bc || (c === bc && predictedErrors[h]! < predictedErrors[best]!)) best = h;
  }
  return best;
}

export interface Decision {
  readonly modelIndex: number;
  readonly modelId: string;
  readonly lambda: number;
  readonly predictedErrors: Float64Array;
  /** predictedErrors[modelIndex] + λ·cost (for λ = Infinity: the chosen model's predicted error). */
  readonly objective: number;
}

export function decide(predictedErrors: Float64Array, models: readonly ModelSpec[], lambda: number): Decision {
  const modelIndex = route(predictedErrors, models, lambda);
  const model = models[modelIndex]!;
  const objective = lambda === Infinity ? predictedErrors[modelIndex]! : predictedErrors[modelIndex]! + lambda * model.cost;
  return { modelIndex, modelId: model.id, lambda, predictedErrors, objective };
}

// ---------------------------------------------------------------------------------------------
// λ sweep and deferral curves
// ---------------------------------------------------------------------------------------------

/** Prompt `prompt` switches from model `from` to the cheaper model `to` once λ passes `lambda`. */
export interface DecisionEvent {
  readonly lambda: number;
  readonly prompt: number;
  readonly from: number;
  readonly to: number;
}

export interface DecisionPath {
  /** route(errors, models, 0) per prompt. */
  readonly initial: Int32Array;
  /** Every decision change as λ grows from 0 to ∞, λ ascending (ties: prompt, then order of change). */
  readonly events: readonly DecisionEvent[];
}

/**
 * Walks each prompt's lower envelope of the lines e_h + λ·c_h: from the λ = 0 choice h, the next
 * model is the cheaper one whose line crosses h's first. At most H − 1 changes per prompt.
 */
export function decisionPath(predictedErrors: readonly ArrayLike<number>[], models: readonly ModelSpec[]): DecisionPath {
  const initial = new Int32Array(predictedErrors.length);
  const events: DecisionEvent[] = [];
  predictedErrors.forEach((e, x) => {
    let h = route(e, models, 0);
    initial[x] = h;
    let current = 0;
    for (;;) {
      let next = -1;
      let nextLambda = Infinity;
      for (let g = 0; g < models.length; g++) {
        const dc = models[h]!.cost - models[g]!.cost;
        if (dc <= 0) continue;
        const crossing = Math.max(current, (e[g]! - e[h]!) / dc);
        const better = crossing < nextLambda || (crossing === nextLambda && models[g]!.cost < models[next]!.cost);
        if (better) {
          next = g;
          nextLambda = crossing;
        }
      }
      if (next === -1) break;
      events.push({ lambda: nextLambda, prompt: x, from: h, to: next });
      h = next;
      current = nextLambda;
    }
  });
  events.sort((a, b) => a.lambda - b.lambda || a.prompt - b.prompt);
  return { initial, events };
}

/** One constant-decision interval of λ, summarised. */
export interface OperatingPiece {
  /** A λ strictly inside the interval (0 for the first one); route() at it gives these numbers. */
  readonly lambda: number;
  /** Mean USD per prompt (recorded per-prompt costs where present, else model cost). */
  readonly cost: number;
  /** Mean observed quality (NaN if a chosen model has no score on some prompt). */
  readonly quality: number;
  /** Mean predicted quality 1 − predictedError of the chosen model. */
  readonly predictedQuality: number;
  /** Number of prompts sent to each model (models order). */
  readonly counts: Float64Array;
}

/** @internal shared with research/ */
export function promptCost(prompt: LabelledPrompt, model: ModelSpec): number {
  return prompt.costs?.[model.id] ?? model.cost;
}

/** @internal shared with research/ */
export function promptQuality(prompt: LabelledPrompt, model: ModelSpec): number {
  return prompt.scores[model.id] ?? NaN;
}

/** Representative λ per interval between sorted distinct breakpoints: 0, midpoints, 2·last. */
/** @internal shared with research/ */
export function representatives(breakpoints: readonly number[]): number[] {
  const reps = [0];
  for (let i = 0; i < breakpoints.length; i++) {
    const lo = breakpoints[i]!;
    const hi = breakpoints[i + 1];
    reps.push(hi === undefined ? (lo > 0 ? 2 * lo : 1) : (lo + hi) / 2);
  }
  return reps;
}

/** Distinct λ ascending from the events; the breakpoint at exactly 0 (ties at λ = 0) is dropped. */
/** @internal shared with research/ */
export function distinctBreakpoints(events: readonly DecisionEvent[]): number[] {
  const out: number[] = [];
  for (const ev of events) {
    if (ev.lambda <= 0) continue;
    if (out.length === 0 || ev.lambda > out[out.length - 1]!) out.push(ev.lambda);
  }
  return out;
}

/**
 * Every operating point of a router on labelled prompts: one per interval of λ on which no decision
 * changes, λ ascending (so cost non-increasing). O(E log E) in the number of decision changes.
 */
export function operatingPieces(
  predictedErrors: readonly ArrayLike<number>[],
  prompts: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
): OperatingPiece[] {
  if (predictedErrors.length !== prompts.length) {
    throw new Error(`operatingPieces: ${predictedErrors.length} predictions for ${prompts.length} prompts`);
  }
  if (prompts.length === 0) throw new Error('operatingPieces: no prompts');
  checkModels(models, 'operatingPieces');
  const N = prompts.length;
  const { initial, events } = decisionPath(predictedErrors, models);
  const H = models.length;
  const counts = new Float64Array(H);
  // Running sums per model, reset to exactly 0 when a model loses its last prompt, so that adding
  // and removing prompts leaves no round-off drift there (e.g. "all local" costs exactly 0).
  const cost = new Float64Array(H);
  const quality = new Float64Array(H);
  const predicted = new Float64Array(H);
  const add = (x: number, h: number, sign: number): void => {
    const m = models[h]!;
    counts[h] = counts[h]! + sign;
    if (counts[h] === 0) {
      cost[h] = 0;
      quality[h] = 0;
      predicted[h] = 0;
      return;
    }
    cost[h] = cost[h]! + sign * promptCost(prompts[x]!, m);
    quality[h] = quality[h]! + sign * promptQuality(prompts[x]!, m);
    predicted[h] = predicted[h]! + sign * (1 - predictedErrors[x]![h]!);
  };
  const mean = (v: Float64Array): number => v.reduce((a, b) => a + b, 0) / N;
  for (let x = 0; x < N; x++) add(x, initial[x]!, 1);

  const lambdas = representatives(distinctBreakpoints(events));
  const pieces: OperatingPiece[] = [];
  let e = 0;
  for (const lambda of lambdas) {
    // Apply every change at or below λ (at a breakpoint the tie already goes to the cheaper model).
    while (e < events.length && events[e]!.lambda <= lambda) {
      const ev = events[e++]!;
      add(ev.prompt, ev.from, -1);
      add(ev.prompt, ev.to, 1);
    }
    pieces.push({ lambda, cost: mean(cost), quality: mean(quality), predictedQuality: mean(predicted), counts: counts.slice() });
  }
  return pieces;
}

/**
 * Predicted errors of `router` on each prompt, computed once. `localConfidence` is the recorded
 * confidence of the first free (cost 0) model that has one, for routers that defer on it.
 */
export function predictAll(router: Router, prompts: readonly LabelledPrompt[]): Float64Array[] {
  const local = router.models.filter((m) => m.cost === 0).map((m) => m.id);
  return prompts.map((x) => {
    const id = local.find((m) => x.confidences?.[m] !== undefined);
    const localConfidence = id === undefined ? undefined : x.confidences?.[id];
    return router.predictErrors(localConfidence === undefined ? { embedding: x.embedding } : { embedding: x.embedding, localConfidence });
  });
}
