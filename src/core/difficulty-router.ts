/**
 * The universal-difficulty router, IRT-like: one latent easiness e(x) per prompt, shared by every
 * model, and per model a logistic on [1, e(x), cluster of x]:
 *
 *   P(h right | x) = σ(a_h + b_h·e(x) + c_{h,k(x)}),
 *
 * e(x) a ridge regression from the unit-normalised embedding onto the seen models' mean
 * correctness (the "ability-free" part of item response theory: how many models get this prompt
 * right). Each model's logistic is fitted on the prompts it was scored on; an unseen model,
 * scored on validation prompts only, gets its own (a, b, c) from those few prompts, pulled by L2
 * toward (0, 1, 0). The logistic is fitted on an out-of-fold e(x): in-sample the ridge would fit
 * the very labels the logistic then sees.
 *
 * Pure, no DOM or I/O: the benchmark's `irt-difficulty` router and the worker's (which keeps only
 * the ridge weights and the prompts' easiness, see DifficultyState) are this code.
 */
import { validationFolds, type Fold } from './cross-validation';
import { fitLogisticNewton, sigmoid } from './logistic';
import type { Embedding, LabelledPrompt, ModelSpec, Router, RoutingInput } from './types';
import type { ClusterMap } from './uniroute';

/** Ridge penalty of e(x), in units of summed squared error. */
export const DEFAULT_EASINESS_RIDGE = 10;
/** L2 of each model's logistic. */
export const DEFAULT_DIFFICULTY_PENALTY = 2;
/** Folds of the out-of-fold easiness. */
export const DEFAULT_EASINESS_FOLDS = 5;
/** The easiness feature is centred and scaled by this so b ≈ 1 is a sensible prior slope. */
const EASINESS_SCALE = 4;

/** [1, x/‖x‖]: the ridge's input row (a zero vector gives [1, 0, …]). */
export function unitWithBias(e: Embedding): Float64Array {
  let s = 0;
  for (let j = 0; j < e.length; j++) s += e[j]! * e[j]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float64Array(e.length + 1);
  out[0] = 1;
  for (let j = 0; j < e.length; j++) out[j + 1] = e[j]! * inv;
  return out;
}

/** Solves the symmetric positive-definite system A w = b by Cholesky (A is overwritten). */
export function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= A[j * n + k]! ** 2;
    if (!(d > 0)) throw new RangeError('solveSpd: matrix is not positive definite');
    const l = Math.sqrt(d);
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = s / l;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= A[i * n + k]! * y[k]!;
    y[i] = s / A[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= A[k * n + i]! * x[k]!;
    x[i] = s / A[i * n + i]!;
  }
  return x;
}

const dotRow = (w: ArrayLike<number>, x: ArrayLike<number>): number => {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * x[j]!;
  return s;
};

/**
 * Primal ridge: weights from the Gram matrix XᵀX and Xᵀy over rows [1, x]; the bias (index 0) is
 * not penalised (a 1e-9 jitter keeps an empty fit solvable: it then returns zeros).
 */
function ridgeFrom(gram: Float64Array, xty: Float64Array, n: number, ridge: number): Float64Array {
  const A = Float64Array.from(gram);
  for (let j = 1; j < n; j++) A[j * n + j] = A[j * n + j]! + ridge;
  A[0] = A[0]! + 1e-9;
  return solveSpd(A, Float64Array.from(xty), n);
}

function accumulate(gram: Float64Array, xty: Float64Array, x: Float64Array, y: number): void {
  const n = x.length;
  for (let a = 0; a < n; a++) {
    const xa = x[a]!;
    if (xa === 0) continue;
    xty[a] = xty[a]! + xa * y;
    const row = a * n;
    for (let b = 0; b <= a; b++) gram[row + b] = gram[row + b]! + xa * x[b]!;
  }
}

function symmetrise(gram: Float64Array, n: number): void {
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) gram[a * n + b] = gram[b * n + a]!;
}

/** One ridge per fold (trained without it) and the full one, by the d×d normal equations: for n ≥ d. */
function primalRidges(rows: readonly Float64Array[], target: ArrayLike<number>, folds: number, ridge: number): { full: Float64Array; byFold: Float64Array[] } {
  const n = rows[0]!.length;
  const gram = new Float64Array(n * n);
  const xty = new Float64Array(n);
  const foldGram = Array.from({ length: folds }, () => new Float64Array(n * n));
  const foldXty = Array.from({ length: folds }, () => new Float64Array(n));
  rows.forEach((x, i) => {
    const y = target[i]!;
    if (!Number.isFinite(y)) return;
    accumulate(gram, xty, x, y);
    accumulate(foldGram[i % folds]!, foldXty[i % folds]!, x, y);
  });
  symmetrise(gram, n);
  const full = ridgeFrom(gram, xty, n, ridge);
  const byFold = foldGram.map((fg, f) => {
    symmetrise(fg, n);
    const g = Float64Array.from(gram, (v, j) => v - fg[j]!);
    const b = Float64Array.from(xty, (v, j) => v - foldXty[f]![j]!);
    return ridgeFrom(g, b, n, ridge);
  });
  return { full, byFold };
}

/**
 * The same ridges by the n×n kernel system (Xc Xcᵀ + ridge·I) α = y − ȳ on centred rows, then
 * w = Xcᵀα and bias ȳ − w·x̄: an unpenalised bias is exactly centring. For a few hundred prompts
 * of a 512-d embedder this is ~10× less work than the 513×513 normal equations.
 */
function dualRidges(rows: readonly Float64Array[], target: ArrayLike<number>, folds: number, ridge: number): { full: Float64Array; byFold: Float64Array[] } {
  const d = rows[0]!.length;
  const labelled = rows.map((_, i) => i).filter((i) => Number.isFinite(target[i]!));
  const m = labelled.length;
  // Kernel of the labelled rows, without the bias column.
  const kernel = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    const xa = rows[labelled[a]!]!;
    for (let b = 0; b <= a; b++) {
      const xb = rows[labelled[b]!]!;
      let s = 0;
      for (let j = 1; j < d; j++) s += xa[j]! * xb[j]!;
      kernel[a * m + b] = s;
      kernel[b * m + a] = s;
    }
  }
  const solve = (subset: readonly number[]): Float64Array => {
    const w = new Float64Array(d);
    const t = subset.length;
    if (t === 0) return w;
    const rowMean = Float64Array.from(subset, (a) => subset.reduce((s, b) => s + kernel[a * m + b]!, 0) / t);
    const grand = rowMean.reduce((s, v) => s + v, 0) / t;
    const yMean = subset.reduce((s, a) => s + target[labelled[a]!]!, 0) / t;
    const A = new Float64Array(t * t);
    for (let i = 0; i < t; i++) {
      for (let j = 0; j < t; j++) A[i * t + j] = kernel[subset[i]! * m + subset[j]!]! - rowMean[i]! - rowMean[j]! + grand;
      A[i * t + i] = A[i * t + i]! + ridge;
    }
    const alpha = solveSpd(
      A,
      Float64Array.from(subset, (a) => target[labelled[a]!]! - yMean),
      t,
    );
    const mean = new Float64Array(d);
    for (const a of subset) {
      const x = rows[labelled[a]!]!;
      for (let j = 1; j < d; j++) mean[j] = mean[j]! + x[j]! / t;
    }
    subset.forEach((a, i) => {
      const x = rows[labelled[a]!]!;
      for (let j = 1; j < d; j++) w[j] = w[j]! + alpha[i]! * (x[j]! - mean[j]!);
    });
    w[0] = yMean - dotRow(w, mean);
    return w;
  };
  const all = labelled.map((_, a) => a);
  return {
    full: solve(all),
    byFold: Array.from({ length: folds }, (_, f) => solve(all.filter((a) => labelled[a]! % folds !== f))),
  };
}

export interface EasinessFit {
  /** Weights over [1, x/‖x‖] (unitWithBias) giving the centred, scaled easiness of any prompt. */
  readonly weights: Float64Array;
  /** Each row's easiness from the ridge fitted without its fold (row i is in fold i mod folds): what a logistic is fitted on. */
  readonly outOfFold: Float64Array;
}

export interface EasinessOptions {
  readonly ridge?: number;
  readonly folds?: number;
  /** 'auto' (default): the kernel form when fewer labelled rows than dimensions, else the normal equations. Same answer. */
  readonly solver?: 'auto' | 'primal' | 'dual';
}

/**
 * e(x) by ridge from rows [1, x/‖x‖] (unitWithBias) onto `target` (NaN: not used), centred on the
 * rows' mean out-of-fold value and scaled, with every row's out-of-fold easiness.
 */
export function fitEasiness(rows: readonly Float64Array[], target: ArrayLike<number>, options: EasinessOptions = {}): EasinessFit {
  const ridge = options.ridge ?? DEFAULT_EASINESS_RIDGE;
  const folds = options.folds ?? DEFAULT_EASINESS_FOLDS;
  if (rows.length === 0) throw new Error('fitEasiness: no evidence prompts');
  if (target.length !== rows.length) throw new RangeError(`fitEasiness: ${target.length} targets for ${rows.length} rows`);
  const labelled = Array.prototype.filter.call(target, (y: number) => Number.isFinite(y)).length;
  const solver = options.solver ?? 'auto';
  const dual = solver === 'dual' || (solver === 'auto' && labelled < rows[0]!.length);
  const { full, byFold } = (dual ? dualRidges : primalRidges)(rows, target, folds, ridge);
  const raw = rows.map((x, i) => dotRow(byFold[i % folds]!, x));
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return {
    weights: Float64Array.from(full, (w, j) => (j === 0 ? (w - mean) * EASINESS_SCALE : w * EASINESS_SCALE)),
    outOfFold: Float64Array.from(raw, (v) => (v - mean) * EASINESS_SCALE),
  };
}

/** A prompt's easiness under fitted weights (higher: more models get it right). */
export function easinessOf(weights: ArrayLike<number>, embedding: Embedding): number {
  if (embedding.length + 1 !== weights.length)
    throw new RangeError(`easinessOf: embedding of ${embedding.length} values, the weights expect ${weights.length - 1}`);
  return dotRow(weights, unitWithBias(embedding));
}

/**
 * One model's [a, b, c_1 … c_K] from the prompts it was scored on: `easiness[i]`,
 * `probabilities[i]` (P(k|x), length K) and `scores[i]` (NaN: not scored).
 */
export function fitDifficultyCoefficients(
  easiness: ArrayLike<number>,
  probabilities: readonly ArrayLike<number>[],
  scores: ArrayLike<number>,
  penalty: number = DEFAULT_DIFFICULTY_PENALTY,
): number[] {
  const K = probabilities[0]?.length ?? 0;
  const features: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) continue;
    features.push([1, easiness[i]!, ...Array.from(probabilities[i]!)]);
    y.push(s);
  }
  return fitLogisticNewton(features, y, penalty, [0, 1, ...new Array<number>(K).fill(0)]);
}

/** A model's predicted error 1 − σ(a + b·e + Σ_k c_k·P(k|x)). */
export function difficultyError(coefficients: ArrayLike<number>, easiness: number, probabilities: ArrayLike<number>): number {
  let s = coefficients[0]! + coefficients[1]! * easiness;
  for (let k = 0; k < probabilities.length; k++) s += coefficients[k + 2]! * probabilities[k]!;
  return 1 - sigmoid(s);
}

/** The seen models' mean score on each prompt (NaN where none of them was scored): e(x)'s target. */
export function meanSeenScore(prompts: readonly LabelledPrompt[], seen: readonly ModelSpec[]): Float64Array {
  return Float64Array.from(prompts, (x) => {
    let s = 0;
    let c = 0;
    for (const m of seen) {
      const v = x.scores[m.id];
      if (v === undefined) continue;
      s += v;
      c++;
    }
    return c > 0 ? s / c : NaN;
  });
}

export interface DifficultyRouterInput {
  /** Prompts with scores: validation prompts plus the seen models' training prompts. */
  readonly evidence: readonly LabelledPrompt[];
  readonly models: readonly ModelSpec[];
  /** Models whose training scores may be used to learn e(x). */
  readonly seen: readonly ModelSpec[];
  readonly clusterMap: ClusterMap;
  /** Ridge penalty of e(x); default DEFAULT_EASINESS_RIDGE. */
  readonly ridge?: number;
  /** L2 of each model's logistic; default DEFAULT_DIFFICULTY_PENALTY. */
  readonly penalty?: number;
  /** Folds of the out-of-fold easiness; default DEFAULT_EASINESS_FOLDS. */
  readonly folds?: number;
}

export class DifficultyRouter implements Router {
  readonly name = 'irt-difficulty';
  readonly models: readonly ModelSpec[];

  private constructor(
    models: readonly ModelSpec[],
    private readonly weights: Float64Array,
    private readonly clusterMap: ClusterMap,
    /** Per model: [a, b, c_1 … c_K]. */
    private readonly coefficients: readonly number[][],
  ) {
    this.models = models;
  }

  static fit(input: DifficultyRouterInput): DifficultyRouter {
    const { evidence, models, seen, clusterMap } = input;
    const fit = fitEasiness(
      evidence.map((x) => unitWithBias(x.embedding)),
      meanSeenScore(evidence, seen),
      { ...(input.ridge !== undefined ? { ridge: input.ridge } : {}), ...(input.folds !== undefined ? { folds: input.folds } : {}) },
    );
    const clusters = evidence.map((x) => clusterMap.probabilities(x.embedding));
    const coefficients = models.map((m) =>
      fitDifficultyCoefficients(
        fit.outOfFold,
        clusters,
        evidence.map((x) => x.scores[m.id] ?? NaN),
        input.penalty,
      ),
    );
    return new DifficultyRouter([...models], fit.weights, clusterMap, coefficients);
  }

  /** The centred, scaled easiness of a prompt (higher = more models get it right). */
  easiness(embedding: Embedding): number {
    return easinessOf(this.weights, embedding);
  }

  predictErrors(input: RoutingInput): Float64Array {
    const e = this.easiness(input.embedding);
    const p = this.clusterMap.probabilities(input.embedding);
    return Float64Array.from(this.coefficients, (c) => difficultyError(c, e, p));
  }
}

/**
 * What the worker keeps of the universal-difficulty router over its validation prompts, so it
 * never needs their embeddings again: the ridge weights (any new prompt's easiness), each
 * prompt's out-of-fold easiness (each model's logistic is fitted on it, a model joining later
 * included), and per cross-validation fold (validationFolds over prompt indices) every prompt's
 * easiness from the ridge fitted on that fold's fit half (out-of-fold inside the half): what the
 * choice between routers is judged with.
 */
export interface DifficultyState {
  readonly weights: Float64Array;
  readonly easiness: Float64Array;
  readonly foldEasiness: readonly Float64Array[];
}

/** The cross-validation halves over prompt indices 0…n−1 (validationFolds; every prompt judged). */
export function promptIndexFolds(n: number, seed: number, repeats: number): Fold<number>[] {
  return validationFolds(
    Array.from({ length: n }, (_, i) => i),
    seed,
    repeats,
  );
}

/** Fits DifficultyState on the validation prompts' embeddings and their seen models' mean score. */
export function fitDifficultyState(
  embeddings: readonly Embedding[],
  target: ArrayLike<number>,
  cv: { readonly seed: number; readonly repeats: number },
  options: EasinessOptions = {},
): DifficultyState {
  const rows = embeddings.map(unitWithBias);
  const all = fitEasiness(rows, target, options);
  const foldEasiness = promptIndexFolds(rows.length, cv.seed, cv.repeats).map(([fit, held]) => {
    const part = fitEasiness(
      fit.map((i) => rows[i]!),
      Float64Array.from(fit, (i) => target[i]!),
      options,
    );
    const out = new Float64Array(rows.length);
    fit.forEach((i, j) => {
      out[i] = part.outOfFold[j]!;
    });
    for (const i of held) out[i] = dotRow(part.weights, rows[i]!);
    return out;
  });
  return { weights: all.weights, easiness: all.outOfFold, foldEasiness };
}
