/**
 * From a raw confidence score (higher = surer, any scale) to P(correct).
 *
 * - Platt scaling: P(correct | c) = σ(a·c + b), a 1-D logistic regression fitted by Newton's
 *   method. A tiny L2 penalty keeps (a, b) finite on separable data or one-class labels.
 * - Isotonic regression (pool-adjacent-violators): monotone, non-parametric; needs more data.
 * - Per-cluster Platt (for the hybrid router): P(correct | x, c) = Σ_k P(k|x)·σ(a_k·c + b_k),
 *   each cluster's (a_k, b_k) shrunk toward the global fit so small clusters borrow strength.
 *
 * Fitting happens on standardised confidences z = (c − mean)/sd, so penalties mean the same
 * whatever the raw scale (log-probs, entropies, shares); coefficients are stored in z-space
 * and mapped back where exposed in raw units.
 */

import { bceWithLogit, fitLogisticNewton, sigmoid } from '../src/core/logistic';

export { fitLogisticNewton };

/** Maps a raw confidence to P(correct). */
export interface ConfidenceCalibrator {
  /** P(correct) in (0, 1); NaN when `confidence` is not finite. */
  predict(confidence: number): number;
}

/** Weighted mean and standard deviation; sd = 1 when the data has no spread. */
function standardiser(x: ArrayLike<number>, w?: ArrayLike<number>): { mean: number; sd: number } {
  let sw = 0;
  let sx = 0;
  for (let i = 0; i < x.length; i++) {
    const wi = w ? w[i]! : 1;
    sw += wi;
    sx += wi * x[i]!;
  }
  if (sw <= 0) return { mean: 0, sd: 1 };
  const mean = sx / sw;
  let sv = 0;
  for (let i = 0; i < x.length; i++) {
    const wi = w ? w[i]! : 1;
    sv += wi * (x[i]! - mean) ** 2;
  }
  const sd = Math.sqrt(sv / sw);
  return { mean, sd: sd > 1e-12 ? sd : 1 };
}

/**
 * Minimises Σ_i w_i·BCE(σ(α·z_i + β), y_i) + (penalty/2)·‖(α, β) − prior‖² by Newton's method
 * with step halving (the objective is convex; halving only guards against overshoot).
 */
function fitLogistic1D(
  z: ArrayLike<number>,
  y: ArrayLike<number>,
  w: ArrayLike<number> | undefined,
  prior: readonly [number, number],
  penalty: number,
): [number, number] {
  const n = z.length;
  const objective = (a: number, b: number): number => {
    let l = 0;
    for (let i = 0; i < n; i++) l += (w ? w[i]! : 1) * bceWithLogit(a * z[i]! + b, y[i]!);
    return l + (penalty / 2) * ((a - prior[0]) ** 2 + (b - prior[1]) ** 2);
  };
  let a = prior[0];
  let b = prior[1];
  let f = objective(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = penalty * (a - prior[0]);
    let gb = penalty * (b - prior[1]);
    let haa = penalty;
    let hab = 0;
    let hbb = penalty;
    for (let i = 0; i < n; i++) {
      const wi = w ? w[i]! : 1;
      if (wi === 0) continue;
      const zi = z[i]!;
      const p = sigmoid(a * zi + b);
      const r = wi * (p - y[i]!);
      const h = wi * p * (1 - p);
      ga += r * zi;
      gb += r;
      haa += h * zi * zi;
      hab += h * zi;
      hbb += h;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break; // only without penalty and without data; keep the prior
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    let t = 1;
    let fNew = objective(a - da, b - db);
    while (fNew > f && t > 1e-8) {
      t /= 2;
      fNew = objective(a - t * da, b - t * db);
    }
    if (fNew > f) break;
    a -= t * da;
    b -= t * db;
    const done = Math.abs(t * da) + Math.abs(t * db) < 1e-10 || f - fNew < 1e-12 * (1 + Math.abs(f));
    f = fNew;
    if (done) break;
  }
  return [a, b];
}

export interface PlattOptions {
  /** L2 penalty on the standardised coefficients, in units of summed log-loss. Default 1e-2. */
  readonly l2?: number;
  /** optional per-sample weights (default 1). */
  readonly weights?: ArrayLike<number>;
}

/** P(correct | c) = σ(a·c + b), with a and b in raw confidence units. */
export class PlattCalibrator implements ConfidenceCalibrator {
  constructor(
    readonly a: number,
    readonly b: number,
  ) {}

  predict(confidence: number): number {
    if (!Number.isFinite(confidence)) return NaN;
    return sigmoid(this.a * confidence + this.b);
  }

  toJSON(): { kind: 'platt'; a: number; b: number } {
    return { kind: 'platt', a: this.a, b: this.b };
  }
}

/** Drops samples whose confidence or label is not finite. */
function finitePairs(
  confidences: ArrayLike<number>,
  correct: ArrayLike<number>,
  weights?: ArrayLike<number>,
): { c: Float64Array; y: Float64Array; w: Float64Array | undefined } {
  if (confidences.length !== correct.length) throw new RangeError('confidences and labels differ in length');
  if (weights && weights.length !== correct.length) throw new RangeError('weights differ in length');
  const keep: number[] = [];
  for (let i = 0; i < confidences.length; i++) {
    if (Number.isFinite(confidences[i]!) && Number.isFinite(correct[i]!)) keep.push(i);
  }
  const c = Float64Array.from(keep, (i) => confidences[i]!);
  const y = Float64Array.from(keep, (i) => correct[i]!);
  const w = weights ? Float64Array.from(keep, (i) => weights[i]!) : undefined;
  return { c, y, w };
}

/**
 * Platt scaling: fits σ(a·c + b) to labels in [0, 1] (1 = correct) by penalised maximum
 * likelihood. Non-finite confidences are ignored. With no usable data, returns P = 0.5.
 */
export function fitPlatt(confidences: ArrayLike<number>, correct: ArrayLike<number>, options: PlattOptions = {}): PlattCalibrator {
  const { c, y, w } = finitePairs(confidences, correct, options.weights);
  if (c.length === 0) return new PlattCalibrator(0, 0);
  const { mean, sd } = standardiser(c, w);
  const z = c.map((v) => (v - mean) / sd);
  const [alpha, beta] = fitLogistic1D(z, y, w, [0, 0], options.l2 ?? 1e-2);
  // σ(α·(c − mean)/sd + β) = σ((α/sd)·c + β − α·mean/sd)
  return new PlattCalibrator(alpha / sd, beta - (alpha * mean) / sd);
}

// ---------------------------------------------------------------------------------------------

/**
 * Isotonic calibration: a non-decreasing map from confidence to P(correct), linear between
 * the pooled blocks' ends, constant outside the fitted range.
 */
export class IsotonicCalibrator implements ConfidenceCalibrator {
  /** knots: confidence (ascending) and P(correct) there (non-decreasing). */
  constructor(
    readonly xs: Float64Array,
    readonly ps: Float64Array,
  ) {}

  predict(confidence: number): number {
    if (!Number.isFinite(confidence)) return NaN;
    const xs = this.xs;
    const n = xs.length;
    if (n === 0) return 0.5;
    if (confidence <= xs[0]!) return this.ps[0]!;
    if (confidence >= xs[n - 1]!) return this.ps[n - 1]!;
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]! <= confidence) lo = mid;
      else hi = mid;
    }
    const t = (confidence - xs[lo]!) / (xs[hi]! - xs[lo]!);
    return this.ps[lo]! + t * (this.ps[hi]! - this.ps[lo]!);
  }
}

/** Isotonic regression by pool-adjacent-violators (weighted, ties in confidence pooled first). */
export function fitIsotonic(
  confidences: ArrayLike<number>,
  correct: ArrayLike<number>,
  options: { readonly weights?: ArrayLike<number> } = {},
): IsotonicCalibrator {
  const { c, y, w } = finitePairs(confidences, correct, options.weights);
  const order = Array.from(c.keys()).sort((i, j) => c[i]! - c[j]!);
  // Blocks: [xMin, xMax, weight, weighted sum of y]
  const xMin: number[] = [];
  const xMax: number[] = [];
  const bw: number[] = [];
  const by: number[] = [];
  for (const i of order) {
    const wi = w ? w[i]! : 1;
    if (wi <= 0) continue;
    const last = xMin.length - 1;
    if (last >= 0 && xMax[last] === c[i]) {
      bw[last]! += wi;
      by[last]! += wi * y[i]!;
    } else {
      xMin.push(c[i]!);
      xMax.push(c[i]!);
      bw.push(wi);
      by.push(wi * y[i]!);
    }
    // Pool while the last block's mean is below the previous one's.
    while (xMin.length > 1) {
      const k = xMin.length - 1;
      if (by[k - 1]! / bw[k - 1]! <= by[k]! / bw[k]!) break;
      xMax[k - 1] = xMax[k]!;
      bw[k - 1]! += bw[k]!;
      by[k - 1]! += by[k]!;
      xMin.pop();
      xMax.pop();
      bw.pop();
      by.pop();
    }
  }
  const xs: number[] = [];
  const ps: number[] = [];
  for (let k = 0; k < xMin.length; k++) {
    const p = by[k]! / bw[k]!;
    xs.push(xMin[k]!);
    ps.push(p);
    if (xMax[k]! > xMin[k]!) {
      xs.push(xMax[k]!);
      ps.push(p);
    }
  }
  return new IsotonicCalibrator(Float64Array.from(xs), Float64Array.from(ps));
}

// ---------------------------------------------------------------------------------------------
// Per-cluster calibration for the hybrid router.

/** One training sample: soft cluster membership of the prompt, the local answer's confidence, its correctness. */
export interface ClusterConfidenceSample {
  /** P(k | x) for k = 0..K-1 (sums to 1), e.g. ClusterMap.probabilities(embedding). */
  readonly clusterProbs: Float64Array;
  readonly confidence: number;
  /** 1 = the local answer was correct (soft labels in [0, 1] allowed). */
  readonly correct: number;
  /**
   * This sample's cluster prior computed without the sample itself (ClusterPriorCalibrator):
   * lets the prior's own training prompts serve in the fit without in-sample optimism.
   */
  readonly prior?: number;
}

export interface ClusterCalibrationOptions {
  /**
   * Strength λ_s of the L2 pull of each cluster's standardised (a_k, b_k) toward the global fit.
   * Each cluster's data term has curvature ≈ n_k·p(1−p) (n_k = its soft count), so a cluster
   * follows its own data once n_k·p(1−p) ≫ λ_s and stays near the global fit when ≪ λ_s.
   * Default 10 (≈ 40–60 soft samples to move halfway).
   */
  readonly shrinkage?: number;
  /** tiny L2 toward 0 that keeps fits finite on separable data. Default 1e-2. */
  readonly l2?: number;
}

/** Serializable state of a ClusterConfidenceCalibrator. */
export interface ClusterConfidenceCalibratorParams {
  readonly mean: number;
  readonly sd: number;
  /** standardised-space coefficients of the global fit. */
  readonly globalA: number;
  readonly globalB: number;
  /** standardised-space coefficients per cluster. */
  readonly a: readonly number[];
  readonly b: readonly number[];
  /** per-cluster P(correct) ignoring confidence (shrunk toward the global rate): used when the confidence is unknown. */
  readonly baseRate: readonly number[];
}

/** P(correct | x, c) = Σ_k P(k|x)·σ(a_k·z + b_k), z = (c − mean)/sd. */
export class ClusterConfidenceCalibrator {
  readonly numClusters: number;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly baseRate: Float64Array;

  constructor(readonly params: ClusterConfidenceCalibratorParams) {
    this.numClusters = params.a.length;
    if (params.b.length !== this.numClusters || params.baseRate.length !== this.numClusters) {
      throw new RangeError('per-cluster parameters differ in length');
    }
    this.a = Float64Array.from(params.a);
    this.b = Float64Array.from(params.b);
    this.baseRate = Float64Array.from(params.baseRate);
  }

  /** P(correct | cluster k, confidence); the cluster's base rate when the confidence is not finite. */
  predictCluster(k: number, confidence: number): number {
    if (!Number.isFinite(confidence)) return this.baseRate[k]!;
    const z = (confidence - this.params.mean) / this.params.sd;
    return sigmoid(this.a[k]! * z + this.b[k]!);
  }

  /** Σ_k P(k|x)·P(correct | k, confidence). */
  predict(clusterProbs: Float64Array, confidence: number): number {
    if (clusterProbs.length !== this.numClusters) {
      throw new RangeError(`expected ${this.numClusters} cluster probabilities, got ${clusterProbs.length}`);
    }
    let p = 0;
    for (let k = 0; k < this.numClusters; k++) {
      const pk = clusterProbs[k]!;
      if (pk !== 0) p += pk * this.predictCluster(k, confidence);
    }
    return p;
  }

  /** Cluster k's coefficients in raw confidence units: P = σ(a·c + b). */
  rawCoefficients(k: number): { a: number; b: number } {
    const { mean, sd } = this.params;
    return { a: this.a[k]! / sd, b: this.b[k]! - (this.a[k]! * mean) / sd };
  }

  toJSON(): ClusterConfidenceCalibratorParams {
    return this.params;
  }
}

/**
 * Fits a per-cluster Platt calibrator. Every sample counts toward cluster k with weight
 * P(k|x) (soft assignment); each cluster's (a_k, b_k) minimises its weighted log-loss plus
 * (shrinkage/2)·‖(a_k, b_k) − (a_global, b_global)‖² (+ the tiny l2 toward 0). The clusters are
 * fitted separately (not as the mixture used at prediction time): a one-pass approximation that
 * coincides with the mixture for hard assignments.
 */
export function fitClusterConfidenceCalibrator(
  samples: readonly ClusterConfidenceSample[],
  options: ClusterCalibrationOptions = {},
): ClusterConfidenceCalibrator {
  if (samples.length === 0) throw new RangeError('no samples');
  const K = samples[0]!.clusterProbs.length;
  const usable = samples.filter((s) => {
    if (s.clusterProbs.length !== K) throw new RangeError('samples differ in number of clusters');
    return Number.isFinite(s.confidence) && Number.isFinite(s.correct);
  });
  const shrinkage = options.shrinkage ?? 10;
  const l2 = options.l2 ?? 1e-2;
  const c = Float64Array.from(usable, (s) => s.confidence);
  const y = Float64Array.from(usable, (s) => s.correct);
  const { mean, sd } = standardiser(c);
  const z = c.map((v) => (v - mean) / sd);

  const [gA, gB] = fitLogistic1D(z, y, undefined, [0, 0], l2);
  let globalRate = 0;
  for (const v of y) globalRate += v;
  globalRate = y.length > 0 ? globalRate / y.length : 0.5;

  // Two quadratic pulls, λ_s toward the global fit and l2 toward 0, are one pull of strength
  // λ_s + l2 toward λ_s·global/(λ_s + l2).
  const pen = shrinkage + l2;
  const prior: [number, number] = [(shrinkage * gA) / pen, (shrinkage * gB) / pen];
  const a: number[] = [];
  const b: number[] = [];
  const baseRate: number[] = [];
  const w = new Float64Array(usable.length);
  for (let k = 0; k < K; k++) {
    let sw = 0;
    let swy = 0;
    for (let i = 0; i < usable.length; i++) {
      w[i] = usable[i]!.clusterProbs[k]!;
      sw += w[i]!;
      swy += w[i]! * y[i]!;
    }
    const [ak, bk] = fitLogistic1D(z, y, w, prior, pen);
    a.push(ak);
    b.push(bk);
    // Same shrinkage for the confidence-free rate: λ_s pseudo-samples at the global rate.
    baseRate.push((swy + shrinkage * globalRate) / (sw + shrinkage > 0 ? sw + shrinkage : 1));
  }
  return new ClusterConfidenceCalibrator({ mean, sd, globalA: gA, globalB: gB, a, b, baseRate });
}

// ---------------------------------------------------------------------------------------------
// Cluster prior + confidence, for the hybrid router.

/** What the hybrid router needs of a calibrator: P(local answer correct | cluster probabilities, confidence). */
export interface ClusterAwareCalibrator {
  readonly numClusters: number;
  /** The confidence may be NaN (not generated yet): the cluster prior alone is used then. */
  predict(clusterProbs: Float64Array, confidence: number): number;
}

/** Serializable state of a ClusterPriorCalibrator. */
export interface ClusterPriorCalibratorParams {
  /** Prior P(correct) of the local model in each cluster (e.g. 1 − Ψ_k(local) from training prompts). */
  readonly clusterAccuracy: readonly number[];
  readonly mean: number;
  readonly sd: number;
  /** P = σ(wConfidence·z + wPrior·logit(q) + bias), z standardised confidence, q = Σ_k P(k|x)·accuracy_k. */
  readonly wConfidence: number;
  readonly wPrior: number;
  readonly bias: number;
  /** Without a confidence: σ(wPriorOnly·logit(q) + biasPriorOnly). */
  readonly wPriorOnly: number;
  readonly biasPriorOnly: number;
}

const logit = (q: number): number => {
  const c = Math.min(1 - 1e-4, Math.max(1e-4, q));
  return Math.log(c / (1 - c));
};

/**
 * P(correct | x, c) = σ(w_c·z + w_q·logit(q(x)) + b): the local answer's confidence and the
 * cluster prior q(x) = Σ_k P(k|x)·accuracy_k as two features of one logistic regression.
 * Three parameters, so it can be fitted on a small validation split without overfitting, and
 * the data decide how much each signal is worth (per-cluster Platt fits 2K parameters instead).
 * The cluster accuracies should come from other prompts than the fit (e.g. training prompts):
 * in-sample priors look better than they are and would get too much weight.
 */
export class ClusterPriorCalibrator implements ClusterAwareCalibrator {
  readonly numClusters: number;

  constructor(readonly params: ClusterPriorCalibratorParams) {
    this.numClusters = params.clusterAccuracy.length;
  }

  prior(clusterProbs: Float64Array): number {
    if (clusterProbs.length !== this.numClusters) {
      throw new RangeError(`expected ${this.numClusters} cluster probabilities, got ${clusterProbs.length}`);
    }
    let q = 0;
    for (let k = 0; k < this.numClusters; k++) q += clusterProbs[k]! * this.params.clusterAccuracy[k]!;
    return q;
  }

  predict(clusterProbs: Float64Array, confidence: number): number {
    const p = this.params;
    const lq = logit(this.prior(clusterProbs));
    if (!Number.isFinite(confidence)) return sigmoid(p.wPriorOnly * lq + p.biasPriorOnly);
    return sigmoid(p.wConfidence * ((confidence - p.mean) / p.sd) + p.wPrior * lq + p.bias);
  }

  toJSON(): ClusterPriorCalibratorParams {
    return this.params;
  }
}

/** Fits a ClusterPriorCalibrator on samples (validation prompts) given per-cluster prior accuracies. */
export function fitClusterPriorCalibrator(
  samples: readonly ClusterConfidenceSample[],
  clusterAccuracy: ArrayLike<number>,
  options: { readonly l2?: number } = {},
): ClusterPriorCalibrator {
  const K = clusterAccuracy.length;
  const usable = samples.filter((s) => {
    if (s.clusterProbs.length !== K) throw new RangeError(`sample has ${s.clusterProbs.length} cluster probabilities, expected ${K}`);
    return Number.isFinite(s.correct);
  });
  const l2 = options.l2 ?? 1e-2;
  const accuracy = Array.from(clusterAccuracy);
  const q = usable.map((s) => {
    if (s.prior !== undefined) return logit(s.prior);
    let v = 0;
    for (let k = 0; k < K; k++) v += s.clusterProbs[k]! * accuracy[k]!;
    return logit(v);
  });
  const y = usable.map((s) => s.correct);
  const withConf = usable.map((s, i) => ({ c: s.confidence, q: q[i]!, y: y[i]! })).filter((r) => Number.isFinite(r.c));
  const { mean, sd } = standardiser(Float64Array.from(withConf, (r) => r.c));
  const [wConfidence, wPrior, bias] = fitLogisticNewton(
    withConf.map((r) => [(r.c - mean) / sd, r.q, 1]),
    withConf.map((r) => r.y),
    l2,
  );
  const [wPriorOnly, biasPriorOnly] = fitLogisticNewton(
    q.map((v) => [v, 1]),
    y,
    l2,
  );
  return new ClusterPriorCalibrator({
    clusterAccuracy: accuracy,
    mean,
    sd,
    wConfidence: wConfidence!,
    wPrior: wPrior!,
    bias: bias!,
    wPriorOnly: wPriorOnly!,
    biasPriorOnly: biasPriorOnly!,
  });
}
