/**
 * Fitting UniRoute's learned cluster map (the paper's second instantiation): the benchmark and the
 * lab train it; the shipped router only applies a fitted map (LearnedClusterMap in src/core).
 */
import type { Vector } from '../src/core/linalg';
import type { LabelledPrompt, ModelSpec } from '../src/core/types';
import { DEFAULT_SHRINKAGE, LearnedClusterMap, checkDim, checkModels, checkScore, softmaxRowInto, unitCopy } from '../src/core/uniroute';
// ---------------------------------------------------------------------------------------------
// Learned cluster map (the paper's second instantiation)
// ---------------------------------------------------------------------------------------------

export interface LearnedMapOptions {
  /** τ in the init θ_k = τ·centroid_k (default 20: nearly hard for clusters ~0.1 apart in cosine). */
  readonly temperature?: number;
  /** Full-batch Adam steps (default 100). */
  readonly epochs?: number;
  /** Adam step size (default 0.01). */
  readonly learningRate?: number;
  /** Weight of (l2/2)·‖θ − θ_init‖² (default 1e-4): keeps the map near k-means when data are few. */
  readonly l2?: number;
  /** Pseudo-count m used for Ψ on the training prompts (default DEFAULT_SHRINKAGE). */
  readonly shrinkage?: number;
}

export interface LearnedMapInput extends LearnedMapOptions {
  readonly centroids: readonly Vector[];
  readonly training: readonly LabelledPrompt[];
  /** Models whose scores on `training` supervise the map (costs are not used). */
  readonly trainingModels: readonly ModelSpec[];
}

export interface LearnedMapFit {
  readonly map: LearnedClusterMap;
  /** Mean log-loss at the init (θ = τ·centroids). */
  readonly initialLoss: number;
  /** Mean log-loss of the returned map (the best seen, by regularised objective). */
  readonly finalLoss: number;
  /** Mean log-loss after each step; losses[0] is the init. */
  readonly losses: Float64Array;
}

/** Training data in flat arrays: φ (N×d, unit rows), errors and an observed mask (N×H). */
interface FlatTraining {
  readonly N: number;
  readonly H: number;
  readonly dim: number;
  /** Float32 halves the memory traffic of the two N×K×d passes; sums are still float64. */
  readonly phi: Float32Array;
  readonly errors: Float64Array;
  readonly mask: Uint8Array;
  readonly observed: number;
  readonly globalErrors: Float64Array;
}

function flattenTraining(training: readonly LabelledPrompt[], models: readonly ModelSpec[], dim: number): FlatTraining {
  const N = training.length;
  const H = models.length;
  const phi = new Float32Array(N * dim);
  const errors = new Float64Array(N * H);
  const mask = new Uint8Array(N * H);
  const sums = new Float64Array(H);
  const counts = new Float64Array(H);
  let observed = 0;
  training.forEach((x, i) => {
    checkDim(x.embedding, dim, 'fitLearnedClusterMap');
    phi.set(unitCopy(x.embedding), i * dim);
    models.forEach((m, h) => {
      const s = x.scores[m.id];
      if (s === undefined) return;
      checkScore(s, `fitLearnedClusterMap (${m.id}, ${x.id})`);
      errors[i * H + h] = 1 - s;
      mask[i * H + h] = 1;
      sums[h] = sums[h]! + 1 - s;
      counts[h] = counts[h]! + 1;
      observed++;
    });
  });
  const globalErrors = new Float64Array(H);
  for (let h = 0; h < H; h++) {
    if (counts[h] === 0) throw new Error(`fitLearnedClusterMap: model ${models[h]!.id} has no training scores`);
    globalErrors[h] = sums[h]! / counts[h]!;
  }
  return { N, H, dim, phi, errors, mask, observed, globalErrors };
}

const PROB_EPS = 1e-6;

/**
 * Mean log-loss of P(h correct | x) = 1 − Σ_k P(k|x)·Ψ_k(h), where Ψ is recomputed from the same
 * soft assignments on the training prompts (exactly as `buildProfile` would). When `grad` is
 * given, writes ∂loss/∂θ (K×d) and ∂loss/∂b (K) into it; the gradient flows through Ψ too.
 */
function learnedMapLoss(
  t: FlatTraining,
  theta: Float64Array,
  bias: Float64Array,
  shrinkage: number,
  grad?: { theta: Float64Array; bias: Float64Array },
): number {
  const { N, H, dim, phi, errors, mask, globalErrors } = t;
  const K = bias.length;
  const Z = new Float64Array(N * K);
  for (let x = 0; x < N; x++) softmaxRowInto(phi, x * dim, theta, bias, dim, Z, x * K);

  // Ψ_kh = (Σ_x Z_xk M_xh E_xh + m·g_h) / (Σ_x Z_xk M_xh + m)
  const A = new Float64Array(K * H);
  const C = new Float64Array(K * H);
  for (let x = 0; x < N; x++) {
    for (let h = 0; h < H; h++) {
      if (mask[x * H + h] === 0) continue;
      const e = errors[x * H + h]!;
      for (let k = 0; k < K; k++) {
        const z = Z[x * K + k]!;
        A[k * H + h] = A[k * H + h]! + z * e;
        C[k * H + h] = C[k * H + h]! + z;
      }
    }
  }
  const Psi = new Float64Array(K * H);
  for (let k = 0; k < K; k++) {
    for (let h = 0; h < H; h++) {
      A[k * H + h] = A[k * H + h]! + shrinkage * globalErrors[h]!;
      C[k * H + h] = C[k * H + h]! + shrinkage;
      Psi[k * H + h] = C[k * H + h]! > 0 ? A[k * H + h]! / C[k * H + h]! : globalErrors[h]!;
    }
  }

  // Predicted error P_xh = Σ_k Z_xk Ψ_kh; loss −[(1−E) log(1−P) + E log P]; G = ∂loss/∂P.
  const G = new Float64Array(N * H);
  let loss = 0;
  for (let x = 0; x < N; x++) {
    for (let h = 0; h < H; h++) {
      if (mask[x * H + h] === 0) continue;
      let p = 0;
      for (let k = 0; k < K; k++) p += Z[x * K + k]! * Psi[k * H + h]!;
      p = Math.min(1 - PROB_EPS, Math.max(PROB_EPS, p));
      const e = errors[x * H + h]!;
      loss -= (1 - e) * Math.log(1 - p) + e * Math.log(p);
      G[x * H + h] = ((1 - e) / (1 - p) - e / p) / t.observed;
    }
  }
  loss /= t.observed;
  if (grad === undefined) return loss;

  // ∂loss/∂Ψ_kh = Σ_x Z_xk G_xh; then through Ψ = A/C: ∂Ψ_kh/∂Z_xk = M_xh (E_xh − Ψ_kh) / C_kh.
  const dPsiOverC = new Float64Array(K * H);
  for (let x = 0; x < N; x++) {
    for (let h = 0; h < H; h++) {
      const g = G[x * H + h]!;
      if (g === 0) continue;
      for (let k = 0; k < K; k++) dPsiOverC[k * H + h] = dPsiOverC[k * H + h]! + Z[x * K + k]! * g;
    }
  }
  for (let i = 0; i < K * H; i++) dPsiOverC[i] = C[i]! > 0 ? dPsiOverC[i]! / C[i]! : 0;

  grad.theta.fill(0);
  grad.bias.fill(0);
  const dZ = new Float64Array(K);
  for (let x = 0; x < N; x++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let h = 0; h < H; h++) {
        s += G[x * H + h]! * Psi[k * H + h]!;
        if (mask[x * H + h] === 1) s += (errors[x * H + h]! - Psi[k * H + h]!) * dPsiOverC[k * H + h]!;
      }
      dZ[k] = s;
    }
    // Softmax backward: ∂/∂logit_k = Z_k (dZ_k − Σ_j Z_j dZ_j).
    let zdz = 0;
    for (let k = 0; k < K; k++) zdz += Z[x * K + k]! * dZ[k]!;
    for (let k = 0; k < K; k++) {
      const dl = Z[x * K + k]! * (dZ[k]! - zdz);
      // Clusters with negligible probability contribute nothing measurable; skipping them makes
      // the backward pass cost ~ the number of "active" clusters per prompt instead of K.
      if (Math.abs(dl) < 1e-15) continue;
      grad.bias[k] = grad.bias[k]! + dl;
      const gt = grad.theta;
      const to = k * dim;
      const po = x * dim;
      let j = 0;
      for (; j + 3 < dim; j += 4) {
        gt[to + j] = gt[to + j]! + dl * phi[po + j]!;
        gt[to + j + 1] = gt[to + j + 1]! + dl * phi[po + j + 1]!;
        gt[to + j + 2] = gt[to + j + 2]! + dl * phi[po + j + 2]!;
        gt[to + j + 3] = gt[to + j + 3]! + dl * phi[po + j + 3]!;
      }
      for (; j < dim; j++) gt[to + j] = gt[to + j]! + dl * phi[po + j]!;
    }
  }
  return loss;
}

/** Mean log-loss of `map` and its gradient in θ and b (no L2 term); for diagnostics and tests. */
export function learnedMapGradient(
  map: LearnedClusterMap,
  prompts: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  shrinkage: number = DEFAULT_SHRINKAGE,
): { loss: number; theta: Float64Array; bias: Float64Array } {
  const grad = { theta: new Float64Array(map.theta.length), bias: new Float64Array(map.bias.length) };
  const loss = learnedMapLoss(flattenTraining(prompts, models, map.dim), map.theta, map.bias, shrinkage, grad);
  return { loss, ...grad };
}

/** Mean log-loss of `map` on labelled prompts for the given models (Ψ recomputed on those prompts). */
export function learnedMapLogLoss(
  map: LearnedClusterMap,
  prompts: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  shrinkage: number = DEFAULT_SHRINKAGE,
): number {
  return learnedMapLoss(flattenTraining(prompts, models, map.dim), map.theta, map.bias, shrinkage);
}

/**
 * Fits θ, b of P(k|x) = softmax(θφ(x) + b) by full-batch Adam on the log-loss of the training
 * models' correctness (full batch because Ψ is a statistic of the whole training set).
 * Deterministic: the init is τ·centroids and there is no sampling. Returns the best iterate seen.
 */
export function fitLearnedClusterMap(input: LearnedMapInput): LearnedMapFit {
  const temperature = input.temperature ?? 20;
  const epochs = input.epochs ?? 100;
  const lr = input.learningRate ?? 0.01;
  const l2 = input.l2 ?? 1e-4;
  const shrinkage = input.shrinkage ?? DEFAULT_SHRINKAGE;
  if (input.training.length === 0) throw new Error('fitLearnedClusterMap: no training prompts');
  checkModels(input.trainingModels, 'fitLearnedClusterMap');

  const init = LearnedClusterMap.fromCentroids(input.centroids, temperature);
  const { dim } = init;
  const t = flattenTraining(input.training, input.trainingModels, dim);
  const theta = init.theta.slice();
  const bias = init.bias.slice();
  const grad = { theta: new Float64Array(theta.length), bias: new Float64Array(bias.length) };
  const m1 = { theta: new Float64Array(theta.length), bias: new Float64Array(bias.length) };
  const m2 = { theta: new Float64Array(theta.length), bias: new Float64Array(bias.length) };
  const beta1 = 0.9;
  const beta2 = 0.999;

  const losses = new Float64Array(epochs + 1);
  let best = { objective: Infinity, loss: Infinity, theta, bias };
  for (let step = 0; step <= epochs; step++) {
    const loss = learnedMapLoss(t, theta, bias, shrinkage, grad);
    losses[step] = loss;
    let penalty = 0;
    for (let i = 0; i < theta.length; i++) {
      const d = theta[i]! - init.theta[i]!;
      penalty += d * d;
      grad.theta[i] = grad.theta[i]! + l2 * d;
    }
    const objective = loss + 0.5 * l2 * penalty;
    if (objective < best.objective) best = { objective, loss, theta: theta.slice(), bias: bias.slice() };
    if (step === epochs) break;
    adamStep(theta, grad.theta, m1.theta, m2.theta, step + 1, lr, beta1, beta2);
    adamStep(bias, grad.bias, m1.bias, m2.bias, step + 1, lr, beta1, beta2);
  }
  return {
    map: new LearnedClusterMap(best.theta, best.bias, dim),
    initialLoss: losses[0]!,
    finalLoss: best.loss,
    losses,
  };
}

function adamStep(w: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number, lr: number, b1: number, b2: number): void {
  const c1 = 1 - Math.pow(b1, t);
  const c2 = 1 - Math.pow(b2, t);
  for (let i = 0; i < w.length; i++) {
    m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
    v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
    w[i] = w[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
  }
}
