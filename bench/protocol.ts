/**
 * The evaluation protocol of the quality benchmark, for one set and one seed, following
 * UniRoute (Jitkrittum et al. 2025): a 60/10/30 split of prompts into train (clustering, learned
 * maps, predictive routers), validation (feature vectors, calibration, the choice of K) and test
 * (every number reported); for sets of more than two models also a split of models into seen
 * (their training scores may be used) and unseen (known only through the validation prompts).
 *
 * Pure: embedded prompts in, curves and metrics out. No I/O, so it is unit-tested on synthetic data.
 */
import {
  ConditionalHybridRouter,
  ConfidenceCascadeRouter,
  ConfidenceKnnRouter,
  ConfidenceMlpRouter,
  KnnRouter,
  MlpSufficiencyPredictor,
  OracleRouter,
  UniRouteRouter,
  apgr,
  buildProfile,
  clusterPriorHelps,
  cpt,
  createRng,
  DEFAULT_SHRINKAGE,
  deferralArea,
  evaluatePredictions,
  evaluateRouter,
  fitConditionalErrors,
  fitLearnedClusterMap,
  fitPlatt,
  hardClusterMap,
  kmeans,
  outOfFoldClusterErrors,
  predictAll,
  qnc,
  randomRouterCurve,
  singleModelPoints,
  strongShareCurve,
  validationMeanErrors,
  zeroRouterCurve,
  type ClusterMap,
  type ConditionalErrorSample,
  type ConfidenceScale,
  type DeferralCurve,
  type LabelledPrompt,
  type ModelSpec,
  type Router,
  type SufficiencyExample,
} from '../research/index';
import { splitModels, splitPrompts } from '../dev/data';

/** What the protocol needs to know about a set beyond its prompts. */
export interface SetSpec {
  readonly name: string;
  /** The pool, with cost per call (USD); a local model has cost 0. */
  readonly models: readonly ModelSpec[];
  /** Two-model metrics (APGR, CPT) are computed for this pair when given. */
  readonly pair?: { readonly weak: string; readonly strong: string };
  /** The on-device model of a cascade block: cost 0, its own confidence recorded per prompt. */
  readonly localModel?: string;
  /** What the local model's recorded confidence is (see ConfidenceScale); default 'raw'. */
  readonly confidenceScale?: ConfidenceScale;
  /** Prompts with the same key land in the same split (MT-Bench's two turns of one question). */
  readonly groupKey?: (prompt: LabelledPrompt) => string;
}

export interface ProtocolOptions {
  readonly seed: number;
  /** Split fractions train/validation/test. */
  readonly fractions?: readonly [number, number, number];
  /** Candidate numbers of clusters; K is picked on validation data among those that fit. */
  readonly clusterCandidates?: readonly number[];
  /** Share of models whose training scores may be used (multi-model sets). */
  readonly seenModelShare?: number;
  /** Caps that keep the 2-core budget: training prompts for the learned map and the predictive routers. */
  readonly maxLearnedMapTraining?: number;
  readonly maxPredictiveTraining?: number;
  readonly knnNeighbours?: number;
}

export interface RouterResult {
  readonly curve: DeferralCurve;
  readonly area: number;
  readonly qnc: number;
  /** Two-model metrics on `pair` (the router rebuilt on just those two models). */
  readonly apgr?: number;
  readonly cpt50?: number;
  readonly cpt80?: number;
}

export interface SeedResult {
  readonly seed: number;
  readonly clusters: number;
  /** Validation area of each candidate K (2-fold within validation), for the report. */
  readonly clusterSelection: Readonly<Record<string, number>>;
  readonly seenModels: readonly string[];
  readonly unseenModels: readonly string[];
  readonly sizes: { readonly train: number; readonly validation: number; readonly test: number };
  readonly singleModels: readonly { readonly modelId: string; readonly cost: number; readonly quality: number }[];
  readonly maxCost: number;
  readonly routers: Readonly<Record<string, RouterResult>>;
  readonly millis: number;
}

const DEFAULTS = {
  fractions: [0.6, 0.1, 0.3] as const,
  clusterCandidates: [1, 2, 4, 8, 16, 32, 64],
  seenModelShare: 0.6,
  maxLearnedMapTraining: 3000,
  maxPredictiveTraining: 5000,
  knnNeighbours: 10,
};

function subsample<T>(items: readonly T[], max: number, seed: number): T[] {
  if (items.length <= max) return [...items];
  return createRng(seed ^ 0xa11ce).shuffle([...items]).slice(0, max);
}

function maxCostOf(models: readonly ModelSpec[]): number {
  return Math.max(...models.map((m) => m.cost));
}

/**
 * The prompts whose scores define feature vectors: validation prompts for every model, plus the
 * training prompts for seen models only (their scores there are known at training time). An
 * unseen model is thus represented through the validation prompts alone, as in UniRoute.
 */
function featureEvidence(train: readonly LabelledPrompt[], validation: readonly LabelledPrompt[], seen: readonly ModelSpec[]): LabelledPrompt[] {
  const seenIds = seen.map((m) => m.id);
  const seenOnly = train.map((x) => ({
    ...x,
    scores: Object.fromEntries(seenIds.filter((id) => x.scores[id] !== undefined).map((id) => [id, x.scores[id]!])),
  }));
  return [...validation, ...seenOnly];
}

/**
 * K by repeated 2-fold cross-validation inside the validation split: feature vectors from the
 * training evidence plus one half, the deferral area of hard-assignment UniRoute on the other
 * half, over `repeats` random halvings. Test prompts are never looked at.
 * The one-standard-error rule picks the smallest K whose fold-wise (paired) shortfall against
 * the best K is within one standard error: a few hundred validation prompts cannot tell large K
 * apart, and a larger K than the data support only adds noise to Ψ.
 */
function chooseClusters(
  train: readonly LabelledPrompt[], validation: readonly LabelledPrompt[], models: readonly ModelSpec[],
  seen: readonly ModelSpec[], candidates: readonly number[], seed: number, repeats = 3,
): { k: number; centroids: Float32Array[]; scores: Record<string, number> } {
  const folds: [LabelledPrompt[], LabelledPrompt[]][] = [];
  for (let r = 0; r < repeats; r++) {
    const halves = splitPrompts(validation, (seed ^ 0xc1) + 7919 * r, [0.5, 0.5, 0]);
    if (halves.train.length > 0 && halves.validation.length > 0) folds.push([halves.train, halves.validation], [halves.validation, halves.train]);
  }
  const maxCost = maxCostOf(models);
  // A cluster should hold ~10 training prompts on average, else its centroid is noise.
  const usable = [...new Set(candidates.filter((k) => k === 1 || k * 10 <= train.length))].sort((a, b) => a - b);
  const tried = (usable.length > 0 ? usable : [1]).map((k) => {
    const { centroids } = kmeans(train.map((x) => x.embedding), { k, seed });
    const map = hardClusterMap(centroids);
    const areas = folds.map(([fit, held]) => deferralArea(
      evaluateRouter(new UniRouteRouter(buildProfile({ validation: featureEvidence(train, fit, seen), models, clusterMap: map })), held),
      maxCost,
    ));
    return { k, centroids, areas, mean: areas.reduce((a, b) => a + b, 0) / Math.max(1, areas.length) };
  });
  const best = tried.reduce((a, b) => (b.mean > a.mean + 1e-12 ? b : a));
  const chosen = tried.find((t) => {
    const d = t.areas.map((v, i) => v - best.areas[i]!);
    const mean = d.reduce((a, b) => a + b, 0) / Math.max(1, d.length);
    const se = d.length > 1 ? Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1) / d.length) : 0;
    return mean + se >= 0;
  }) ?? best;
  return { k: chosen.k, centroids: chosen.centroids, scores: Object.fromEntries(tried.map((t) => [String(t.k), t.mean])) };
}

/** Builds a router over a given pool: the full pool for the area, the weak/strong pair for APGR/CPT. */
type RouterFactory = (pool: readonly ModelSpec[]) => Router;

function pairMetrics(
  curve: DeferralCurve, test: readonly LabelledPrompt[], pool: readonly ModelSpec[], pair: { weak: string; strong: string },
): { apgr: number; cpt50: number; cpt80: number } {
  const singles = singleModelPoints(test, pool);
  const q = (id: string): number => singles.find((s) => s.modelId === id)!.quality;
  const quals = { weakQuality: q(pair.weak), strongQuality: q(pair.strong) };
  const points = strongShareCurve(curve, pair.strong);
  return { apgr: apgr(points, quals), cpt50: cpt(points, quals, 0.5), cpt80: cpt(points, quals, 0.8) };
}

/** Runs every router and baseline on one seed of one set. */
export function runSeed(prompts: readonly LabelledPrompt[], spec: SetSpec, options: ProtocolOptions): SeedResult {
  const started = performance.now();
  const o = { ...DEFAULTS, ...options };
  const { seed } = o;
  const { train, validation, test } = splitPrompts(prompts, seed, o.fractions, spec.groupKey ? { groupKey: spec.groupKey } : {});
  const models = spec.models;
  // Two-model sets have no unseen model: both are needed to train anything. The local model of a
  // cascade block is always seen: it ships with the app, its training scores are known.
  const split = models.length > 2 ? splitModels(models, seed, o.seenModelShare) : { seen: [...models], unseen: [] };
  const isLocal = (m: ModelSpec): boolean => m.id === spec.localModel;
  const seen = [...split.seen, ...split.unseen.filter(isLocal)];
  const unseen = split.unseen.filter((m) => !isLocal(m));
  const evidence = featureEvidence(train, validation, seen);
  const maxCost = maxCostOf(models);
  const singles = singleModelPoints(test, models);
  const bestSingle = Math.max(...singles.map((s) => s.quality));

  const { k, centroids, scores } = chooseClusters(train, validation, models, seen, o.clusterCandidates, seed);
  const kmeansMap = hardClusterMap(centroids);
  const learned: ClusterMap = fitLearnedClusterMap({
    centroids,
    training: subsample(train, o.maxLearnedMapTraining, seed),
    trainingModels: seen,
  }).map;

  // The "weak" model of the confidence-driven routers: the pair's weak one, the local model, or
  // the cheapest; labels say whether its answer is as good as the strongest model's (on train).
  const weak = spec.localModel ?? spec.pair?.weak ?? [...models].sort((a, b) => a.cost - b.cost)[0]!.id;
  const strongest = spec.pair?.strong ?? bestOnTrain(train, models);
  const predictiveTrain = subsample(train, o.maxPredictiveTraining, seed);
  const examples: SufficiencyExample[] = predictiveTrain
    .filter((x) => x.scores[weak] !== undefined && x.scores[strongest] !== undefined)
    .map((x) => ({ embedding: x.embedding, suffices: x.scores[weak]! >= x.scores[strongest]! ? 1 : 0 }));
  // Trained once per seed, shared by the full-pool and the two-model routers.
  const mlp = MlpSufficiencyPredictor.train(examples, { seed });

  const factories: Record<string, RouterFactory> = {
    // k-NN on validation prompts only (the baseline as the papers define it): mixing in training
    // prompts where unseen models have no score would bias its neighbourhoods.
    knn: (pool) => KnnRouter.fromValidation(validation, pool, o.knnNeighbours),
    'uniroute-kmeans': (pool) => new UniRouteRouter(buildProfile({ validation: evidence, models: pool, clusterMap: kmeansMap }), 'uniroute-kmeans'),
    'uniroute-learned-map': (pool) => new UniRouteRouter(buildProfile({ validation: evidence, models: pool, clusterMap: learned }), 'uniroute-learned-map'),
    'confidence-knn': (pool) => new ConfidenceKnnRouter({ models: pool, weakModelId: weak, meanErrors: validationMeanErrors(evidence, pool), examples, k: o.knnNeighbours }),
    'confidence-mlp': (pool) => new ConfidenceMlpRouter({ models: pool, weakModelId: weak, meanErrors: validationMeanErrors(evidence, pool), predictor: mlp }),
    oracle: (pool) => new OracleRouter(test, pool),
  };
  if (spec.localModel) {
    const local = spec.localModel;
    // The local model ships with the app, so its confidences and correctness on training and
    // validation prompts are known: the calibrations below use them all.
    const known = (x: LabelledPrompt): boolean => Number.isFinite(x.confidences?.[local]) && x.scores[local] !== undefined;
    const calibration = [...train.filter(known), ...validation.filter(known)];
    const platt = fitPlatt(calibration.map((x) => x.confidences![local]!), calibration.map((x) => x.scores[local]!));
    factories['confidence-only'] = (pool) => new ConfidenceCascadeRouter({ models: pool, localModelId: local, calibrator: platt, meanErrors: validationMeanErrors(evidence, pool) });
    // Conditional hybrid (conditional-errors.ts): the local confidence conditions every model's
    // predicted error, each fitted on the prompts its Ψ is built from. The cloud models share one
    // slope on the confidence, from which each moves as far as its own prompts justify. The local
    // model's own cluster prior is kept only if it predicts its correctness beyond the confidence
    // on held-out training and validation prompts; the test uses k-means clusters for both maps,
    // since the learned map was fitted to those very prompts' labels and would pass it too easily.
    const cloud = models.filter((m) => m.id !== local).map((m) => m.id);
    const scale = spec.confidenceScale ?? 'raw';
    const samplesOf = (map: ClusterMap) => conditionalSamples(evidence, models, map, local);
    const kmeansSamples = samplesOf(kmeansMap);
    const priorTest = clusterPriorHelps(kmeansSamples[local]!, { scale });
    for (const [name, map] of [['hybrid-conditional-kmeans', kmeansMap], ['hybrid-conditional-learned-map', learned]] as const) {
      const profile = buildProfile({ validation: evidence, models, clusterMap: map });
      const psi = Object.fromEntries(models.map((m, h) => [m.id, profile.featureVectors[h]!]));
      const errorModel = fitConditionalErrors(map === kmeansMap ? kmeansSamples : samplesOf(map), {
        scale, groups: [cloud], confidenceOnly: priorTest.helps ? [] : [local],
      });
      factories[name] = (pool) => new ConditionalHybridRouter({ name, models: pool, clusterMap: map, psi, errorModel });
    }
  }

  const pairPool = spec.pair ? models.filter((m) => m.id === spec.pair!.weak || m.id === spec.pair!.strong) : undefined;
  const results: Record<string, RouterResult> = {};
  const record = (name: string, curve: DeferralCurve, pairCurve?: DeferralCurve): void => {
    results[name] = {
      curve,
      area: deferralArea(curve, maxCost),
      qnc: qnc(curve, bestSingle, maxCost),
      ...(spec.pair && pairCurve && pairPool ? pairMetrics(pairCurve, test, pairPool, spec.pair) : {}),
    };
  };

  record('random', randomRouterCurve(test, models, { seed }),
    pairPool ? randomRouterCurve(test, pairPool, { seed, cheapId: spec.pair!.weak, strongId: spec.pair!.strong }) : undefined);
  record('zero-router', zeroRouterCurve(test, models), pairPool ? zeroRouterCurve(test, pairPool) : undefined);
  // Every operating point is kept: thinning by index (the evaluator's default of 256) drops the
  // few points of a sparse stretch of λ, e.g. the whole stretch where a confidence router sends its
  // non-local prompts to one mid-priced model, and so under-states the area of routers whose
  // per-prompt errors give many breakpoints.
  const everyPoint = { maxPoints: Infinity };
  for (const [name, make] of Object.entries(factories)) {
    const full = make(models);
    const curve = evaluatePredictions(predictAll(full, test), test, models, undefined, everyPoint);
    const samePool = pairPool?.length === models.length;
    const pairCurve = pairPool ? (samePool ? curve : evaluateRouter(make(pairPool), test, undefined, everyPoint)) : undefined;
    record(name, curve, pairCurve);
  }
  return {
    seed,
    clusters: k,
    clusterSelection: scores,
    seenModels: seen.map((m) => m.id),
    unseenModels: unseen.map((m) => m.id),
    sizes: { train: train.length, validation: validation.length, test: test.length },
    singleModels: singles.map((s) => ({ modelId: s.modelId, cost: s.cost, quality: s.quality })),
    maxCost,
    routers: results,
    millis: performance.now() - started,
  };
}

/**
 * Per model, the prompts its Ψ is built from (`evidence` where it has a score), each with
 * UniRoute's prediction from Ψ built on the other folds and the local model's confidence there.
 */
function conditionalSamples(
  evidence: readonly LabelledPrompt[], models: readonly ModelSpec[], map: ClusterMap, local: string,
): Record<string, ConditionalErrorSample[]> {
  const probs = evidence.map((x) => map.probabilities(x.embedding));
  return Object.fromEntries(models.map((m) => {
    const errors = evidence.map((x) => (x.scores[m.id] === undefined ? NaN : 1 - x.scores[m.id]!));
    const oof = outOfFoldClusterErrors(probs, errors, DEFAULT_SHRINKAGE);
    const samples = evidence.flatMap((x, i) => (Number.isFinite(errors[i]) ? [{
      psiError: oof[i]!, confidence: x.confidences?.[local] ?? NaN, correct: x.scores[m.id]!,
    }] : []));
    return [m.id, samples];
  }));
}

function bestOnTrain(train: readonly LabelledPrompt[], models: readonly ModelSpec[]): string {
  const errors = validationMeanErrors(train, models);
  return [...models].sort((a, b) => (errors[a.id] ?? 1) - (errors[b.id] ?? 1) || b.cost - a.cost)[0]!.id;
}

