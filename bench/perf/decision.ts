/**
 * The routing decision alone, given an embedding: cluster assignment P(k|x), then
 * Σ_k P(k|x)·Ψ_k(h) for every model and argmin_h error + λ·cost. The profile is synthetic but
 * built with the real core functions (k-means, buildProfile, fitLearnedClusterMap), at the size
 * of a large deployment: 64 clusters, 16 models, 512-d embeddings (USE lite's width).
 *
 * Environment-neutral (performance.now only): Node runs it directly, the browser runs the same
 * code bundled (bench/perf/browser/probe.ts).
 */
import { fitDifficultyState, meanSeenScore } from '../../src/core/difficulty-router';
import { PRE_ROUTER_CV, choosePreRouter } from '../../src/core/router-choice';
import {
  buildProfile,
  createRng,
  DEFAULT_SHRINKAGE,
  decide,
  expectedErrors,
  fitLearnedClusterMap,
  hardClusterMap,
  kmeans,
  type ClusterMap,
  type Embedding,
  type LabelledPrompt,
  type ModelSpec,
  type Rng,
  type UniRouteProfile,
} from '../../research/index';
import { distribution, timerResolutionMillis, type Distribution } from './stats';

export interface DecisionBenchOptions {
  readonly clusters?: number;
  readonly models?: number;
  readonly dim?: number;
  /** Synthetic validation prompts per cluster (k-means and Ψ are computed from them). */
  readonly promptsPerCluster?: number;
  /** Individually timed decisions per cluster map. */
  readonly queries?: number;
  /** Total length of the three windows of the loop that gives routes per second. */
  readonly throughputMillis?: number;
  /** Adam steps for the learned map: its decision cost does not depend on how long it was fitted. */
  readonly learnedEpochs?: number;
  readonly seed?: number;
}

/** Per-call times in microseconds. */
export interface StepTimes {
  readonly cluster: Distribution;
  readonly decide: Distribution;
  readonly total: Distribution;
}

export interface MapBench {
  readonly map: string;
  /** Each call timed on its own. */
  readonly perCallMicros: StepTimes;
  /** Mean per call of blocks of BLOCK_CALLS calls. */
  readonly blockMicros: StepTimes;
  readonly blockCalls: number;
  /** Best of three windows of the throughput loop. */
  readonly routesPerSecond: number;
  readonly throughputCalls: number;
}

export interface DecisionBenchResult {
  readonly clusters: number;
  readonly models: number;
  readonly dim: number;
  readonly validationPrompts: number;
  readonly queries: number;
  readonly learnedEpochs: number;
  readonly setupMillis: { readonly kmeans: number; readonly profile: number; readonly learnedFit: number };
  /** Smallest step of performance.now() here: single calls are timed no finer than this. */
  readonly timerResolutionMicros: number;
  readonly maps: readonly MapBench[];
}

function unitNear(center: Float32Array, spread: number, rng: Rng): Embedding {
  const d = center.length;
  const v = new Float32Array(d);
  let s = 0;
  for (let j = 0; j < d; j++) {
    v[j] = center[j]! + (spread / Math.sqrt(d)) * rng.normal();
    s += v[j]! * v[j]!;
  }
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < d; j++) v[j] = v[j]! * inv;
  return v;
}

function randomUnit(d: number, rng: Rng): Float32Array {
  return unitNear(new Float32Array(d), 1, rng);
}

/** Calls per timed block: a block takes well over the browser's 5 µs clock step. */
export const BLOCK_CALLS = 16;

/**
 * Times the two steps, after a warm-up that lets the JIT compile them: each call on its own
 * (exact in Node; in a browser a step shorter than the clock's resolution reads 0 or one tick),
 * and in blocks of BLOCK_CALLS calls per step (the mean per call of each block).
 */
function timeCalls(
  map: ClusterMap,
  profile: UniRouteProfile,
  queries: readonly Embedding[],
  lambda: number,
): { single: StepTimes; blocks: StepTimes; sink: number } {
  const { featureVectors, models } = profile;
  let sink = 0;
  for (let i = 0; i < 500; i++) sink += decide(expectedErrors(map.probabilities(queries[i % queries.length]!), featureVectors), models, lambda).modelIndex;
  const single = { cluster: [] as number[], decide: [] as number[], total: [] as number[] };
  for (const x of queries) {
    const t0 = performance.now();
    const p = map.probabilities(x);
    const t1 = performance.now();
    sink += decide(expectedErrors(p, featureVectors), models, lambda).modelIndex;
    const t2 = performance.now();
    single.cluster.push((t1 - t0) * 1000);
    single.decide.push((t2 - t1) * 1000);
    single.total.push((t2 - t0) * 1000);
  }
  const blocks = { cluster: [] as number[], decide: [] as number[], total: [] as number[] };
  const p: Float64Array[] = new Array<Float64Array>(BLOCK_CALLS);
  for (let start = 0; start + BLOCK_CALLS <= queries.length; start += BLOCK_CALLS) {
    const t0 = performance.now();
    for (let i = 0; i < BLOCK_CALLS; i++) p[i] = map.probabilities(queries[start + i]!);
    const t1 = performance.now();
    for (let i = 0; i < BLOCK_CALLS; i++) sink += decide(expectedErrors(p[i]!, featureVectors), models, lambda).modelIndex;
    const t2 = performance.now();
    blocks.cluster.push(((t1 - t0) * 1000) / BLOCK_CALLS);
    blocks.decide.push(((t2 - t1) * 1000) / BLOCK_CALLS);
    blocks.total.push(((t2 - t0) * 1000) / BLOCK_CALLS);
  }
  const summary = (x: typeof single): StepTimes => ({ cluster: distribution(x.cluster), decide: distribution(x.decide), total: distribution(x.total) });
  return { single: summary(single), blocks: summary(blocks), sink };
}

/**
 * Routes per second of the whole decision in a loop without per-call clock reads; the best of
 * three windows, since other jobs on a shared machine only ever slow a window down.
 */
function throughput(
  map: ClusterMap,
  profile: UniRouteProfile,
  queries: readonly Embedding[],
  lambda: number,
  millis: number,
): { calls: number; perSecond: number; sink: number } {
  const { featureVectors, models } = profile;
  let sink = 0;
  let calls = 0;
  let best = 0;
  for (let window = 0; window < 3; window++) {
    let n = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < millis / 3) {
      for (let i = 0; i < 256; i++, n++) {
        sink += decide(expectedErrors(map.probabilities(queries[n % queries.length]!), featureVectors), models, lambda).modelIndex;
      }
      elapsed = performance.now() - started;
    }
    calls += n;
    best = Math.max(best, n / (elapsed / 1000));
  }
  return { calls, perSecond: best, sink };
}

export function runDecisionBench(options: DecisionBenchOptions = {}): DecisionBenchResult {
  const K = options.clusters ?? 64;
  const H = options.models ?? 16;
  const d = options.dim ?? 512;
  const perCluster = options.promptsPerCluster ?? 10;
  const nQueries = options.queries ?? 2000;
  const epochs = options.learnedEpochs ?? 20;
  const rng = createRng(options.seed ?? 7);

  // K well-separated topics; each model has its own accuracy per topic.
  const centers = Array.from({ length: K }, () => randomUnit(d, rng));
  const models: ModelSpec[] = Array.from({ length: H }, (_, h) => ({ id: `m${h}`, cost: h < 4 ? 0 : h * 1e-4 }));
  const accuracy = centers.map(() => models.map(() => 0.2 + 0.75 * rng.next()));
  const validation: LabelledPrompt[] = [];
  centers.forEach((c, k) => {
    for (let i = 0; i < perCluster; i++) {
      const scores: Record<string, number> = {};
      models.forEach((m, h) => {
        scores[m.id] = rng.next() < accuracy[k]![h]! ? 1 : 0;
      });
      validation.push({ id: `v${k}-${i}`, embedding: unitNear(c, 0.7, rng), scores });
    }
  });
  const queries = Array.from({ length: nQueries }, () => unitNear(centers[rng.int(K)]!, 0.7, rng));
  // λ where local and cloud models both win some prompts (cloud costs 4e-4 … 1.5e-3 USD per call).
  const lambda = 200;

  const t0 = performance.now();
  const km = kmeans(
    validation.map((x) => x.embedding),
    { k: K, seed: 0 },
  );
  const t1 = performance.now();
  const hard = buildProfile({ validation, models, clusterMap: hardClusterMap(km.centroids) });
  const t2 = performance.now();
  const fit = fitLearnedClusterMap({ centroids: km.centroids, training: validation, trainingModels: models, epochs });
  const soft = buildProfile({ validation, models, clusterMap: fit.map });
  const t3 = performance.now();

  let sink = 0;
  const maps: MapBench[] = [];
  for (const [name, profile] of [
    ['kmeans (hard)', hard],
    ['learned map (soft)', soft],
  ] as const) {
    const timed = timeCalls(profile.clusterMap, profile, queries, lambda);
    const loop = throughput(profile.clusterMap, profile, queries, lambda, options.throughputMillis ?? 900);
    sink += timed.sink + loop.sink;
    maps.push({
      map: name,
      perCallMicros: timed.single,
      blockMicros: timed.blocks,
      blockCalls: BLOCK_CALLS,
      routesPerSecond: loop.perSecond,
      throughputCalls: loop.calls,
    });
  }
  if (!Number.isFinite(sink)) throw new Error('decision benchmark: impossible sink value'); // keeps the work observable
  return {
    clusters: km.centroids.length,
    models: H,
    dim: d,
    validationPrompts: validation.length,
    queries: nQueries,
    learnedEpochs: epochs,
    setupMillis: { kmeans: t1 - t0, profile: t2 - t1, learnedFit: t3 - t2 },
    timerResolutionMicros: timerResolutionMillis() * 1000,
    maps,
  };
}

export interface ProfileFitBenchResult {
  readonly prompts: number;
  readonly models: number;
  readonly dim: number;
  readonly clusters: number;
  /** What a first visit without a cached profile computes after embedding, in ms. */
  readonly millis: { readonly kmeans: number; readonly psi: number; readonly easiness: number; readonly preRouterChoice: number };
  /** What the choice picked (synthetic data: easiness shows in the embedding, so the difficulty router should win). */
  readonly preRouter: string;
}

/**
 * The worker's first-visit fits at the shipped profile's size (400 validation prompts, 9 models,
 * 512-d, 14 clusters): k-means, Ψ, the universal-difficulty router's easiness (the ridge and its
 * six cross-validation halves) and the choice of pre-generation router for one pool. Synthetic
 * prompts: topics as clusters, and an easiness along one embedding direction that every model's
 * correctness follows.
 */
export function runProfileFitBench(seed = 11): ProfileFitBenchResult {
  const n = 400;
  const H = 9;
  const d = 512;
  const K = 14;
  const rng = createRng(seed);
  const topics = Array.from({ length: K }, () => randomUnit(d, rng));
  const direction = randomUnit(d, rng);
  const models: ModelSpec[] = Array.from({ length: H }, (_, h) => ({ id: `m${h}`, cost: h < 2 ? 0 : h * 1e-4 }));
  const bars = models.map((_, h) => 0.85 - (0.7 * h) / (H - 1));
  const prompts: LabelledPrompt[] = Array.from({ length: n }, (_, i) => {
    const t = rng.next();
    const e = unitNear(topics[i % K]!, 0.7, rng);
    for (let j = 0; j < d; j++) e[j] = e[j]! + 0.5 * (2 * t - 1) * direction[j]!;
    const scores = Object.fromEntries(models.map((m, h) => [m.id, t > bars[h]! !== rng.next() < 0.1 ? 1 : 0]));
    return { id: `p${i}`, embedding: e, scores };
  });
  const t0 = performance.now();
  const km = kmeans(
    prompts.map((x) => x.embedding),
    { k: K, seed: 0 },
  );
  const t1 = performance.now();
  const profile = buildProfile({ validation: prompts, models, clusterMap: hardClusterMap(km.centroids) });
  const t2 = performance.now();
  const difficulty = fitDifficultyState(
    prompts.map((x) => x.embedding),
    meanSeenScore(prompts, models),
    PRE_ROUTER_CV,
  );
  const t3 = performance.now();
  const map = hardClusterMap(km.centroids);
  const assignments = Int32Array.from(prompts, (x) => map.probabilities(x.embedding).indexOf(1));
  const pool = [models[0]!, ...models.slice(2)];
  const choice = choosePreRouter({
    assignments,
    clusters: km.centroids.length,
    models: pool,
    scores: pool.map((m) => Float64Array.from(prompts, (x) => x.scores[m.id]!)),
    shrinkage: DEFAULT_SHRINKAGE,
    difficulty,
  });
  const t4 = performance.now();
  if (profile.featureVectors.length !== H) throw new Error('profile fit benchmark: wrong number of feature vectors');
  return {
    prompts: n,
    models: H,
    dim: d,
    clusters: km.centroids.length,
    millis: { kmeans: t1 - t0, psi: t2 - t1, easiness: t3 - t2, preRouterChoice: t4 - t3 },
    preRouter: choice?.name ?? 'none (too few prompts)',
  };
}
