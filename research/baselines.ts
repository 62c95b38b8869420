/**
 * Baselines a router must beat, evaluated with the same decision rule and λ sweep.
 *
 * - singleModelPoints: each model alone.
 * - zeroRouterCurve: the UniRoute paper's ZeroRouter, the upper convex hull of the single models'
 *   (cost, quality) points; any point on a hull edge is reached by sending a random share of prompts
 *   to one endpoint model and the rest to the other, with no look at the prompt.
 * - randomRouterCurve: that random mixture actually drawn per prompt (seeded), cheap ↔ strong model.
 * - KnnRouter: predicted error = mean error over the k most cosine-similar validation prompts.
 * - OracleRouter / oracleCurve: the truth as predicted errors (an upper bound, not a router).
 */
import type { DeferralCurve, DeferralPoint, Embedding, LabelledPrompt, ModelSpec, Router, RoutingInput } from '../src/core/types';
import { createRng } from '../src/core/random';
import type { ScoresOnValidation } from '../src/core/uniroute';
import { evaluateRouter, type SweepOptions } from '../src/core/evaluation';

function costOf(prompt: LabelledPrompt, model: ModelSpec): number {
  return prompt.costs?.[model.id] ?? model.cost;
}

function scoreOf(prompt: LabelledPrompt, model: ModelSpec, who: string): number {
  const s = prompt.scores[model.id];
  if (s === undefined) throw new Error(`${who}: prompt ${prompt.id} has no score for model ${model.id}`);
  return s;
}

export interface SingleModelPoint extends DeferralPoint {
  readonly modelId: string;
}

/** Each model's mean cost and quality on the test prompts, in `models` order (λ = NaN). */
export function singleModelPoints(testPrompts: readonly LabelledPrompt[], models: readonly ModelSpec[]): SingleModelPoint[] {
  if (testPrompts.length === 0) throw new Error('singleModelPoints: no prompts');
  return models.map((m) => {
    let cost = 0;
    let quality = 0;
    for (const x of testPrompts) {
      cost += costOf(x, m);
      quality += scoreOf(x, m, 'singleModelPoints');
    }
    const shares: Record<string, number> = {};
    for (const other of models) shares[other.id] = other.id === m.id ? 1 : 0;
    return { modelId: m.id, lambda: NaN, cost: cost / testPrompts.length, quality: quality / testPrompts.length, shares };
  });
}

/**
 * Upper convex hull of (cost, quality) points from the cheapest point to the best one, cost
 * ascending: the Pareto front reachable by random mixtures of the points. Dominated points and
 * points lying on a hull edge are dropped.
 */
export function upperConvexHull<P extends DeferralPoint>(points: readonly P[]): P[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.quality - a.quality);
  const hull: P[] = [];
  for (const p of sorted) {
    if (hull.length > 0 && p.quality <= hull[hull.length - 1]!.quality) continue; // dominated
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      // b is kept only if it lies strictly above the segment a → p.
      const cross = (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost);
      // Relative tolerance so that collinear points (up to round-off) are dropped too.
      const scale = (p.cost - a.cost) * Math.max(Math.abs(p.quality - a.quality), Math.abs(b.quality - a.quality));
      if (cross >= -1e-9 * scale) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/**
 * ZeroRouter: the vertices of the single models' upper convex hull (edges = random mixtures).
 * With `selectionPrompts` (train + validation) the hull's models are chosen there, as a deployed
 * ZeroRouter would choose them, and their points then measured on the test prompts; without, the
 * hull is taken on the test prompts themselves (an optimistic baseline).
 */
export function zeroRouterCurve(
  testPrompts: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  selectionPrompts?: readonly LabelledPrompt[],
): DeferralCurve {
  if (selectionPrompts === undefined) return upperConvexHull(singleModelPoints(testPrompts, models));
  const chosen = new Set(upperConvexHull(singleModelPoints(selectionPrompts, models)).map((p) => p.modelId));
  return singleModelPoints(testPrompts, models)
    .filter((p) => chosen.has(p.modelId))
    .sort((a, b) => a.cost - b.cost || a.quality - b.quality);
}

/** The most accurate model on `prompts` (cheapest among equally accurate). */
export function bestSingleModel(prompts: readonly LabelledPrompt[], models: readonly ModelSpec[]): string {
  const singles = singleModelPoints(prompts, models);
  return singles.reduce((a, b) => (b.quality > a.quality || (b.quality === a.quality && b.cost < a.cost) ? b : a)).modelId;
}

export interface RandomCurveOptions {
  readonly seed?: number;
  /** Number of mixing probabilities p = 0, 1/(steps−1), …, 1 (default 11). */
  readonly steps?: number;
  /** Default: the cheapest model (best quality among equally cheap). */
  readonly cheapId?: string;
  /** Default: the best single model on the test prompts (cheapest among equally good). */
  readonly strongId?: string;
}

/**
 * Random routing drawn for real: each prompt x gets one uniform u_x (seeded), and at mixing
 * probability p goes to the strong model iff u_x < p. Sharing u_x across p keeps the curve
 * monotone; its expectation is the straight line between the two models' points.
 */
export function randomRouterCurve(testPrompts: readonly LabelledPrompt[], models: readonly ModelSpec[], options: RandomCurveOptions = {}): DeferralCurve {
  const steps = options.steps ?? 11;
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`randomRouterCurve: steps must be an integer ≥ 2`);
  const singles = singleModelPoints(testPrompts, models);
  const find = (id: string): number => {
    const i = models.findIndex((m) => m.id === id);
    if (i === -1) throw new Error(`randomRouterCurve: unknown model ${id}`);
    return i;
  };
  const pick = (better: (a: SingleModelPoint, b: SingleModelPoint) => boolean): number =>
    singles.reduce((best, p, i) => (better(p, singles[best]!) ? i : best), 0);
  const cheap = options.cheapId !== undefined ? find(options.cheapId) : pick((a, b) => a.cost < b.cost || (a.cost === b.cost && a.quality > b.quality));
  const strong =
    options.strongId !== undefined ? find(options.strongId) : pick((a, b) => a.quality > b.quality || (a.quality === b.quality && a.cost < b.cost));

  const rng = createRng(options.seed ?? 0);
  const u = testPrompts.map(() => rng.next());
  const N = testPrompts.length;
  const points: DeferralPoint[] = [];
  for (let s = 0; s < steps; s++) {
    const p = s / (steps - 1);
    let cost = 0;
    let quality = 0;
    let strongCount = 0;
    testPrompts.forEach((x, i) => {
      const h = u[i]! < p ? strong : cheap;
      if (h === strong) strongCount++;
      cost += costOf(x, models[h]!);
      quality += scoreOf(x, models[h]!, 'randomRouterCurve');
    });
    const shares: Record<string, number> = {};
    for (const m of models) shares[m.id] = 0;
    shares[models[cheap]!.id] = shares[models[cheap]!.id]! + (N - strongCount) / N;
    shares[models[strong]!.id] = shares[models[strong]!.id]! + strongCount / N;
    points.push({ lambda: NaN, cost: cost / N, quality: quality / N, shares });
  }
  return points.sort((a, b) => a.cost - b.cost || a.quality - b.quality);
}

// ---------------------------------------------------------------------------------------------
// k-NN
// ---------------------------------------------------------------------------------------------

interface KnnData {
  readonly dim: number;
  /** Unit-norm validation embeddings, flat N×dim. */
  readonly embeddings: Float32Array;
  readonly validationIds: readonly string[];
}

function unitRows(prompts: readonly LabelledPrompt[]): KnnData {
  if (prompts.length === 0) throw new Error('KnnRouter: no validation prompts');
  const dim = prompts[0]!.embedding.length;
  const embeddings = new Float32Array(prompts.length * dim);
  prompts.forEach((x, i) => {
    const e = x.embedding;
    if (e.length !== dim) throw new Error(`KnnRouter: prompt ${x.id} has dimension ${e.length}, expected ${dim}`);
    let s = 0;
    for (let j = 0; j < dim; j++) s += e[j]! * e[j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) embeddings[i * dim + j] = e[j]! * inv;
  });
  return { dim, embeddings, validationIds: prompts.map((x) => x.id) };
}

/** Errors of one model in validation order (NaN = unscored) and its mean error as the fallback. */
interface KnnModelErrors {
  readonly errors: Float64Array;
  readonly globalError: number;
}

function knnErrors(scores: ScoresOnValidation, ids: readonly string[], who: string): KnnModelErrors {
  const errors = new Float64Array(ids.length);
  const isArray = Array.isArray(scores) || ArrayBuffer.isView(scores);
  if (isArray && (scores as ArrayLike<number>).length !== ids.length) {
    throw new Error(`${who}: ${(scores as ArrayLike<number>).length} scores for ${ids.length} validation prompts`);
  }
  let sum = 0;
  let count = 0;
  ids.forEach((id, i) => {
    const s = isArray ? (scores as ArrayLike<number>)[i]! : (scores as Readonly<Record<string, number>>)[id];
    if (s === undefined || Number.isNaN(s)) {
      errors[i] = NaN;
      return;
    }
    if (!(s >= 0 && s <= 1)) throw new Error(`${who}: score must be in [0, 1], got ${s}`);
    errors[i] = 1 - s;
    sum += 1 - s;
    count++;
  });
  if (count === 0) throw new Error(`${who}: no validation scores for this model`);
  return { errors, globalError: sum / count };
}

export interface KnnRouterOptions {
  /** Neighbours; default 10 (capped at the number of evidence prompts). */
  readonly k?: number;
  /**
   * Pseudo-count m pulling each model's neighbourhood mean toward its global error, as UniRoute's
   * Ψ_k = (n_k·mean_k + m·global)/(n_k + m): a model scored on few of the k neighbours (an unseen
   * model, known through validation prompts only) stays near its global error. Default 0 (plain k-NN).
   */
  readonly shrinkage?: number;
}

/**
 * k-NN router: h's predicted error on x is its mean error over the k evidence prompts most
 * cosine-similar to x (ties → lower index), skipping those h has no score on, shrunk toward h's
 * global error by `shrinkage`. Needs only per-prompt scores, so a new model is added with
 * `addModel` like in UniRoute. If h has no score on any neighbour (and no shrinkage), its global
 * error is used.
 */
export class KnnRouter implements Router {
  readonly name = 'knn';
  readonly k: number;
  readonly shrinkage: number;

  private constructor(
    readonly models: readonly ModelSpec[],
    private readonly data: KnnData,
    private readonly perModel: readonly KnnModelErrors[],
    k: number,
    shrinkage: number,
  ) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`KnnRouter: k must be an integer ≥ 1, got ${k}`);
    if (!(shrinkage >= 0 && Number.isFinite(shrinkage))) throw new Error(`KnnRouter: invalid shrinkage ${shrinkage}`);
    this.k = Math.min(k, data.validationIds.length);
    this.shrinkage = shrinkage;
  }

  static fromValidation(validation: readonly LabelledPrompt[], models: readonly ModelSpec[], k = 10): KnnRouter {
    return KnnRouter.fromEvidence(validation, models, { k });
  }

  /**
   * From any prompts with scores (e.g. validation prompts plus the seen models' training
   * prompts, the evidence UniRoute's Ψ is built from); a model missing on a prompt skips it.
   */
  static fromEvidence(evidence: readonly LabelledPrompt[], models: readonly ModelSpec[], options: KnnRouterOptions = {}): KnnRouter {
    const data = unitRows(evidence);
    const perModel = models.map((m) => {
      const scores: Record<string, number> = {};
      for (const x of evidence) {
        const s = x.scores[m.id];
        if (s !== undefined) scores[x.id] = s;
      }
      return knnErrors(scores, data.validationIds, `KnnRouter (${m.id})`);
    });
    return new KnnRouter([...models], data, perModel, options.k ?? 10, options.shrinkage ?? 0);
  }

  /** A router that also knows `modelId`, from its scores on the validation prompts (by id, or in order). */
  addModel(modelId: string, cost: number, scoresOnValidation: ScoresOnValidation): KnnRouter {
    if (this.models.some((m) => m.id === modelId)) throw new Error(`KnnRouter.addModel: duplicate model id ${modelId}`);
    if (!(Number.isFinite(cost) && cost >= 0)) throw new Error(`KnnRouter.addModel: invalid cost ${cost}`);
    const added = knnErrors(scoresOnValidation, this.data.validationIds, `KnnRouter.addModel (${modelId})`);
    return new KnnRouter([...this.models, { id: modelId, cost }], this.data, [...this.perModel, added], this.k, this.shrinkage);
  }

  /** The same evidence with another k (no copy of the data). */
  withK(k: number): KnnRouter {
    return new KnnRouter(this.models, this.data, this.perModel, k, this.shrinkage);
  }

  /** Indices of the k most similar evidence prompts, most similar first. */
  neighbours(embedding: Embedding, k = this.k): Int32Array {
    const { dim, embeddings, validationIds } = this.data;
    if (embedding.length !== dim) throw new Error(`KnnRouter: embedding has dimension ${embedding.length}, expected ${dim}`);
    k = Math.min(k, validationIds.length);
    const idx = new Int32Array(k).fill(-1);
    const sim = new Float64Array(k).fill(-Infinity);
    for (let i = 0; i < validationIds.length; i++) {
      let s = 0;
      const o = i * dim;
      for (let j = 0; j < dim; j++) s += embeddings[o + j]! * embedding[j]!;
      if (!(s > sim[k - 1]!) && idx[k - 1] !== -1) continue;
      // Insertion into the sorted top-k; strict > keeps the earlier index on ties.
      let p = k - 1;
      while (p > 0 && (idx[p - 1] === -1 || s > sim[p - 1]!)) {
        sim[p] = sim[p - 1]!;
        idx[p] = idx[p - 1]!;
        p--;
      }
      sim[p] = s;
      idx[p] = i;
    }
    return idx;
  }

  predictErrors(input: RoutingInput): Float64Array {
    return this.predictErrorsForKs(input, [this.k])[0]!;
  }

  /**
   * Predicted errors at several k from one neighbour search (the k-NN prefix of the largest k),
   * so that choosing k by cross-validation costs one search per prompt.
   */
  predictErrorsForKs(input: RoutingInput, ks: readonly number[]): Float64Array[] {
    const nb = this.neighbours(input.embedding, Math.max(...ks));
    const m = this.shrinkage;
    return ks.map((k) =>
      Float64Array.from(this.perModel, ({ errors, globalError }) => {
        let sum = 0;
        let count = 0;
        for (let r = 0; r < Math.min(k, nb.length); r++) {
          const e = errors[nb[r]!]!;
          if (Number.isNaN(e)) continue;
          sum += e;
          count++;
        }
        return count + m > 0 ? (sum + m * globalError) / (count + m) : globalError;
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------------------------

/**
 * The oracle: predictErrors is the true error 1 − score on each of the test prompts it was built
 * from, found by the identity of the embedding array (RoutingInput carries no prompt id). Any other
 * embedding throws, so it cannot silently act as a router on unseen prompts. At λ = 0 it sends each
 * prompt to the cheapest model among those with the highest score.
 */
export class OracleRouter implements Router {
  readonly name = 'oracle';
  private readonly truth = new Map<Embedding, Float64Array>();

  constructor(
    testPrompts: readonly LabelledPrompt[],
    readonly models: readonly ModelSpec[],
  ) {
    for (const x of testPrompts) {
      this.truth.set(
        x.embedding,
        Float64Array.from(models, (m) => 1 - scoreOf(x, m, 'OracleRouter')),
      );
    }
  }

  predictErrors(input: RoutingInput): Float64Array {
    const e = this.truth.get(input.embedding);
    if (e === undefined) throw new Error('OracleRouter: unknown prompt (the oracle only knows the prompts it was built from)');
    return e.slice();
  }
}

/** The oracle's deferral curve: the λ sweep run on the true errors. */
export function oracleCurve(
  testPrompts: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  lambdas?: readonly number[],
  options: SweepOptions = {},
): DeferralCurve {
  return evaluateRouter(new OracleRouter(testPrompts, models), testPrompts, lambdas, options);
}
