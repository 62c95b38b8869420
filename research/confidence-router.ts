/**
 * Confidence-driven routers.
 *
 * Predictive (Zhang et al. 2025, "Leveraging Uncertainty Estimation for Efficient LLM
 * Routing"): before anything is generated, predict from the prompt embedding whether the weak
 * (local) model's answer will suffice — trained on labels from correctness or from the weak
 * model's semantic entropy — with k-NN or a small MLP.
 *
 * Post-generation: the local model has answered; its own confidence, calibrated to P(correct),
 * decides whether to keep the answer (cascade), optionally per prompt cluster (hybrid, with
 * UniRoute's per-cluster errors Ψ for the cloud models).
 *
 * All are `Router`s: they only predict per-model errors; the shared rule
 * argmin_h [err_h + λ·cost_h] and its λ sweep make the decisions. The weak model's error is the
 * per-prompt prediction; a model the router knows nothing per-prompt about gets its mean
 * validation error, so sweeping λ sweeps a threshold on the weak model's predicted error.
 */

import type { Embedding, LabelledPrompt, ModelSpec, Router, RoutingInput } from '../src/core/types';
import type { ClusterAwareCalibrator, ConfidenceCalibrator } from './confidence-calibration';
import type { ConditionalErrorModel } from '../src/core/conditional-errors';
import { createRng } from '../src/core/random';

// ---------------------------------------------------------------------------------------------
// Training labels.

/** How "the weak model's answer suffices" is decided for a training prompt. */
export type SufficiencyLabelSource =
  /** suffices ⇔ the weak model's score ≥ threshold (default 0.5). */
  | { readonly kind: 'correctness'; readonly threshold?: number }
  /** suffices ⇔ the semantic entropy of the weak model's sampled answers < threshold (nats). */
  | { readonly kind: 'semantic-entropy'; readonly threshold: number };

/** The 0/1 label "weak suffices" for one prompt. Throws when the needed observation is missing. */
export function weakSufficesLabel(observation: { readonly weakScore?: number; readonly semanticEntropy?: number }, source: SufficiencyLabelSource): 0 | 1 {
  if (source.kind === 'correctness') {
    if (observation.weakScore === undefined) throw new Error('weakScore is required for correctness labels');
    return observation.weakScore >= (source.threshold ?? 0.5) ? 1 : 0;
  }
  if (observation.semanticEntropy === undefined) {
    throw new Error('semanticEntropy is required for semantic-entropy labels');
  }
  // Low entropy = the model keeps giving the same meaning = it "knows" (Kuhn et al.).
  return observation.semanticEntropy < source.threshold ? 1 : 0;
}

/** A training example of the predictive routers. */
export interface SufficiencyExample {
  readonly embedding: Embedding;
  /** 1 = the weak model's answer suffices (soft labels in [0, 1] allowed). */
  readonly suffices: number;
}

/**
 * Training examples from labelled prompts. For 'semantic-entropy' labels, `semanticEntropies`
 * maps prompt id → the weak model's semantic entropy on it; prompts without one are skipped,
 * as are prompts without a weak-model score for 'correctness' labels.
 */
export function sufficiencyExamples(
  prompts: readonly LabelledPrompt[],
  weakModelId: string,
  source: SufficiencyLabelSource,
  semanticEntropies?: Readonly<Record<string, number>>,
): SufficiencyExample[] {
  const out: SufficiencyExample[] = [];
  for (const p of prompts) {
    const weakScore = p.scores[weakModelId];
    const semanticEntropy = semanticEntropies?.[p.id];
    if (source.kind === 'correctness' ? weakScore === undefined : semanticEntropy === undefined) continue;
    out.push({ embedding: p.embedding, suffices: weakSufficesLabel({ weakScore, semanticEntropy }, source) });
  }
  return out;
}

/** model id → 1 − mean score over the prompts that have a score for it (NaN if none). */
export function validationMeanErrors(prompts: readonly LabelledPrompt[], models: readonly ModelSpec[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of models) {
    let s = 0;
    let n = 0;
    for (const p of prompts) {
      const v = p.scores[m.id];
      if (v !== undefined) {
        s += v;
        n++;
      }
    }
    out[m.id] = n > 0 ? 1 - s / n : NaN;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing.

function modelIndex(models: readonly ModelSpec[], id: string): number {
  const i = models.findIndex((m) => m.id === id);
  if (i < 0) throw new Error(`model ${id} is not in the pool`);
  return i;
}

/** Mean errors in model order; the entry at `skip` is left 0 (filled per prompt). */
function constantErrors(models: readonly ModelSpec[], meanErrors: Readonly<Record<string, number>>, skip: number): Float64Array {
  const out = new Float64Array(models.length);
  models.forEach((m, i) => {
    if (i === skip) return;
    const e = meanErrors[m.id];
    if (e === undefined || !Number.isFinite(e)) throw new Error(`no mean validation error for model ${m.id}`);
    out[i] = e;
  });
  return out;
}

/** Unit-norm copies of the embeddings, row-major in one Float32Array. */
function flattenNormalised(embeddings: readonly Embedding[]): { data: Float32Array; dim: number } {
  if (embeddings.length === 0) throw new RangeError('no training embeddings');
  const dim = embeddings[0]!.length;
  const data = new Float32Array(embeddings.length * dim);
  embeddings.forEach((e, r) => {
    if (e.length !== dim) throw new RangeError('embeddings differ in dimension');
    let n = 0;
    for (let j = 0; j < dim; j++) n += e[j]! * e[j]!;
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let j = 0; j < dim; j++) data[r * dim + j] = e[j]! * inv;
  });
  return { data, dim };
}

function sigmoid(s: number): number {
  return s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s));
}

/** Σ_j a[aOff + j]·b[bOff + j], unrolled by 4 (≈1.5× faster in V8; these loops are the cost). */
function dotAt(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[aOff + j]! * b[bOff + j]!;
    s1 += a[aOff + j + 1]! * b[bOff + j + 1]!;
    s2 += a[aOff + j + 2]! * b[bOff + j + 2]!;
    s3 += a[aOff + j + 3]! * b[bOff + j + 3]!;
  }
  for (; j < n; j++) s0 += a[aOff + j]! * b[bOff + j]!;
  return s0 + s1 + s2 + s3;
}

/** y[yOff + j] += alpha·x[xOff + j], unrolled by 4. */
function axpyAt(y: Float32Array, yOff: number, alpha: number, x: Float32Array, xOff: number, n: number): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    y[yOff + j]! += alpha * x[xOff + j]!;
    y[yOff + j + 1]! += alpha * x[xOff + j + 1]!;
    y[yOff + j + 2]! += alpha * x[xOff + j + 2]!;
    y[yOff + j + 3]! += alpha * x[xOff + j + 3]!;
  }
  for (; j < n; j++) y[yOff + j]! += alpha * x[xOff + j]!;
}

// ---------------------------------------------------------------------------------------------
// Predictors of P(weak suffices | x).

/** Predicts, from the prompt embedding alone, P(the weak model's answer suffices). */
export interface SufficiencyPredictor {
  pSuffices(embedding: Embedding): number;
}

export interface KnnOptions {
  /** neighbours; default 10 (capped at the training size). */
  readonly k?: number;
  /**
   * 'uniform' (default): mean label of the k nearest; 'distance': weighted by
   * 1 / (cosine distance + 1e-3), so near-duplicates dominate.
   */
  readonly weighting?: 'uniform' | 'distance';
  /**
   * Pseudo-count m pulling the neighbourhood's mean label toward the base rate of all examples,
   * (Σ w·y + m·base)/(Σ w + m), as UniRoute shrinks Ψ; default 0.
   */
  readonly shrinkage?: number;
}

/** k nearest training prompts by cosine similarity (brute force over a flat matrix). */
export class KnnSufficiencyPredictor implements SufficiencyPredictor {
  readonly k: number;
  readonly weighting: 'uniform' | 'distance';
  readonly shrinkage: number;
  private readonly baseRate: number;
  private readonly data: Float32Array;
  private readonly dim: number;
  private readonly labels: Float64Array;

  constructor(examples: readonly SufficiencyExample[], options: KnnOptions = {}) {
    const { data, dim } = flattenNormalised(examples.map((e) => e.embedding));
    this.data = data;
    this.dim = dim;
    this.labels = Float64Array.from(examples, (e) => e.suffices);
    const k = options.k ?? 10;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    this.k = Math.min(k, examples.length);
    this.weighting = options.weighting ?? 'uniform';
    this.shrinkage = options.shrinkage ?? 0;
    if (!(this.shrinkage >= 0 && Number.isFinite(this.shrinkage))) throw new RangeError(`invalid shrinkage ${this.shrinkage}`);
    this.baseRate = this.labels.length > 0 ? this.labels.reduce((a, b) => a + b, 0) / this.labels.length : 0.5;
  }

  pSuffices(embedding: Embedding): number {
    return this.pSufficesForKs(embedding, [this.k])[0]!;
  }

  /** P(suffices) at several k from one neighbour search (choosing k by cross-validation). */
  pSufficesForKs(embedding: Embedding, ks: readonly number[]): number[] {
    const { dim, data } = this;
    const k = Math.min(Math.max(...ks), this.labels.length);
    if (embedding.length !== dim) throw new RangeError(`expected dimension ${dim}, got ${embedding.length}`);
    let qn = 0;
    for (let j = 0; j < dim; j++) qn += embedding[j]! * embedding[j]!;
    const qinv = qn > 0 ? 1 / Math.sqrt(qn) : 0;
    // Top-k by insertion into a small sorted buffer (descending similarity); ties keep the
    // earlier training row, so results are deterministic.
    const topSim = new Float64Array(k).fill(-Infinity);
    const topIdx = new Int32Array(k).fill(-1);
    const n = this.labels.length;
    for (let r = 0; r < n; r++) {
      const s = dotAt(data, r * dim, embedding, 0, dim) * qinv;
      if (s <= topSim[k - 1]!) continue;
      let pos = k - 1;
      while (pos > 0 && topSim[pos - 1]! < s) {
        topSim[pos] = topSim[pos - 1]!;
        topIdx[pos] = topIdx[pos - 1]!;
        pos--;
      }
      topSim[pos] = s;
      topIdx[pos] = r;
    }
    const m = this.shrinkage;
    return ks.map((kk) => {
      let sw = 0;
      let swy = 0;
      for (let i = 0; i < Math.min(kk, k); i++) {
        if (topIdx[i]! < 0) continue;
        const w = this.weighting === 'distance' ? 1 / (1 - topSim[i]! + 1e-3) : 1;
        sw += w;
        swy += w * this.labels[topIdx[i]!]!;
      }
      return (swy + m * this.baseRate) / (sw + m);
    });
  }
}

export interface MlpTrainingOptions {
  /** hidden units; default 64. */
  readonly hidden?: number;
  /** default 'relu'. */
  readonly activation?: 'relu' | 'tanh';
  /** maximum passes over the training part; default 30. */
  readonly epochs?: number;
  /** default 32. */
  readonly batchSize?: number;
  /** Adam step size; default 1e-3. */
  readonly learningRate?: number;
  /** L2 on the weights (not biases), added to the gradient of the mean loss; default 1e-4. */
  readonly l2?: number;
  /** share of the examples held out for early stopping; default 0.1 (none if < 20 examples). */
  readonly validationFraction?: number;
  /** epochs without validation improvement before stopping; default 5. */
  readonly patience?: number;
  /** seeds the shuffle, the hold-out split and the initial weights; default 0. */
  readonly seed?: number;
}

/** Serializable weights of the MLP. */
export interface MlpParams {
  readonly dim: number;
  readonly hidden: number;
  readonly activation: 'relu' | 'tanh';
  /** per-input standardisation, applied after unit-normalising the embedding. */
  readonly inputMean: Float32Array;
  readonly inputInvStd: Float32Array;
  /** hidden × dim, row-major. */
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  readonly w2: Float32Array;
  readonly b2: number;
}

export interface MlpEpochLog {
  readonly epoch: number;
  readonly trainLoss: number;
  /** NaN without a hold-out. */
  readonly validationLoss: number;
}

/**
 * One-hidden-layer perceptron: p = σ(w2·act(W1·x̃ + b1) + b2), x̃ the standardised unit-norm
 * embedding; trained by Adam on binary cross-entropy, keeping the epoch with the lowest
 * hold-out loss.
 */
export class MlpSufficiencyPredictor implements SufficiencyPredictor {
  private readonly hiddenBuf: Float32Array;
  private readonly xBuf: Float32Array;

  constructor(
    readonly params: MlpParams,
    readonly trainingLog: readonly MlpEpochLog[] = [],
  ) {
    this.hiddenBuf = new Float32Array(params.hidden);
    this.xBuf = new Float32Array(params.dim);
  }

  pSuffices(embedding: Embedding): number {
    const { dim, inputMean, inputInvStd } = this.params;
    if (embedding.length !== dim) throw new RangeError(`expected dimension ${dim}, got ${embedding.length}`);
    let n = 0;
    for (let j = 0; j < dim; j++) n += embedding[j]! * embedding[j]!;
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    const x = this.xBuf;
    for (let j = 0; j < dim; j++) x[j] = (embedding[j]! * inv - inputMean[j]!) * inputInvStd[j]!;
    return sigmoid(mlpLogit(this.params, x, 0, this.hiddenBuf));
  }

  static train(examples: readonly SufficiencyExample[], options: MlpTrainingOptions = {}): MlpSufficiencyPredictor {
    return trainMlp(examples, options);
  }
}

/** Forward pass for row `off` of `x`; fills `h` with hidden activations, returns the logit. */
function mlpLogit(p: MlpParams, x: Float32Array, off: number, h: Float32Array): number {
  const { dim, hidden, w1, b1, w2 } = p;
  const relu = p.activation === 'relu';
  let s = p.b2;
  for (let u = 0; u < hidden; u++) {
    const a = b1[u]! + dotAt(w1, u * dim, x, off, dim);
    const v = relu ? Math.max(a, 0) : Math.tanh(a);
    h[u] = v;
    s += w2[u]! * v;
  }
  return s;
}

function bceWithLogit(s: number, y: number): number {
  return Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s))) - y * s;
}

function trainMlp(examples: readonly SufficiencyExample[], options: MlpTrainingOptions): MlpSufficiencyPredictor {
  const hidden = options.hidden ?? 64;
  const activation = options.activation ?? 'relu';
  const epochs = options.epochs ?? 30;
  const batchSize = options.batchSize ?? 32;
  const lr = options.learningRate ?? 1e-3;
  const l2 = options.l2 ?? 1e-4;
  const patience = options.patience ?? 5;
  const rng = createRng(options.seed ?? 0);

  const { data: raw, dim } = flattenNormalised(examples.map((e) => e.embedding));
  const n = examples.length;
  const labels = Float32Array.from(examples, (e) => e.suffices);

  // Hold-out split: a seeded shuffle, the last slice for early stopping.
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const nVal = n >= 20 ? Math.floor(n * (options.validationFraction ?? 0.1)) : 0;
  const trainIdx = order.slice(0, n - nVal);
  const valIdx = order.slice(n - nVal);

  // Standardise each input on the training part: unit-norm embeddings have tiny components
  // (~1/√dim), which would make the first layer learn slowly.
  const inputMean = new Float32Array(dim);
  const inputInvStd = new Float32Array(dim);
  for (const i of trainIdx) for (let j = 0; j < dim; j++) inputMean[j]! += raw[i * dim + j]!;
  for (let j = 0; j < dim; j++) inputMean[j]! /= trainIdx.length;
  for (const i of trainIdx) {
    for (let j = 0; j < dim; j++) inputInvStd[j]! += (raw[i * dim + j]! - inputMean[j]!) ** 2;
  }
  for (let j = 0; j < dim; j++) {
    const sd = Math.sqrt(inputInvStd[j]! / trainIdx.length);
    inputInvStd[j] = sd > 1e-8 ? 1 / sd : 0;
  }
  const X = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) X[i * dim + j] = (raw[i * dim + j]! - inputMean[j]!) * inputInvStd[j]!;
  }

  // He-style init for the first layer (Glorot for tanh), small output layer.
  const w1 = new Float32Array(hidden * dim);
  const s1 = activation === 'relu' ? Math.sqrt(2 / dim) : Math.sqrt(1 / dim);
  for (let i = 0; i < w1.length; i++) w1[i] = rng.normal() * s1;
  const b1 = new Float32Array(hidden);
  const w2 = new Float32Array(hidden);
  const s2 = Math.sqrt(1 / hidden);
  for (let i = 0; i < hidden; i++) w2[i] = rng.normal() * s2;
  const params = { dim, hidden, activation, inputMean, inputInvStd, w1, b1, w2, b2: 0 };

  // Adam state, one moment pair per parameter tensor.
  const adam = (size: number) => ({ m: new Float32Array(size), v: new Float32Array(size) });
  const aW1 = adam(w1.length);
  const aB1 = adam(hidden);
  const aW2 = adam(hidden);
  const aB2 = adam(1);
  const b2Box = new Float32Array(1);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  let step = 0;
  const update = (w: Float32Array, g: Float32Array, st: { m: Float32Array; v: Float32Array }, decay: number) => {
    const c1 = 1 / (1 - beta1 ** step);
    const c2 = 1 / (1 - beta2 ** step);
    const { m, v } = st;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]! + decay * w[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      w[i]! -= (lr * m[i]! * c1) / (Math.sqrt(v[i]! * c2) + eps);
    }
  };

  const gW1 = new Float32Array(w1.length);
  const gB1 = new Float32Array(hidden);
  const gW2 = new Float32Array(hidden);
  const gB2 = new Float32Array(1);
  const h = new Float32Array(hidden);

  const meanLoss = (idx: Int32Array): number => {
    if (idx.length === 0) return NaN;
    let l = 0;
    for (const i of idx) l += bceWithLogit(mlpLogit(params, X, i * dim, h), labels[i]!);
    return l / idx.length;
  };

  let best = { loss: Infinity, w1: w1.slice(), b1: b1.slice(), w2: w2.slice(), b2: 0 };
  let sinceBest = 0;
  const log: MlpEpochLog[] = [];
  const relu = activation === 'relu';

  for (let epoch = 0; epoch < epochs; epoch++) {
    rng.shuffle(trainIdx);
    let trainLoss = 0;
    for (let start = 0; start < trainIdx.length; start += batchSize) {
      const end = Math.min(start + batchSize, trainIdx.length);
      const inv = 1 / (end - start);
      gW1.fill(0);
      gB1.fill(0);
      gW2.fill(0);
      gB2[0] = 0;
      for (let t = start; t < end; t++) {
        const i = trainIdx[t]!;
        const off = i * dim;
        const s = mlpLogit(params, X, off, h);
        trainLoss += bceWithLogit(s, labels[i]!);
        const delta = (sigmoid(s) - labels[i]!) * inv; // d(mean BCE)/d logit
        gB2[0]! += delta;
        for (let u = 0; u < hidden; u++) {
          const hu = h[u]!;
          gW2[u]! += delta * hu;
          // Back through the activation; ReLU units that were off get no gradient (skipped).
          const du = relu ? (hu > 0 ? delta * w2[u]! : 0) : delta * w2[u]! * (1 - hu * hu);
          if (du === 0) continue;
          gB1[u]! += du;
          axpyAt(gW1, u * dim, du, X, off, dim);
        }
      }
      step++;
      update(w1, gW1, aW1, l2);
      update(b1, gB1, aB1, 0);
      update(w2, gW2, aW2, l2);
      b2Box[0] = params.b2;
      update(b2Box, gB2, aB2, 0);
      params.b2 = b2Box[0]!;
    }
    const validationLoss = meanLoss(valIdx);
    log.push({ epoch, trainLoss: trainLoss / trainIdx.length, validationLoss });
    if (valIdx.length === 0) continue;
    if (validationLoss < best.loss - 1e-4) {
      best = { loss: validationLoss, w1: w1.slice(), b1: b1.slice(), w2: w2.slice(), b2: params.b2 };
      sinceBest = 0;
    } else if (++sinceBest >= patience) {
      break;
    }
  }
  if (valIdx.length > 0 && Number.isFinite(best.loss)) {
    w1.set(best.w1);
    b1.set(best.b1);
    w2.set(best.w2);
    params.b2 = best.b2;
  }
  return new MlpSufficiencyPredictor(params, log);
}

// ---------------------------------------------------------------------------------------------
// Routers.

interface PoolOptions {
  readonly models: readonly ModelSpec[];
  /** the weak / local model whose sufficiency is predicted. */
  readonly weakModelId: string;
  /** mean validation error of every other model in the pool (see `validationMeanErrors`). */
  readonly meanErrors: Readonly<Record<string, number>>;
  readonly name?: string;
}

/**
 * Router from any sufficiency predictor: err_weak = 1 − P(suffices | x); every other model its
 * mean validation error.
 */
export class ConfidencePredictiveRouter implements Router {
  readonly name: string;
  readonly models: readonly ModelSpec[];
  readonly weakModelId: string;
  private readonly weak: number;
  private readonly base: Float64Array;

  constructor(
    options: PoolOptions,
    readonly predictor: SufficiencyPredictor,
  ) {
    this.name = options.name ?? 'confidence-predictive';
    this.models = options.models;
    this.weakModelId = options.weakModelId;
    this.weak = modelIndex(options.models, options.weakModelId);
    this.base = constantErrors(options.models, options.meanErrors, this.weak);
  }

  predictErrors(input: RoutingInput): Float64Array {
    return this.errorsGiven(this.predictor.pSuffices(input.embedding));
  }

  /** Every model's predicted error when the weak model suffices with probability `p`. */
  protected errorsGiven(p: number): Float64Array {
    const out = this.base.slice();
    out[this.weak] = 1 - p;
    return out;
  }
}

export interface ConfidenceKnnRouterOptions extends PoolOptions, KnnOptions {
  readonly examples: readonly SufficiencyExample[];
}

/** k-NN predictive router, name 'confidence-knn'. */
export class ConfidenceKnnRouter extends ConfidencePredictiveRouter {
  private readonly knn: KnnSufficiencyPredictor;

  constructor(options: ConfidenceKnnRouterOptions) {
    const knn = new KnnSufficiencyPredictor(options.examples, options);
    super({ ...options, name: options.name ?? 'confidence-knn' }, knn);
    this.knn = knn;
  }

  /** Predicted errors at several k from one neighbour search (choosing k by cross-validation). */
  predictErrorsForKs(input: RoutingInput, ks: readonly number[]): Float64Array[] {
    return this.knn.pSufficesForKs(input.embedding, ks).map((p) => this.errorsGiven(p));
  }
}

export type ConfidenceMlpRouterOptions = PoolOptions &
  ({ readonly examples: readonly SufficiencyExample[]; readonly training?: MlpTrainingOptions } | { readonly predictor: MlpSufficiencyPredictor });

/** MLP predictive router, name 'confidence-mlp'; trains in the constructor when given examples. */
export class ConfidenceMlpRouter extends ConfidencePredictiveRouter {
  constructor(options: ConfidenceMlpRouterOptions) {
    const predictor = 'predictor' in options ? options.predictor : MlpSufficiencyPredictor.train(options.examples, options.training);
    super({ ...options, name: options.name ?? 'confidence-mlp' }, predictor);
  }
}

export interface ConfidenceCascadeRouterOptions {
  readonly models: readonly ModelSpec[];
  readonly localModelId: string;
  /** raw local confidence → P(local answer correct), e.g. `fitPlatt(...)`. */
  readonly calibrator: ConfidenceCalibrator;
  /**
   * mean validation error of every model, the local one included: the local one's is used when
   * `localConfidence` is absent or not finite.
   */
  readonly meanErrors: Readonly<Record<string, number>>;
  readonly name?: string;
}

/**
 * Post-generation cascade: err_local = 1 − P(correct | localConfidence); every other model its
 * mean validation error. Name 'confidence-only' (confidence is its only per-prompt signal).
 */
export class ConfidenceCascadeRouter implements Router {
  readonly name: string;
  readonly models: readonly ModelSpec[];
  private readonly local: number;
  private readonly base: Float64Array;
  private readonly calibrator: ConfidenceCalibrator;

  constructor(options: ConfidenceCascadeRouterOptions) {
    this.name = options.name ?? 'confidence-only';
    this.models = options.models;
    this.local = modelIndex(options.models, options.localModelId);
    this.base = constantErrors(options.models, options.meanErrors, -1);
    this.calibrator = options.calibrator;
  }

  predictErrors(input: RoutingInput): Float64Array {
    const out = this.base.slice();
    const c = input.localConfidence;
    if (c !== undefined && Number.isFinite(c)) out[this.local] = 1 - this.calibrator.predict(c);
    return out;
  }
}

/**
 * Soft cluster assignment of a prompt; structurally identical to `ClusterMap` in uniroute.ts,
 * so either can be passed.
 */
export interface ClusterMapLike {
  readonly numClusters: number;
  probabilities(embedding: Float32Array): Float64Array;
}

export interface HybridRouterOptions {
  readonly models: readonly ModelSpec[];
  readonly localModelId: string;
  readonly clusterMap: ClusterMapLike;
  /** P(local correct | cluster, confidence): per-cluster Platt, or confidence + cluster prior. */
  readonly calibrator: ClusterAwareCalibrator;
  /**
   * UniRoute feature vectors Ψ(h): per-cluster mean error of each model, by model id or in
   * model order. Needed for every model except the local one (whose entry is ignored).
   */
  readonly psi: Readonly<Record<string, Float64Array>> | readonly Float64Array[];
  readonly name?: string;
}

/**
 * Hybrid: err_local = 1 − Σ_k P(k|x)·σ(a_k·conf + b_k) (per-cluster calibrated confidence; the
 * clusters' base rates when the confidence is missing); err_h = Σ_k P(k|x)·Ψ_k(h) for the cloud
 * models (UniRoute). Name 'hybrid-uniroute-confidence'.
 */
export class HybridRouter implements Router {
  readonly name: string;
  readonly models: readonly ModelSpec[];
  private readonly local: number;
  private readonly clusterMap: ClusterMapLike;
  private readonly calibrator: ClusterAwareCalibrator;
  private readonly psi: (Float64Array | null)[];

  constructor(options: HybridRouterOptions) {
    this.name = options.name ?? 'hybrid-uniroute-confidence';
    this.models = options.models;
    this.local = modelIndex(options.models, options.localModelId);
    this.clusterMap = options.clusterMap;
    this.calibrator = options.calibrator;
    const K = options.clusterMap.numClusters;
    if (options.calibrator.numClusters !== K) {
      throw new RangeError(`calibrator has ${options.calibrator.numClusters} clusters, cluster map ${K}`);
    }
    const psi = options.psi;
    this.psi = options.models.map((m, i) => {
      if (i === this.local) return null;
      const v = Array.isArray(psi) ? (psi as readonly Float64Array[])[i] : (psi as Readonly<Record<string, Float64Array>>)[m.id];
      if (!v) throw new Error(`no Ψ for model ${m.id}`);
      if (v.length !== K) throw new RangeError(`Ψ of ${m.id} has ${v.length} entries, expected ${K}`);
      return v;
    });
  }

  predictErrors(input: RoutingInput): Float64Array {
    const probs = this.clusterMap.probabilities(input.embedding);
    const out = new Float64Array(this.models.length);
    for (let i = 0; i < out.length; i++) {
      const v = this.psi[i];
      if (!v) continue;
      let e = 0;
      for (let k = 0; k < probs.length; k++) e += probs[k]! * v[k]!;
      out[i] = e;
    }
    out[this.local] = 1 - this.calibrator.predict(probs, input.localConfidence ?? NaN);
    return out;
  }
}

export interface ConditionalHybridRouterOptions {
  readonly models: readonly ModelSpec[];
  readonly clusterMap: ClusterMapLike;
  /** UniRoute feature vectors Ψ(h) of every model in the pool (the local one included), by model id. */
  readonly psi: Readonly<Record<string, Float64Array>>;
  /** Per-model P(right | ψ_h(x), local confidence), e.g. `fitConditionalErrors(...)`. */
  readonly errorModel: ConditionalErrorModel;
  /**
   * Models whose ψ_h(x) comes from another predictor of their error than the clusters, e.g. the
   * local model's error among its nearest training prompts (it is a seen model).
   */
  readonly psiOverride?: Readonly<Record<string, (embedding: Float32Array) => number>>;
  readonly name?: string;
}

/**
 * Hybrid in which the local answer's confidence conditions every model's predicted error, not
 * just the local one's: err_h = 1 − σ(w₀ + w_c·z(conf) + w_ψ·logit(1 − Σ_k P(k|x)·Ψ_k(h))) (see
 * conditional-errors.ts). A confident local answer marks an easy prompt, on which a cheap cloud
 * model is likely right as well; an unsure one marks a hard prompt, on which only the strongest are.
 */
export class ConditionalHybridRouter implements Router {
  readonly name: string;
  readonly models: readonly ModelSpec[];
  private readonly psi: Float64Array[];

  constructor(private readonly options: ConditionalHybridRouterOptions) {
    this.name = options.name ?? 'hybrid-conditional';
    this.models = options.models;
    const K = options.clusterMap.numClusters;
    this.psi = options.models.map((m) => {
      const v = options.psi[m.id];
      if (!v) throw new Error(`no Ψ for model ${m.id}`);
      if (v.length !== K) throw new RangeError(`Ψ of ${m.id} has ${v.length} entries, expected ${K}`);
      if (!options.errorModel.has(m.id)) throw new Error(`no conditional error coefficients for model ${m.id}`);
      return v;
    });
  }

  predictErrors(input: RoutingInput): Float64Array {
    const probs = this.options.clusterMap.probabilities(input.embedding);
    const confidence = input.localConfidence ?? NaN;
    return Float64Array.from(this.models, (m, h) => {
      const override = this.options.psiOverride?.[m.id];
      if (override) return this.options.errorModel.predictError(m.id, override(input.embedding), confidence);
      const v = this.psi[h]!;
      let e = 0;
      for (let k = 0; k < probs.length; k++) e += probs[k]! * v[k]!;
      return this.options.errorModel.predictError(m.id, e, confidence);
    });
  }
}
