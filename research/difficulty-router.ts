/**
 * A universal-difficulty router, IRT-like: one latent difficulty d(x) per prompt, shared by every
 * model, and per model a logistic on [1, d(x), cluster of x]:
 *
 *   P(h right | x) = σ(a_h + b_h·d(x) + c_{h,k(x)}),
 *
 * d(x) a ridge regression from the unit-normalised embedding onto the seen models' mean
 * correctness on their training prompts (the "ability-free" part of item response theory: how
 * many models get this prompt right). Each model's logistic is fitted on the prompts it was
 * scored on; an unseen model, scored on validation prompts only, gets its own (a, b, c) from
 * those few prompts, pulled by L2 toward (0, 1, 0) around its own mean. The fitting features use
 * an out-of-fold d(x): in-sample the ridge would fit the very labels the logistic then sees.
 * A research candidate next to UniRoute, not shipped.
 */
import type { Embedding, LabelledPrompt, ModelSpec, Router, RoutingInput } from '../src/core/types';
import type { ClusterMap } from '../src/core/uniroute';
import { fitLogisticNewton } from '../src/core/logistic';

export interface DifficultyRouterInput {
  /** Prompts with scores: validation prompts plus the seen models' training prompts. */
  readonly evidence: readonly LabelledPrompt[];
  readonly models: readonly ModelSpec[];
  /** Models whose training scores may be used to learn d(x). */
  readonly seen: readonly ModelSpec[];
  readonly clusterMap: ClusterMap;
  /** Ridge penalty of d(x) (in units of summed squared error); default 10. */
  readonly ridge?: number;
  /** L2 of each model's logistic; default 2. */
  readonly penalty?: number;
  /** Folds of the out-of-fold difficulty; default 5. */
  readonly folds?: number;
}

function unitWithBias(e: Embedding): Float64Array {
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

/** Ridge weights from the Gram matrix XᵀX and Xᵀy (the bias, index 0, is not penalised). */
function ridgeFrom(gram: Float64Array, xty: Float64Array, n: number, ridge: number): Float64Array {
  const A = Float64Array.from(gram);
  for (let j = 1; j < n; j++) A[j * n + j] = A[j * n + j]! + ridge;
  A[0] = A[0]! + 1e-9;
  return solveSpd(A, Float64Array.from(xty), n);
}

function accumulate(gram: Float64Array, xty: Float64Array, x: Float64Array, y: number, sign: number): void {
  const n = x.length;
  for (let a = 0; a < n; a++) {
    const xa = x[a]! * sign;
    if (xa === 0) continue;
    xty[a] = xty[a]! + xa * y;
    const row = a * n;
    for (let b = 0; b <= a; b++) gram[row + b] = gram[row + b]! + xa * x[b]!;
  }
}

function symmetrise(gram: Float64Array, n: number): void {
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) gram[a * n + b] = gram[b * n + a]!;
}

const dotRow = (w: Float64Array, x: Float64Array): number => {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * x[j]!;
  return s;
};

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
    const ridge = input.ridge ?? 10;
    const penalty = input.penalty ?? 2;
    const folds = input.folds ?? 5;
    const seenIds = seen.map((m) => m.id);
    // Targets: the seen models' mean correctness on each prompt where any of them was scored.
    const rows = evidence.map((x) => unitWithBias(x.embedding));
    const target = evidence.map((x) => {
      const s = seenIds.map((id) => x.scores[id]).filter((v): v is number => v !== undefined);
      return s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
    });
    const n = rows[0]?.length ?? 0;
    if (n === 0) throw new Error('DifficultyRouter: no evidence prompts');
    const gram = new Float64Array(n * n);
    const xty = new Float64Array(n);
    const foldGram = Array.from({ length: folds }, () => new Float64Array(n * n));
    const foldXty = Array.from({ length: folds }, () => new Float64Array(n));
    rows.forEach((x, i) => {
      if (!Number.isFinite(target[i]!)) return;
      accumulate(gram, xty, x, target[i]!, 1);
      accumulate(foldGram[i % folds]!, foldXty[i % folds]!, x, target[i]!, 1);
    });
    symmetrise(gram, n);
    const weights = ridgeFrom(gram, xty, n, ridge);
    // Out of fold: each prompt's d from the ridge fitted without its fold.
    const oofWeights = foldGram.map((fg, f) => {
      symmetrise(fg, n);
      const g = Float64Array.from(gram, (v, j) => v - fg[j]!);
      const b = Float64Array.from(xty, (v, j) => v - foldXty[f]![j]!);
      return ridgeFrom(g, b, n, ridge);
    });
    const difficulty = rows.map((x, i) => dotRow(oofWeights[i % folds]!, x));
    const mean = difficulty.reduce((a, b) => a + b, 0) / difficulty.length;
    const clusters = evidence.map((x) => clusterMap.probabilities(x.embedding));
    const K = clusterMap.numClusters;
    const coefficients = models.map((m) => {
      const idx = evidence.map((_, i) => i).filter((i) => evidence[i]!.scores[m.id] !== undefined);
      const features = idx.map((i) => [1, (difficulty[i]! - mean) * 4, ...clusters[i]!]);
      const y = idx.map((i) => evidence[i]!.scores[m.id]!);
      const prior = [0, 1, ...new Array<number>(K).fill(0)];
      return fitLogisticNewton(features, y, penalty, prior);
    });
    // The feature is centred and scaled at fit time; the router applies the same transform.
    const scaled = Float64Array.from(weights, (w, j) => (j === 0 ? (w - mean) * 4 : w * 4));
    return new DifficultyRouter([...models], scaled, clusterMap, coefficients);
  }

  /** The centred, scaled difficulty feature of a prompt (higher = more models get it right). */
  easiness(embedding: Embedding): number {
    return dotRow(this.weights, unitWithBias(embedding));
  }

  predictErrors(input: RoutingInput): Float64Array {
    const d = this.easiness(input.embedding);
    const p = this.clusterMap.probabilities(input.embedding);
    return Float64Array.from(this.coefficients, (c) => {
      let s = c[0]! + c[1]! * d;
      for (let k = 0; k < p.length; k++) s += c[k + 2]! * p[k]!;
      return 1 - (s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s)));
    });
  }
}
