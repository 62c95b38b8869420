/**
 * The UniRoute state the worker holds (no DOM): the validation set, its k-means clusters and
 * every model's feature vector Ψ(h), cached in IndexedDB so a returning page computes nothing.
 *
 * prepare(): cache hit → use it as is. Otherwise embed the validation prompts (textForEmbedding,
 * in batches), run k-means, build Ψ (buildProfile with the hard cluster map), fit the
 * universal-difficulty router's easiness (core/difficulty-router.ts), and write the cache.
 * Before generating, each pool of candidates is routed by UniRoute or the universal-difficulty
 * router, whichever the benchmark's cross-validation prefers on the validation prompts
 * (core/router-choice.ts); the escalation rule keeps UniRoute's ψ as its feature.
 * Storage failures never stop routing: the state then lives in memory only.
 *
 * A model the set does not know joins from its scores on the validation prompts (UniRoute's
 * addModel), given directly or measured here by running it on the prompts and grading answers.
 */
import type { ConfidenceScale } from '../core/conditional-errors';
import { difficultyError, easinessOf, fitDifficultyCoefficients, fitDifficultyState, meanSeenScore, type DifficultyState } from '../core/difficulty-router';
import { MIN_ESCALATION_EVIDENCE, fitEscalationRule, type EscalationRule, type EvidencePrompt } from '../core/escalation-rule';
import { gradeAnswer } from '../core/grading';
import { kmeans } from '../core/kmeans';
import { calibrateLambdaFromPredictions, type CalibrationTarget, type LambdaCalibration } from '../core/lambda-calibration';
import { MIN_PRE_ROUTER_EVIDENCE, PRE_ROUTER_CV, choosePreRouter, type PreRouterChoice, type PreRouterName } from '../core/router-choice';
import type { Embedding, LabelledPrompt, ModelSpec } from '../core/types';
import {
  DEFAULT_SHRINKAGE,
  UniRouteRouter,
  addModel as addModelToProfile,
  buildProfile,
  decide as decideRoute,
  expectedErrors,
  hardClusterMap,
  route as routeIndex,
  type Decision,
  type UniRouteProfile,
} from '../core/uniroute';
import type { RankedModel } from './protocol';
import { isEmbedderError, type Embedder } from './embedders/embedder';
import { textForEmbedding } from '../core/prompt-text';
import { EdgeRouteError } from '../common/errors';
import type { KvStore } from './storage/kv';
import {
  PROFILE_SCHEMA_VERSION,
  deleteProfileEntry,
  findSupersededEntries,
  isStorageError,
  profileKey,
  readProfileEntry,
  writeProfileEntry,
  type CachedModel,
  type ProfileEntry,
  type ProfileExpectation,
} from './storage/profile-cache';
import { gradablePrompts, validateValidationSet, validationSetHash, type ValidationPrompt, type ValidationSet } from '../common/validation-set';

/** Texts per embed() call: large enough to amortise a call, small enough for smooth progress. */
export const DEFAULT_EMBED_BATCH = 32;
export const DEFAULT_KMEANS_SEED = 0;
/** Upper end of the K rule; more clusters than this over a few hundred prompts is noise. */
export const MAX_AUTO_CLUSTERS = 32;

/**
 * K for n validation prompts: round(√(n/2)), at most 32, and at most n/10 so a cluster holds
 * ~10 prompts on average (else Ψ_k is mostly shrinkage). 400 prompts → 14; 40 → 4; < 20 → 1.
 */
export function autoClusterCount(n: number): number {
  return Math.max(1, Math.min(MAX_AUTO_CLUSTERS, Math.round(Math.sqrt(n / 2)), Math.floor(n / 10)));
}

export interface PrepareProgress {
  readonly phase: 'cache' | 'embedding' | 'clustering' | 'profile' | 'ready';
  readonly done: number;
  readonly total: number;
}

export interface PrepareOptions {
  readonly embedder: Embedder;
  /** Checked again here (validateValidationSet), so parsed JSON may be passed after a cast. */
  readonly validationSet: ValidationSet;
  /** Where to cache; absent (or failing) → memory only. */
  readonly store?: KvStore;
  /** Number of clusters, or 'auto' (default) for autoClusterCount(n). */
  readonly k?: number | 'auto';
  /** k-means seed (default 0). */
  readonly seed?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PrepareProgress) => void;
  /** Texts per embed() call (default DEFAULT_EMBED_BATCH). */
  readonly batchSize?: number;
  /** Store the validation embeddings in the cache entry too (default true; ~n·d·4 bytes). */
  readonly cacheEmbeddings?: boolean;
  /** Pseudo-count m of Ψ's shrinkage (default DEFAULT_SHRINKAGE). */
  readonly shrinkage?: number;
}

/** What this instance did: a browser test asserts "the second load computed nothing". */
export interface UniRouteCounters {
  validationPromptsEmbedded: number;
  profilesComputed: number;
  cacheHits: number;
  cacheRebuilds: { stale: number; corrupt: number; otherEmbedder: number };
  cacheWrites: number;
  storageFailures: number;
}

export interface ModelSummary {
  readonly id: string;
  readonly cost: number;
  readonly local: boolean;
  readonly origin: 'validation-set' | 'added';
  /** Mean error on the validation prompts. */
  readonly globalError: number;
}

/** The escalation rule of one local model (over it and every cloud model), or why there is none. */
export interface EscalationSummary {
  readonly localModelId: string;
  /** The rule the cross-validation chose, without its coefficients. */
  readonly rule?: Omit<EscalationRule, 'params'>;
  /** Why there is no rule: then a fixed confidence threshold decides escalations. */
  readonly unavailable?: string;
}

/** The pre-generation router of one pool (a local model and every cloud model), chosen by cross-validation. */
export interface PreRoutingSummary {
  /** The pool's local model (absent for a profile without one: the pool is then every model). */
  readonly localModelId?: string;
  readonly router: PreRouterName;
  /** Mean held-out deferral area of each candidate, and the folds; absent when too few prompts to choose (then UniRoute). */
  readonly cvAreas?: Readonly<Record<PreRouterName, number>>;
  readonly folds?: number;
  /** Why UniRoute was kept without a choice. */
  readonly note?: string;
}

export interface UniRouteSummary {
  readonly validationSet: string;
  readonly validationHash: string;
  readonly embedderId: string;
  readonly dimension: number;
  /** Requested K and the clusters k-means produced (fewer only with few distinct prompts). */
  readonly k: number;
  readonly clusters: number;
  readonly prompts: number;
  readonly gradablePrompts: number;
  readonly models: readonly ModelSummary[];
  readonly cacheKey: string;
  /** Per local model: the escalation rule chosen for it by cross-validation on the validation prompts. */
  readonly escalation: readonly EscalationSummary[];
  /** Per local model's pool: the router that predicts errors before generating. */
  readonly preRouting: readonly PreRoutingSummary[];
  /** 'hit': loaded from IndexedDB; 'computed': built now (and cached if storage worked); 'memory': no store. */
  readonly source: 'hit' | 'computed' | 'memory';
  readonly counters: UniRouteCounters;
  readonly lastStorageError?: string;
}

export interface AddModelInput {
  readonly id: string;
  /** USD per call. */
  readonly cost: number;
  /** On the user's device (cost must be 0). */
  readonly local?: boolean;
  /** Validation prompt id → quality in [0, 1]; prompts left out are skipped. */
  readonly scores: Readonly<Record<string, number>>;
}

export interface MeasureProgress {
  readonly done: number;
  readonly total: number;
  readonly correct: number;
}

/** One measured answer with the model's own confidence in it. */
export interface MeasuredAnswer {
  readonly text: string;
  readonly confidence?: { readonly score: number; readonly kind: string };
}

export interface MeasureModelInput {
  readonly id: string;
  readonly cost: number;
  readonly local?: boolean;
  /**
   * Runs the model on one prompt; should stop when `signal` fires. With the answer's confidence
   * (and its kind, e.g. 'mean-logprob'), the escalation rule of a local model is fitted on them.
   */
  readonly answer: (prompt: string, signal: AbortSignal) => Promise<string | MeasuredAnswer>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: MeasureProgress) => void;
  /** Prompts in flight at once (default 1: a local LLM answers one at a time). */
  readonly concurrency?: number;
}

export interface MeasureResult {
  readonly id: string;
  readonly total: number;
  readonly correct: number;
  readonly accuracy: number;
  /** Validation prompt id → 0 or 1. */
  readonly scores: Readonly<Record<string, number>>;
  /** Validation prompt id → the model's confidence in its answer, of `confidenceKind` (empty when none came with the answers). */
  readonly confidences: Readonly<Record<string, number>>;
  readonly confidenceKind?: string;
}

/** A decision with its two steps timed apart (performance.now, milliseconds). */
export interface TimedDecision extends Decision {
  /** P(k|x) of the prompt. */
  readonly clusterProbabilities: Float64Array;
  /** The router whose predictions `predictedErrors` are (chosen for this pool by cross-validation). */
  readonly preRouter: PreRouterName;
  /** UniRoute's Σ_k P(k|x)·Ψ_k(h) for every model: the escalation rule's feature (= predictedErrors under UniRoute). */
  readonly clusterErrors: Float64Array;
  /** Cluster assignment: P(k|x) from the embedding (nearest centroid). */
  readonly clusterMillis: number;
  /** Every model's predicted error, the argmin over the candidates and their ranking. */
  readonly decideMillis: number;
  /** The candidates, best first (see rankModels); ranking[0] is the decision. */
  readonly ranking: readonly RankedModel[];
  /** The escalation rule of the pool's one local model, when it has one. */
  readonly escalationRule?: EscalationRule;
}

/**
 * `pool` (indices into `models`) ordered best first by UniRoute's rule: repeatedly the argmin
 * of error + λ·cost among those left, with the decision's own tie-breaking (core route(): the
 * cheaper model, then the lower index; λ = Infinity: the cheapest, then the lower error). So
 * the first entry is always the decision, and the first cloud entry the best cloud model.
 * O(|pool|²), for a handful of models.
 */
export function rankModels(
  predictedErrors: ArrayLike<number>,
  models: readonly ModelSpec[],
  lambda: number,
  pool: readonly number[] = models.map((_, h) => h),
): RankedModel[] {
  const left = [...pool];
  const ranking: RankedModel[] = [];
  while (left.length > 0) {
    const i = routeIndex(
      left.map((h) => predictedErrors[h]!),
      left.map((h) => models[h]!),
      lambda,
    );
    const h = left.splice(i, 1)[0]!;
    const predictedError = predictedErrors[h]!;
    const { id, cost } = models[h]!;
    ranking.push({ id, predictedError, cost, objective: lambda === Infinity ? predictedError : predictedError + lambda * cost });
  }
  return ranking;
}

/** How a confidence kind is read: one ending in 'logprob' is a log-probability, any other as it is. */
export function confidenceScaleOf(kind: string): ConfidenceScale {
  return kind.endsWith('logprob') ? 'log-probability' : 'raw';
}

const NO_EMBEDDING = new Float32Array(0);

/** Everything a UniRouteState is made of, whether loaded or computed. */
interface StateParts {
  readonly set: ValidationSet;
  readonly hash: string;
  readonly key: string;
  readonly embedderId: string;
  readonly dimension: number;
  readonly k: number;
  readonly seed: number;
  readonly centroids: Float32Array[];
  readonly assignments: Int32Array;
  readonly embeddings: Float32Array | undefined;
  readonly models: CachedModel[];
  readonly featureVectors: Float64Array[];
  readonly globalErrors: number[];
  readonly shrinkage: number;
  readonly difficulty: DifficultyState;
}

function abortError(signal: AbortSignal | undefined, what: string): EdgeRouteError {
  return new EdgeRouteError('aborted', `${what} was aborted by the caller`, { cause: signal?.reason });
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

function resolveK(k: number | 'auto' | undefined, n: number): number {
  if (k === undefined || k === 'auto') return autoClusterCount(n);
  if (!Number.isInteger(k) || k < 1) {
    throw new EdgeRouteError('invalid-config', `k must be a whole number ≥ 1 or 'auto', got ${String(k)}`);
  }
  return k;
}

/** Embeds every validation prompt's text, in batches, checking what the embedder returns. */
async function embedValidation(
  embedder: Embedder,
  prompts: readonly ValidationPrompt[],
  batchSize: number,
  signal: AbortSignal | undefined,
  progress: (done: number) => void,
): Promise<Float32Array> {
  const d = embedder.dimension;
  const flat = new Float32Array(prompts.length * d);
  for (let start = 0; start < prompts.length; start += batchSize) {
    throwIfAborted(signal, 'preparing the router');
    const batch = prompts.slice(start, start + batchSize);
    let vectors: Embedding[];
    try {
      vectors = await embedder.embed(
        batch.map((p) => textForEmbedding(p.prompt)),
        signal ? { signal } : {},
      );
    } catch (error) {
      if (signal?.aborted || (isEmbedderError(error) && error.code === 'aborted')) throw abortError(signal, 'preparing the router');
      throw new EdgeRouteError('embedder-failed', `embedding validation prompts failed: ${(error as Error).message}`, { cause: error });
    }
    if (vectors.length !== batch.length) {
      throw new EdgeRouteError('embedder-failed', `embedder ${embedder.id} returned ${vectors.length} vectors for ${batch.length} texts`);
    }
    vectors.forEach((v, i) => {
      if (v.length !== d || !v.every(Number.isFinite)) {
        throw new EdgeRouteError(
          'embedder-failed',
          `embedder ${embedder.id} returned a bad vector for prompt "${batch[i]!.id}" (length ${v.length}, expected ${d} finite values)`,
        );
      }
      flat.set(v, (start + i) * d);
    });
    progress(Math.min(prompts.length, start + batchSize));
  }
  return flat;
}

function rows(flat: Float32Array, d: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let o = 0; o < flat.length; o += d) out.push(flat.subarray(o, o + d));
  return out;
}

/** The cluster of each prompt: the hard map's P(k|x) is one-hot. */
function assignmentsOf(profile: UniRouteProfile, n: number): Int32Array {
  const K = profile.clusterMap.numClusters;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) if (profile.validationProbabilities[i * K + k] === 1) out[i] = k;
  }
  return out;
}

/** Core profile from stored parts: no embeddings needed, P(k|x) comes from the assignments. */
function profileFromParts(p: StateParts): UniRouteProfile {
  const clusterMap = hardClusterMap(p.centroids);
  const K = clusterMap.numClusters;
  const n = p.set.prompts.length;
  const validationProbabilities = new Float64Array(n * K);
  p.assignments.forEach((c, i) => {
    validationProbabilities[i * K + c] = 1;
  });
  return {
    clusterMap,
    models: p.models.map((m) => ({ id: m.id, cost: m.cost })),
    featureVectors: p.featureVectors,
    globalErrors: p.globalErrors,
    shrinkage: p.shrinkage,
    validationIds: p.set.prompts.map((x) => x.id),
    validationProbabilities,
  };
}

export class UniRouteState {
  readonly counters: UniRouteCounters = {
    validationPromptsEmbedded: 0,
    profilesComputed: 0,
    cacheHits: 0,
    cacheRebuilds: { stale: 0, corrupt: 0, otherEmbedder: 0 },
    cacheWrites: 0,
    storageFailures: 0,
  };

  private parts: StateParts;
  private profile: UniRouteProfile;
  private router: UniRouteRouter;
  private source: UniRouteSummary['source'] = 'memory';
  private lastStorageError: string | undefined;
  private readonly store: KvStore | undefined;
  /** Escalation rules by local model and pool (or why there is none); cleared when a model joins. */
  private readonly rules = new Map<string, EscalationRule | string>();
  /** One-hot P(k|x) of each validation prompt, from its cached cluster. */
  private readonly validationProbabilities: readonly Float64Array[];
  /** The universal-difficulty router's [a, b, c_1 … c_K] per model (models order), fitted on the prompts' out-of-fold easiness. */
  private difficultyCoefficients: number[][];
  /** Pre-generation router by pool (or why UniRoute was kept without a choice); cleared when a model joins. */
  private readonly preRouters = new Map<string, PreRouterChoice | string>();

  private constructor(parts: StateParts, store: KvStore | undefined) {
    this.parts = parts;
    this.store = store;
    this.profile = profileFromParts(parts);
    this.router = new UniRouteRouter(this.profile, 'uniroute-kmeans');
    const K = this.profile.clusterMap.numClusters;
    this.validationProbabilities = Array.from(parts.assignments, (c) => {
      const p = new Float64Array(K);
      p[c] = 1;
      return p;
    });
    this.difficultyCoefficients = parts.models.map((_, h) => this.fitDifficultyCoefficients(h));
  }

  /** Model h's scores in prompt order (NaN: not scored). */
  private scoreRow(h: number): Float64Array {
    const m = this.parts.models[h]!;
    if (m.origin === 'added') return m.scores ?? new Float64Array(this.parts.set.prompts.length).fill(NaN);
    return Float64Array.from(this.parts.set.prompts, (x) => x.scores[m.id] ?? NaN);
  }

  private fitDifficultyCoefficients(h: number): number[] {
    return fitDifficultyCoefficients(this.parts.difficulty.easiness, this.validationProbabilities, this.scoreRow(h));
  }

  /**
   * The router that predicts errors for `pool` before generating: UniRoute unless the
   * cross-validation on the validation prompts prefers the universal-difficulty router beyond one
   * standard error (core/router-choice.ts). Chosen once per pool.
   */
  preRouter(pool: readonly number[]): PreRouterChoice | string {
    const key = pool.join(',');
    const known = this.preRouters.get(key);
    if (known !== undefined) return known;
    let choice: PreRouterChoice | string;
    if (pool.length < 2) choice = 'a single candidate needs no router';
    else {
      choice =
        choosePreRouter({
          assignments: this.parts.assignments,
          clusters: this.profile.clusterMap.numClusters,
          models: pool.map((h) => this.profile.models[h]!),
          scores: pool.map((h) => this.scoreRow(h)),
          shrinkage: this.parts.shrinkage,
          difficulty: this.parts.difficulty,
        }) ?? `fewer than ${MIN_PRE_ROUTER_EVIDENCE} validation prompts in a held half carry a score of every candidate`;
    }
    this.preRouters.set(key, choice);
    return choice;
  }

  private preRouterName(pool: readonly number[]): PreRouterName {
    const choice = this.preRouter(pool);
    return typeof choice === 'string' ? 'uniroute-kmeans' : choice.name;
  }

  /** Loads the cached state for this embedder and validation set, or computes and caches it. */
  static async prepare(options: PrepareOptions): Promise<UniRouteState> {
    const { embedder, store, signal, onProgress } = options;
    const set = validateValidationSet(options.validationSet);
    const n = set.prompts.length;
    const k = resolveK(options.k, n);
    const seed = options.seed ?? DEFAULT_KMEANS_SEED;
    const hash = await validationSetHash(set);
    const ids = { embedderId: embedder.id, validationHash: hash, k };
    const key = profileKey(ids);
    const expect: ProfileExpectation = { ...ids, dimension: embedder.dimension, seed, promptCount: n, models: set.models };
    const storageFailures: string[] = [];
    const rebuilds = { stale: 0, corrupt: 0, otherEmbedder: 0 };
    throwIfAborted(signal, 'preparing the router');

    if (store) {
      onProgress?.({ phase: 'cache', done: 0, total: 1 });
      try {
        const read = await readProfileEntry(store, key, expect);
        if (read.status === 'hit') {
          const state = new UniRouteState(UniRouteState.partsFromEntry(set, hash, key, read.entry), store);
          state.counters.cacheHits = 1;
          state.source = 'hit';
          onProgress?.({ phase: 'ready', done: 1, total: 1 });
          return state;
        }
        // An unusable entry (or one left by an older schema / another embedder) is replaced.
        const replaced = read.status === 'missing' ? await findSupersededEntries(store, ids) : [{ key, status: read.status }];
        for (const r of replaced) {
          if (r.status === 'stale') rebuilds.stale = 1;
          else if (r.status === 'corrupt') rebuilds.corrupt = 1;
          else rebuilds.otherEmbedder = 1;
          await deleteProfileEntry(store, r.key);
        }
      } catch (error) {
        if (!isStorageError(error)) throw error;
        storageFailures.push(error.message);
      }
    }

    const batchSize = options.batchSize ?? DEFAULT_EMBED_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new EdgeRouteError('invalid-config', `batchSize must be a whole number ≥ 1, got ${batchSize}`);
    onProgress?.({ phase: 'embedding', done: 0, total: n });
    const flat = await embedValidation(embedder, set.prompts, batchSize, signal, (done) => onProgress?.({ phase: 'embedding', done, total: n }));
    throwIfAborted(signal, 'preparing the router');

    onProgress?.({ phase: 'clustering', done: 0, total: 1 });
    const vectors = rows(flat, embedder.dimension);
    const { centroids } = kmeans(vectors, { k, seed });
    onProgress?.({ phase: 'profile', done: 0, total: 1 });
    const shrinkage = options.shrinkage ?? DEFAULT_SHRINKAGE;
    const validation: LabelledPrompt[] = set.prompts.map((p, i) => ({ id: p.id, embedding: vectors[i]!, scores: p.scores }));
    const profile = buildProfile({ validation, models: set.models, clusterMap: hardClusterMap(centroids), shrinkage });
    const map = profile.clusterMap as ReturnType<typeof hardClusterMap>;
    // e(x)'s target: the set's own models' mean score on each prompt (models added later are the unseen ones).
    const difficulty = fitDifficultyState(vectors, meanSeenScore(validation, set.models), PRE_ROUTER_CV);

    const state = new UniRouteState(
      {
        set,
        hash,
        key,
        embedderId: embedder.id,
        dimension: embedder.dimension,
        k,
        seed,
        centroids: [...map.centroids],
        assignments: assignmentsOf(profile, n),
        embeddings: options.cacheEmbeddings === false ? undefined : flat,
        models: set.models.map((m) => ({ id: m.id, cost: m.cost, local: m.local === true, origin: 'validation-set' })),
        featureVectors: [...profile.featureVectors],
        globalErrors: [...profile.globalErrors],
        shrinkage,
        difficulty,
      },
      store,
    );
    state.counters.validationPromptsEmbedded = n;
    state.counters.profilesComputed = 1;
    state.counters.cacheRebuilds = rebuilds;
    state.counters.storageFailures = storageFailures.length;
    state.lastStorageError = storageFailures[storageFailures.length - 1];
    state.source = store ? 'computed' : 'memory';
    await state.persist();
    onProgress?.({ phase: 'ready', done: 1, total: 1 });
    return state;
  }

  private static partsFromEntry(set: ValidationSet, hash: string, key: string, e: ProfileEntry): StateParts {
    return {
      set,
      hash,
      key,
      embedderId: e.embedderId,
      dimension: e.dimension,
      k: e.k,
      seed: e.seed,
      centroids: e.centroids,
      assignments: e.validationAssignments,
      embeddings: e.validationEmbeddings,
      models: e.models,
      featureVectors: e.featureVectors,
      globalErrors: e.globalErrors,
      shrinkage: e.shrinkage,
      difficulty: e.difficulty,
    };
  }

  private toEntry(): ProfileEntry {
    const p = this.parts;
    return {
      schemaVersion: PROFILE_SCHEMA_VERSION,
      embedderId: p.embedderId,
      validationHash: p.hash,
      dimension: p.dimension,
      k: p.k,
      seed: p.seed,
      centroids: p.centroids,
      validationAssignments: p.assignments,
      ...(p.embeddings ? { validationEmbeddings: p.embeddings } : {}),
      models: p.models,
      featureVectors: p.featureVectors,
      globalErrors: p.globalErrors,
      shrinkage: p.shrinkage,
      difficulty: p.difficulty,
      createdAt: Date.now(),
    };
  }

  /** Writes the current state; a refusing store is noted and routing goes on in memory. */
  private async persist(): Promise<void> {
    if (!this.store) return;
    try {
      await writeProfileEntry(this.store, this.parts.key, this.toEntry());
      this.counters.cacheWrites++;
    } catch (error) {
      if (!isStorageError(error)) throw error;
      this.counters.storageFailures++;
      this.lastStorageError = error.message;
    }
  }

  /** Models in the order of every per-model vector. */
  get models(): readonly ModelSummary[] {
    return this.parts.models.map((m, h) => ({
      id: m.id,
      cost: m.cost,
      local: m.local,
      origin: m.origin,
      globalError: this.parts.globalErrors[h]!,
    }));
  }

  get validationSet(): ValidationSet {
    return this.parts.set;
  }

  private checkEmbedding(embedding: Embedding): void {
    const d = this.parts.dimension;
    if (!(embedding instanceof Float32Array) && !ArrayBuffer.isView(embedding)) {
      throw new EdgeRouteError('invalid-input', 'embedding must be a Float32Array');
    }
    if (embedding.length !== d || !embedding.every(Number.isFinite)) {
      throw new EdgeRouteError(
        'invalid-input',
        `embedding must hold ${d} finite numbers (the embedder ${this.parts.embedderId}), got length ${embedding.length}`,
      );
    }
  }

  /** P(k|x): one-hot on the nearest centroid. */
  clusterProbabilities(embedding: Embedding): Float64Array {
    this.checkEmbedding(embedding);
    return this.profile.clusterMap.probabilities(embedding);
  }

  /** Predicted error Σ_k P(k|x)·Ψ_k(h), by model id. */
  predictErrors(embedding: Embedding): Record<string, number> {
    this.checkEmbedding(embedding);
    return this.byModelId(this.router.predictErrors({ embedding }));
  }

  /** Indices of `candidates` in models order; all models when absent. */
  private candidateIndices(candidates: readonly string[] | undefined): number[] {
    const all = this.parts.models.map((_, h) => h);
    if (candidates === undefined) return all;
    const out = candidates.map((id) => {
      const h = this.parts.models.findIndex((m) => m.id === id);
      if (h < 0) throw new EdgeRouteError('invalid-input', `unknown model "${id}"; known: ${this.parts.models.map((m) => m.id).join(', ')}`);
      return h;
    });
    if (out.length === 0) throw new EdgeRouteError('invalid-input', 'candidates is empty: name at least one model');
    return [...new Set(out)].sort((a, b) => a - b);
  }

  /**
   * argmin_h [ predictedError_h(x) + λ·cost(h) ] over `candidates` (default: every model), e.g.
   * only the local model that is actually loaded and the cloud models the page can call.
   * `modelIndex` and `predictedErrors` refer to `models` (all of them).
   */
  decide(embedding: Embedding, lambda: number, candidates?: readonly string[]): Decision {
    const {
      clusterProbabilities: _p,
      clusterMillis: _c,
      decideMillis: _d,
      ranking: _r,
      preRouter: _n,
      clusterErrors: _e,
      ...decision
    } = this.decideTimed(embedding, lambda, candidates);
    return decision;
  }

  /**
   * decide(), also returning P(k|x), the ranking of the candidates and the time of each step: the worker reports them so a
   * page (and the performance benchmark) sees where routing time goes. Input checks are not timed.
   */
  decideTimed(embedding: Embedding, lambda: number, candidates?: readonly string[]): TimedDecision {
    this.checkEmbedding(embedding);
    if (!(lambda >= 0)) throw new EdgeRouteError('invalid-input', `lambda must be ≥ 0 (Infinity allowed), got ${lambda}`);
    const pool = this.candidateIndices(candidates);
    // Chosen once per pool (a first route of a new pool fits it here, ~0.1 s in a page): not part of a decision's time.
    const preRouter = this.preRouterName(pool);
    const t0 = performance.now();
    const clusterProbabilities = this.profile.clusterMap.probabilities(embedding);
    const t1 = performance.now();
    const clusterErrors = expectedErrors(clusterProbabilities, this.profile.featureVectors);
    let predictedErrors = clusterErrors;
    if (preRouter === 'irt-difficulty') {
      const e = easinessOf(this.parts.difficulty.weights, embedding);
      predictedErrors = Float64Array.from(this.difficultyCoefficients, (c) => difficultyError(c, e, clusterProbabilities));
    }
    const sub = decideRoute(
      Float64Array.from(pool, (h) => predictedErrors[h]!),
      pool.map((h) => this.profile.models[h]!),
      lambda,
    );
    const ranking = rankModels(predictedErrors, this.profile.models, lambda, pool);
    const t2 = performance.now();
    const locals = pool.filter((h) => this.parts.models[h]!.local);
    const rule = locals.length === 1 && pool.length > 1 ? this.escalationRule(locals[0]!, pool) : undefined;
    return {
      ...sub,
      modelIndex: pool[sub.modelIndex]!,
      predictedErrors,
      clusterProbabilities,
      preRouter,
      clusterErrors,
      clusterMillis: t1 - t0,
      decideMillis: t2 - t1,
      ranking,
      ...(typeof rule === 'object' ? { escalationRule: rule } : {}),
    };
  }

  /** The local model's own confidences on the validation prompts (prompt order, NaN = none) and their kind, or why there are none. */
  private localConfidences(h: number): { values: Float64Array; kind: string } | string {
    const m = this.parts.models[h]!;
    if (m.origin === 'added') {
      return m.confidences && m.confidenceKind
        ? { values: m.confidences, kind: m.confidenceKind }
        : `${m.id} joined without its confidences on the validation prompts (measureLocalModel records them)`;
    }
    const values = Float64Array.from(this.parts.set.prompts, (p) => p.confidences?.[m.id] ?? NaN);
    if (values.every(Number.isNaN)) return `the validation set records no confidence of ${m.id}`;
    const kind = this.parts.set.models.find((x) => x.id === m.id)?.confidenceKind;
    if (kind === undefined) return `the validation set records confidences of ${m.id} but not what they measure (its model's "confidenceKind")`;
    return { values, kind };
  }

  /**
   * The escalation rule of local model `h` over `pool` (it and the cloud models), chosen by the
   * benchmark's cross-validation on the validation prompts and fitted once per pool; or why
   * there is none. Uses the cached cluster of each prompt: no embedding.
   */
  escalationRule(h: number, pool: readonly number[]): EscalationRule | string {
    const models = pool.filter((i) => i === h || !this.parts.models[i]!.local);
    const key = `${h}:${models.join(',')}`;
    const known = this.rules.get(key);
    if (known !== undefined) return known;
    const local = this.parts.models[h]!;
    const confidences = this.localConfidences(h);
    let rule: EscalationRule | string;
    if (typeof confidences === 'string') rule = confidences;
    else if (models.length < 2) rule = 'there is no cloud model to escalate to';
    else {
      const evidence: EvidencePrompt[] = this.parts.set.prompts.map((x, i) => {
        const c = confidences.values[i]!;
        return {
          id: x.id,
          embedding: NO_EMBEDDING,
          probabilities: this.validationProbabilities[i]!,
          scores: this.scoresOf(x, i),
          confidences: Number.isNaN(c) ? {} : { [local.id]: c },
        };
      });
      rule =
        fitEscalationRule(evidence, {
          models: models.map((i) => this.profile.models[i]!),
          localModelId: local.id,
          shrinkage: this.parts.shrinkage,
          confidenceKind: confidences.kind,
          scale: confidenceScaleOf(confidences.kind),
        }) ?? `fewer than ${MIN_ESCALATION_EVIDENCE} validation prompts carry both a score and a confidence of ${local.id}`;
    }
    this.rules.set(key, rule);
    return rule;
  }

  /** Each local model's rule over it and every cloud model. */
  private escalationSummaries(): EscalationSummary[] {
    const all = this.parts.models.map((_, h) => h);
    return this.parts.models.flatMap((m, h): EscalationSummary[] => {
      if (!m.local) return [];
      const rule = this.escalationRule(h, all);
      if (typeof rule === 'string') return [{ localModelId: m.id, unavailable: rule }];
      const { params: _params, ...shown } = rule;
      return [{ localModelId: m.id, rule: shown }];
    });
  }

  /** The pre-generation router of each local model's pool (it and every cloud model); of all models without a local one. */
  private preRoutingSummaries(): PreRoutingSummary[] {
    const models = this.parts.models;
    const locals = models.flatMap((m, h) => (m.local ? [h] : []));
    const pools = locals.length > 0 ? locals.map((l) => models.flatMap((m, h) => (h === l || !m.local ? [h] : []))) : [models.map((_, h) => h)];
    return pools.map((pool, j) => {
      const choice = this.preRouter(pool);
      const local = locals[j] !== undefined ? { localModelId: models[locals[j]!]!.id } : {};
      if (typeof choice === 'string') return { ...local, router: 'uniroute-kmeans' as const, note: choice };
      return { ...local, router: choice.name, cvAreas: choice.cvAreas, folds: choice.folds };
    });
  }

  /** Per-model values (in `models` order) keyed by model id. */
  byModelId(values: ArrayLike<number>): Record<string, number> {
    return Object.fromEntries(this.parts.models.map((m, h) => [m.id, values[h]!]));
  }

  /**
   * λ meeting `target` on the validation prompts (cloud share, budget or quality floor), over
   * `candidates` (default: every model), with the predictions of the pool's pre-generation router
   * (the universal-difficulty router's from each prompt's out-of-fold easiness: what a prompt it
   * was not fitted on gets). Uses the cached cluster of each prompt: no embedding.
   */
  calibrateLambda(target: CalibrationTarget, candidates?: readonly string[]): LambdaCalibration {
    const pool = this.candidateIndices(candidates);
    const p = this.parts;
    const models: ModelSpec[] = pool.map((h) => this.profile.models[h]!);
    const predicted =
      this.preRouterName(pool) === 'irt-difficulty'
        ? this.validationProbabilities.map((q, i) =>
            Float64Array.from(pool, (h) => difficultyError(this.difficultyCoefficients[h]!, p.difficulty.easiness[i]!, q)),
          )
        : Array.from(p.assignments, (c) => Float64Array.from(pool, (h) => p.featureVectors[h]![c]!));
    const validation: LabelledPrompt[] = p.set.prompts.map((x, i) => ({
      id: x.id,
      // Not read by the calibration: predictions are given; kept only to fit LabelledPrompt.
      embedding: new Float32Array(0),
      scores: this.scoresOf(x, i),
      ...(x.confidences ? { confidences: x.confidences } : {}),
    }));
    const defaults: CalibrationTarget =
      target.kind === 'cloudShare' && target.isCloud === undefined ? { ...target, isCloud: (m) => !p.models.find((c) => c.id === m.id)!.local } : target;
    return calibrateLambdaFromPredictions(predicted, validation, models, defaults);
  }

  /** Scores of prompt i: the set's, plus those of added models. */
  private scoresOf(prompt: ValidationPrompt, i: number): Record<string, number> {
    const out: Record<string, number> = { ...prompt.scores };
    for (const m of this.parts.models) {
      const s = m.scores?.[i];
      if (s !== undefined && !Number.isNaN(s)) out[m.id] = s;
    }
    return out;
  }

  private checkNewModel(id: string, cost: number, local: boolean | undefined): void {
    if (typeof id !== 'string' || id.length === 0) throw new EdgeRouteError('invalid-input', 'a model needs a non-empty id');
    if (this.parts.models.some((m) => m.id === id)) {
      throw new EdgeRouteError('invalid-input', `model "${id}" is already in the profile`);
    }
    if (!(Number.isFinite(cost) && cost >= 0))
      throw new EdgeRouteError('invalid-input', `model "${id}": cost must be a finite number ≥ 0 (USD per call), got ${cost}`);
    if (local === true && cost !== 0) throw new EdgeRouteError('invalid-input', `model "${id}" is local, so its cost must be 0, got ${cost}`);
  }

  /**
   * Adds a model from its scores on the validation prompts (UniRoute's addModel: no retraining,
   * no embedding) and persists the state. Returns the new model's summary.
   */
  async addModel(input: AddModelInput, measured?: { readonly confidences: Float64Array; readonly confidenceKind: string }): Promise<ModelSummary> {
    const { id, cost, local } = input;
    this.checkNewModel(id, cost, local);
    const prompts = this.parts.set.prompts;
    const index = new Map(prompts.map((p, i) => [p.id, i]));
    const scores = new Float64Array(prompts.length).fill(NaN);
    for (const [promptId, s] of Object.entries(input.scores)) {
      const i = index.get(promptId);
      if (i === undefined) throw new EdgeRouteError('invalid-input', `model "${id}": score for unknown validation prompt "${promptId}"`);
      if (typeof s !== 'number' || !(s >= 0 && s <= 1))
        throw new EdgeRouteError('invalid-input', `model "${id}": score ${String(s)} on "${promptId}" is not in [0, 1]`);
      scores[i] = s;
    }
    if (scores.every(Number.isNaN)) throw new EdgeRouteError('invalid-input', `model "${id}": no scores on validation prompts`);
    const profile = addModelToProfile(this.profile, id, cost, scores);
    const h = profile.models.length - 1;
    this.parts = {
      ...this.parts,
      models: [...this.parts.models, { id, cost, local: local === true, origin: 'added', scores, ...(measured ?? {}) }],
      featureVectors: [...this.parts.featureVectors, profile.featureVectors[h]!],
      globalErrors: [...this.parts.globalErrors, profile.globalErrors[h]!],
    };
    this.profile = profile;
    this.router = new UniRouteRouter(profile, 'uniroute-kmeans');
    this.difficultyCoefficients = [...this.difficultyCoefficients, this.fitDifficultyCoefficients(h)];
    this.rules.clear();
    this.preRouters.clear();
    await this.persist();
    return this.models[h]!;
  }

  /**
   * Runs a model on the gradable validation prompts, grades each answer (the prompt's grading
   * against its reference), then adds the model. Aborting rejects with EdgeRouteError('aborted')
   * at once and changes nothing; a failing `answer` rejects with 'measurement-failed'.
   */
  async measureModel(input: MeasureModelInput): Promise<MeasureResult> {
    const { id, cost, local, answer, signal, onProgress } = input;
    this.checkNewModel(id, cost, local);
    const concurrency = input.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new EdgeRouteError('invalid-input', `concurrency must be a whole number ≥ 1, got ${concurrency}`);
    const prompts = gradablePrompts(this.parts.set);
    if (prompts.length === 0) throw new EdgeRouteError('invalid-config', `validation set "${this.parts.set.name}" has no prompt with a reference and grading`);
    throwIfAborted(signal, `measuring ${id}`);

    // Our own controller: stops the other in-flight calls when one fails or the caller aborts.
    const inner = new AbortController();
    const onAbort = (): void => inner.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const stopped = new Promise<never>((_, reject) => {
      inner.signal.addEventListener('abort', () => reject(abortError(signal, `measuring ${id}`)), { once: true });
    });
    stopped.catch(() => undefined); // handled by the race below; avoid an unhandled rejection
    const scores: Record<string, number> = {};
    const confidences = new Map<string, { score: number; kind: string }>();
    let next = 0;
    let done = 0;
    let correct = 0;
    let failure: EdgeRouteError | undefined;
    const worker = async (): Promise<void> => {
      while (next < prompts.length && !inner.signal.aborted) {
        const p = prompts[next++]!;
        let reply: string | MeasuredAnswer;
        try {
          reply = await Promise.race([answer(p.prompt, inner.signal), stopped]);
        } catch (error) {
          if (inner.signal.aborted) return;
          failure = new EdgeRouteError(
            'measurement-failed',
            `model "${id}" failed on validation prompt "${p.id}": ${(error as Error)?.message ?? String(error)}`,
            { cause: error },
          );
          inner.abort(failure);
          return;
        }
        if (inner.signal.aborted) return;
        const text = typeof reply === 'string' ? reply : reply.text;
        if (typeof reply !== 'string' && reply.confidence && Number.isFinite(reply.confidence.score)) confidences.set(p.id, reply.confidence);
        const s = gradeAnswer(p.grading!, text, p.reference!);
        scores[p.id] = s;
        done++;
        correct += s;
        onProgress?.({ done, total: prompts.length, correct });
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, prompts.length) }, worker));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (failure) throw failure;
    if (signal?.aborted || inner.signal.aborted) throw abortError(signal, `measuring ${id}`);
    // One kind per model: the most common (an engine gives log-probabilities for every answer or none).
    const counts = new Map<string, number>();
    for (const c of confidences.values()) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
    const confidenceKind = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    const values = Float64Array.from(this.parts.set.prompts, (p) => {
      const c = confidences.get(p.id);
      return c && c.kind === confidenceKind ? c.score : NaN;
    });
    await this.addModel(
      { id, cost, ...(local !== undefined ? { local } : {}), scores },
      confidenceKind !== undefined ? { confidences: values, confidenceKind } : undefined,
    );
    return {
      id,
      total: prompts.length,
      correct,
      accuracy: correct / prompts.length,
      scores,
      confidences: Object.fromEntries([...confidences].filter(([, c]) => c.kind === confidenceKind).map(([promptId, c]) => [promptId, c.score])),
      ...(confidenceKind !== undefined ? { confidenceKind } : {}),
    };
  }

  /** A plain, structured-clone-safe summary for the page. */
  summary(): UniRouteSummary {
    const p = this.parts;
    return {
      validationSet: p.set.name,
      validationHash: p.hash,
      embedderId: p.embedderId,
      dimension: p.dimension,
      k: p.k,
      clusters: p.centroids.length,
      prompts: p.set.prompts.length,
      gradablePrompts: gradablePrompts(p.set).length,
      models: this.models,
      cacheKey: p.key,
      escalation: this.escalationSummaries(),
      preRouting: this.preRoutingSummaries(),
      source: this.source,
      counters: structuredClone(this.counters),
      ...(this.lastStorageError !== undefined ? { lastStorageError: this.lastStorageError } : {}),
    };
  }

  toJSON(): UniRouteSummary {
    return this.summary();
  }
}
