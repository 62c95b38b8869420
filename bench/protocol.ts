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
  ConditionalErrorModel,
  ConditionalHybridRouter,
  ConfidenceKnnRouter,
  ConfidenceMlpRouter,
  DifficultyRouter,
  KnnRouter,
  MlpSufficiencyPredictor,
  OracleRouter,
  UniRouteRouter,
  apgr,
  bestSingleModel,
  buildProfile,
  costToReach,
  clusterPriorHelps,
  cpt,
  createRng,
  DEFAULT_SHRINKAGE,
  deferralArea,
  evaluatePredictions,
  fitConditionalErrors,
  fitLearnedClusterMap,
  hardClusterMap,
  outOfFoldClusterErrors,
  pairScoreSweep,
  predictAll,
  qnc,
  randomRouterCurve,
  singleModelPoints,
  strongShareCurve,
  validationMeanErrors,
  zeroRouterCurve,
  type ClusterMap,
  type ConditionalErrorModelParams,
  type ConditionalErrorSample,
  type ConfidenceScale,
  type DeferralCurve,
  type LabelledPrompt,
  type ModelSpec,
  type Router,
  type StrongSharePoint,
  type SufficiencyExample,
} from '../research/index';
import { splitModels, splitPrompts } from '../dev/data';
import { oneStandardErrorChoice, validationFolds, type Fold as FoldOf } from '../src/core/cross-validation';
import { chooseClusterCount } from '../src/core/cluster-count';
import { chooseEscalationRule, fitEscalationCandidates, type EvidencePrompt } from '../src/core/escalation-rule';

export { oneStandardErrorChoice };

type Fold = FoldOf<LabelledPrompt>;

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
  /** Candidate k of the two k-NN routers, chosen by the same cross-validation as K. */
  readonly knnCandidates?: readonly number[];
  /** Random halvings of the validation split used by every cross-validated choice. */
  readonly cvRepeats?: number;
  /** Run the universal-difficulty (IRT-like) router (default true: it won paired against UniRoute k-means). */
  readonly difficultyRouter?: boolean;
  /**
   * Also run 'hybrid-fitted-knn-local': hybrid-fitted-kmeans with the local model's ψ replaced by
   * its k-NN error among the evidence prompts (an embedding-based predictor of its correctness).
   */
  readonly localKnnFeature?: boolean;
}

export interface RouterResult {
  readonly curve: DeferralCurve;
  readonly area: number;
  /** Lowest relative cost reaching the best single model's test quality; Infinity = never. */
  readonly qnc: number;
  /** Lowest relative cost reaching 95 % of the best single model's test quality; Infinity = never. */
  readonly cost95: number;
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
  /** Hyper-parameters chosen by cross-validation inside train+validation (k of the k-NN routers, the hybrid's pick). */
  readonly choices: Readonly<Record<string, string | number>>;
  /**
   * Why APGR/CPT mean little on this seed's pair, if they do: the 'strong' model is not the
   * most accurate one on train+validation, or weak and strong are within noise of each other.
   */
  readonly pairFlags: readonly string[];
  /** Data gaps met on this seed (see runSeed). */
  readonly gaps: {
    /** Test prompts dropped because a pool model has no score on them. */
    readonly testWithoutScores: number;
    /** Test prompts without the local model's confidence: confidence routers use their no-confidence fallback there. */
    readonly testWithoutConfidence: number;
    /** Training/validation prompts without the local confidence: left out of the confidence fits. */
    readonly fitWithoutConfidence: number;
  };
  readonly millis: number;
}

const DEFAULTS = {
  fractions: [0.6, 0.1, 0.3] as const,
  clusterCandidates: [1, 2, 4, 8, 16, 32, 64],
  seenModelShare: 0.6,
  maxLearnedMapTraining: 3000,
  maxPredictiveTraining: 5000,
  knnCandidates: [5, 10, 20, 50, 100, 200],
  cvRepeats: 3,
  difficultyRouter: true,
  localKnnFeature: false,
};

function subsample<T>(items: readonly T[], max: number, seed: number): T[] {
  if (items.length <= max) return [...items];
  return createRng(seed ^ 0xa11ce)
    .shuffle([...items])
    .slice(0, max);
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

/** A router that predicts at several k from one neighbour search. */
interface MultiKRouter {
  readonly models: readonly ModelSpec[];
  predictErrorsForKs(input: { embedding: Float32Array; localConfidence?: number }, ks: readonly number[]): Float64Array[];
}

/**
 * k of a k-NN router by the same folds and rule as K: built from the evidence of train + one
 * half, judged by deferral area on the other. Largest k first (the smoothest is the simplest).
 */
function chooseK(folds: readonly Fold[], candidates: readonly number[], build: (fit: LabelledPrompt[]) => MultiKRouter, maxCost: number): number {
  const ks = [...new Set(candidates)].sort((a, b) => b - a);
  const areas: number[][] = ks.map(() => []);
  for (const [fit, held] of folds) {
    const router = build(fit);
    const perPrompt = held.map((x) => router.predictErrorsForKs({ embedding: x.embedding }, ks));
    ks.forEach((_, j) => {
      const curve = evaluatePredictions(
        perPrompt.map((p) => p[j]!),
        held,
        router.models,
        undefined,
        { maxPoints: Infinity },
      );
      areas[j]!.push(deferralArea(curve, maxCost));
    });
  }
  return ks[oneStandardErrorChoice(areas)]!;
}

/** Builds a router over a given pool: the full pool for the area, the weak/strong pair for APGR/CPT. */
type RouterFactory = (pool: readonly ModelSpec[]) => Router;

function pairQualities(test: readonly LabelledPrompt[], pool: readonly ModelSpec[], pair: { weak: string; strong: string }) {
  const singles = singleModelPoints(test, pool);
  const q = (id: string): number => singles.find((s) => s.modelId === id)!.quality;
  return { weakQuality: q(pair.weak), strongQuality: q(pair.strong) };
}

function pairMetricsOf(points: readonly StrongSharePoint[], quals: { weakQuality: number; strongQuality: number }) {
  return { apgr: apgr(points, quals), cpt50: cpt(points, quals, 0.5), cpt80: cpt(points, quals, 0.8) };
}

/**
 * Why a pair's APGR means little: the 'strong' model is not the most accurate of the pool on
 * train+validation (PGR then rewards avoiding it), or the two are within two standard errors of
 * each other on train+validation (PGR divides by a gap that is noise).
 */
function pairFlagsOf(known: readonly LabelledPrompt[], models: readonly ModelSpec[], pair: { weak: string; strong: string }): string[] {
  const flags: string[] = [];
  const complete = known.filter((x) => models.every((m) => x.scores[m.id] !== undefined));
  if (complete.length < 2) return ['too few prompts to check the pair'];
  const best = bestSingleModel(complete, models);
  if (best !== pair.strong) flags.push(`strong model ${pair.strong} is not the best (${best} is, on train+validation)`);
  const d = complete.map((x) => x.scores[pair.strong]! - x.scores[pair.weak]!);
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const se = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1) / d.length);
  if (mean < 2 * se) flags.push(`weak ≈ strong (gap ${mean.toFixed(3)} ± ${se.toFixed(3)} on train+validation)`);
  return flags;
}

/**
 * Runs every router and baseline on one seed of one set.
 * Data gaps: a test prompt on which some pool model has no score is dropped (a deferral curve
 * needs every model's score wherever a router may send the prompt); on train/validation a missing
 * score is skipped per model (Ψ, k-NN and the fits use the prompts that model was scored on); a
 * missing local confidence leaves the prompt out of the confidence fits, and on test the
 * confidence routers fall back to what they predict before the local model has answered.
 */
export function runSeed(allPrompts: readonly LabelledPrompt[], spec: SetSpec, options: ProtocolOptions): SeedResult {
  const started = performance.now();
  const o = { ...DEFAULTS, ...options };
  const { seed } = o;
  const models = spec.models;
  const { train, validation, test: rawTest } = splitPrompts(allPrompts, seed, o.fractions, spec.groupKey ? { groupKey: spec.groupKey } : {});
  const scoredEverywhere = (x: LabelledPrompt): boolean => models.every((m) => x.scores[m.id] !== undefined);
  const test = rawTest.filter(scoredEverywhere);
  if (test.length === 0) throw new Error(`${spec.name}: no test prompt has a score for every model`);
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
  const folds = validationFolds(validation, seed, o.cvRepeats, scoredEverywhere);
  // What a deployed baseline may look at: every model's scores on validation, the seen ones' on train.
  const known = evidence.filter(scoredEverywhere);
  const selection = known.length > 0 ? known : validation.filter(scoredEverywhere);

  // K by the same folds: k-means on the training prompts, Ψ from the training evidence plus one
  // half of the validation split, UniRoute's deferral area on the other half.
  const { k, centroids, scores } = chooseClusterCount({
    points: train.map((x) => x.embedding),
    folds: folds.map(([fit, held]) => [featureEvidence(train, fit, seen), held] as const),
    models,
    candidates: o.clusterCandidates,
    seed,
  });
  const kmeansMap = hardClusterMap(centroids);
  const learned: ClusterMap = fitLearnedClusterMap({
    centroids,
    training: subsample(train, o.maxLearnedMapTraining, seed),
    trainingModels: seen,
  }).map;

  // The "weak" model of the confidence-driven routers: the pair's weak one, the local model, or
  // the cheapest; labels say whether its answer is as good as the strongest model's, on the
  // evidence (an unseen model's training scores are not known).
  const weak = spec.localModel ?? spec.pair?.weak ?? [...models].sort((a, b) => a.cost - b.cost)[0]!.id;
  const strongest = spec.pair?.strong ?? bestOn(evidence, models);
  const examplesOf = (prompts: readonly LabelledPrompt[]): SufficiencyExample[] =>
    subsample(prompts, o.maxPredictiveTraining, seed)
      .filter((x) => x.scores[weak] !== undefined && x.scores[strongest] !== undefined)
      .map((x) => ({ embedding: x.embedding, suffices: x.scores[weak]! >= x.scores[strongest]! ? 1 : 0 }));
  const examples = examplesOf(evidence.filter((x) => x.scores[weak] !== undefined && x.scores[strongest] !== undefined));
  // Trained once per seed, shared by the full-pool and the two-model routers.
  const mlp = MlpSufficiencyPredictor.train(examples, { seed });

  // Both k-NN routers get UniRoute's evidence and shrinkage, and k by the same folds as K.
  const knnK = chooseK(
    folds,
    o.knnCandidates,
    (fit) => KnnRouter.fromEvidence(featureEvidence(train, fit, seen), models, { k: 1, shrinkage: DEFAULT_SHRINKAGE }),
    maxCost,
  );
  const confidenceKnnK =
    examples.length === 0
      ? 1
      : chooseK(
          folds,
          o.knnCandidates,
          (fit) => {
            const fitEvidence = featureEvidence(train, fit, seen);
            const fitExamples = examplesOf(fitEvidence.filter((x) => x.scores[weak] !== undefined && x.scores[strongest] !== undefined));
            return new ConfidenceKnnRouter({
              models,
              weakModelId: weak,
              meanErrors: validationMeanErrors(fitEvidence, models),
              examples: fitExamples.length > 0 ? fitExamples : examples,
              k: 1,
              shrinkage: DEFAULT_SHRINKAGE,
            });
          },
          maxCost,
        );
  const choices: Record<string, string | number> = { knnK, confidenceKnnK };

  const factories: Record<string, RouterFactory> = {
    knn: (pool) => KnnRouter.fromEvidence(evidence, pool, { k: knnK, shrinkage: DEFAULT_SHRINKAGE }),
    'uniroute-kmeans': (pool) => new UniRouteRouter(buildProfile({ validation: evidence, models: pool, clusterMap: kmeansMap }), 'uniroute-kmeans'),
    'uniroute-learned-map': (pool) => new UniRouteRouter(buildProfile({ validation: evidence, models: pool, clusterMap: learned }), 'uniroute-learned-map'),
    'confidence-knn': (pool) =>
      new ConfidenceKnnRouter({
        models: pool,
        weakModelId: weak,
        meanErrors: validationMeanErrors(evidence, pool),
        examples,
        k: confidenceKnnK,
        shrinkage: DEFAULT_SHRINKAGE,
      }),
    'confidence-mlp': (pool) => new ConfidenceMlpRouter({ models: pool, weakModelId: weak, meanErrors: validationMeanErrors(evidence, pool), predictor: mlp }),
    oracle: (pool) => new OracleRouter(test, pool),
  };
  if (o.difficultyRouter) {
    const irt = DifficultyRouter.fit({ evidence, models, seen, clusterMap: kmeansMap });
    factories['irt-difficulty'] = (pool) =>
      pool.length === models.length ? irt : DifficultyRouter.fit({ evidence, models: pool, seen: seen.filter((m) => pool.includes(m)), clusterMap: kmeansMap });
  }
  let fitWithoutConfidence = 0;
  if (spec.localModel) {
    const local = spec.localModel;
    const hasConfidence = (x: LabelledPrompt): boolean => Number.isFinite(x.confidences?.[local]);
    fitWithoutConfidence = [...train, ...validation].filter((x) => !hasConfidence(x)).length;
    const scale = spec.confidenceScale ?? 'raw';
    const cloud = models.filter((m) => m.id !== local).map((m) => m.id);
    // The cascade rules are the worker's own (src/core/escalation-rule.ts): confidence-only,
    // UniRoute and the fitted hybrid, and the CV that picks one of them for 'hybrid-cv'.
    const ruleOptions = { models, localModelId: local, shrinkage: DEFAULT_SHRINKAGE, scale, maxCost };
    const withProbabilities = (prompts: readonly LabelledPrompt[]): EvidencePrompt[] =>
      prompts.map((x) => ({ ...x, probabilities: kmeansMap.probabilities(x.embedding) }));
    const rules = fitEscalationCandidates(withProbabilities(evidence), ruleOptions);
    const kmeansProfile = buildProfile({ validation: evidence, models, clusterMap: kmeansMap });
    const kmeansPsi = Object.fromEntries(models.map((m, h) => [m.id, kmeansProfile.featureVectors[h]!]));
    const ruleRouter =
      (name: string, params: ConditionalErrorModelParams): RouterFactory =>
      (pool) =>
        new ConditionalHybridRouter({ name, models: pool, clusterMap: kmeansMap, psi: kmeansPsi, errorModel: new ConditionalErrorModel(params) });
    factories['confidence-only'] = ruleRouter('confidence-only', rules['confidence-only']);
    factories['hybrid-fitted-kmeans'] = ruleRouter('hybrid-fitted-kmeans', rules.hybrid);
    // The hybrid that ships: whichever rule the folds inside train+validation prefer (simplest
    // first under the one-standard-error rule), as the worker chooses it for its profile.
    const { name: pick } = chooseEscalationRule(
      folds.map(([fit, held]) => [withProbabilities(featureEvidence(train, fit, seen)), withProbabilities(held)] as const),
      ruleOptions,
    );
    const benchName = { 'confidence-only': 'confidence-only', uniroute: 'uniroute-kmeans', hybrid: 'hybrid-fitted-kmeans' } as const;
    choices['hybrid-cv'] = benchName[pick];
    factories['hybrid-cv'] = factories[benchName[pick]]!;

    if (o.localKnnFeature) {
      // The local model is seen: its error among the nearest evidence prompts predicts its
      // correctness from the embedding. Out of fold for the fitting samples (5 folds by index,
      // as outOfFoldClusterErrors), from all evidence for test prompts.
      const localScored = evidence.filter((x) => x.scores[local] !== undefined);
      const knnOf = (prompts: readonly LabelledPrompt[]) =>
        KnnRouter.fromEvidence(prompts, [models.find((m) => m.id === local)!], { k: knnK, shrinkage: DEFAULT_SHRINKAGE });
      const oof = new Map<LabelledPrompt, number>();
      for (let f = 0; f < 5; f++) {
        const rest = localScored.filter((_, i) => i % 5 !== f);
        if (rest.length === 0) continue;
        const knn = knnOf(rest);
        localScored.forEach((x, i) => {
          if (i % 5 === f) oof.set(x, knn.predictErrors({ embedding: x.embedding })[0]!);
        });
      }
      const fullKnn = knnOf(localScored);
      const samples = conditionalSamples(evidence, models, kmeansMap, local);
      const confidenceOf = (x: LabelledPrompt): number => x.confidences?.[local] ?? NaN;
      samples[local] = localScored.map((x) => ({ psiError: oof.get(x) ?? NaN, confidence: confidenceOf(x), correct: x.scores[local]! }));
      const errorModel = fitConditionalErrors(samples, { scale, groups: [cloud], fitPsi: true });
      const profile = buildProfile({ validation: evidence, models, clusterMap: kmeansMap });
      const psi = Object.fromEntries(models.map((m, h) => [m.id, profile.featureVectors[h]!]));
      const psiOverride = { [local]: (embedding: Float32Array): number => fullKnn.predictErrors({ embedding })[0]! };
      factories['hybrid-fitted-knn-local'] = (pool) =>
        new ConditionalHybridRouter({
          name: 'hybrid-fitted-knn-local',
          models: pool,
          clusterMap: kmeansMap,
          psi,
          errorModel,
          psiOverride,
        });
    }

    // Conditional hybrid with w_ψ fixed at 1 (conditional-errors.ts), kept for comparison: the
    // local model's own cluster prior is kept only if it predicts its correctness beyond the
    // confidence on held-out training and validation prompts.
    const samplesOf = (map: ClusterMap) => conditionalSamples(evidence, models, map, local);
    const kmeansSamples = samplesOf(kmeansMap);
    const priorTest = clusterPriorHelps(kmeansSamples[local]!, { scale });
    for (const [name, map] of [
      ['hybrid-conditional-kmeans', kmeansMap],
      ['hybrid-conditional-learned-map', learned],
    ] as const) {
      const profile = buildProfile({ validation: evidence, models, clusterMap: map });
      const psi = Object.fromEntries(models.map((m, h) => [m.id, profile.featureVectors[h]!]));
      const errorModel = fitConditionalErrors(map === kmeansMap ? kmeansSamples : samplesOf(map), {
        scale,
        groups: [cloud],
        confidenceOnly: priorTest.helps ? [] : [local],
      });
      factories[name] = (pool) => new ConditionalHybridRouter({ name, models: pool, clusterMap: map, psi, errorModel });
    }
  }

  const pair = spec.pair;
  const pairPool = pair ? models.filter((m) => m.id === pair.weak || m.id === pair.strong) : undefined;
  const quals = pair && pairPool ? pairQualities(test, pairPool, pair) : undefined;
  const results: Record<string, RouterResult> = {};
  const record = (name: string, curve: DeferralCurve, pairPoints?: readonly StrongSharePoint[]): void => {
    results[name] = {
      curve,
      area: deferralArea(curve, maxCost),
      qnc: qnc(curve, bestSingle, maxCost),
      cost95: costToReach(curve, 0.95 * bestSingle, maxCost),
      ...(quals && pairPoints ? pairMetricsOf(pairPoints, quals) : {}),
    };
  };

  // The baselines pick their models where a deployed one would: on train+validation, not on test.
  const randomStrong = bestSingleModel(selection, models);
  record(
    'random',
    randomRouterCurve(test, models, { seed, strongId: randomStrong }),
    pair && pairPool ? strongShareCurve(randomRouterCurve(test, pairPool, { seed, cheapId: pair.weak, strongId: pair.strong }), pair.strong) : undefined,
  );
  record(
    'zero-router',
    zeroRouterCurve(test, models, selection),
    pair && pairPool ? strongShareCurve(zeroRouterCurve(test, pairPool, selection), pair.strong) : undefined,
  );
  // Every operating point is kept: thinning by index (the evaluator's default of 256) drops the
  // few points of a sparse stretch of λ, e.g. the whole stretch where a confidence router sends its
  // non-local prompts to one mid-priced model, and so under-states the area of routers whose
  // per-prompt errors give many breakpoints.
  const everyPoint = { maxPoints: Infinity };
  const weakScores = pair ? test.map((x) => x.scores[pair.weak]!) : [];
  const strongScores = pair ? test.map((x) => x.scores[pair.strong]!) : [];
  for (const [name, make] of Object.entries(factories)) {
    const fullRouter = make(models);
    const predictions = predictAll(fullRouter, test);
    const curve = evaluatePredictions(predictions, test, models, undefined, everyPoint);
    let pairPoints: StrongSharePoint[] | undefined;
    if (pair && pairPool) {
      // RouteLLM's pair evaluation: the router rebuilt on the two models, its score
      // err_weak − err_strong thresholded over its full range.
      const samePool = pairPool.length === models.length;
      const pairRouter = samePool ? fullRouter : make(pairPool);
      const pairPredictions = samePool ? predictions : predictAll(pairRouter, test);
      const w = pairRouter.models.findIndex((m) => m.id === pair.weak);
      const st = pairRouter.models.findIndex((m) => m.id === pair.strong);
      pairPoints = pairScoreSweep(
        pairPredictions.map((e) => e[w]! - e[st]!),
        weakScores,
        strongScores,
      );
    }
    record(name, curve, pairPoints);
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
    choices,
    pairFlags: pair ? pairFlagsOf(selection, models, pair) : [],
    gaps: {
      testWithoutScores: rawTest.length - test.length,
      testWithoutConfidence: spec.localModel ? test.filter((x) => !Number.isFinite(x.confidences?.[spec.localModel!])).length : 0,
      fitWithoutConfidence,
    },
    millis: performance.now() - started,
  };
}

/**
 * Per model, the prompts its Ψ is built from (`evidence` where it has a score), each with
 * UniRoute's prediction from Ψ built on the other folds and the local model's confidence there.
 */
function conditionalSamples(
  evidence: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  map: ClusterMap,
  local: string,
): Record<string, ConditionalErrorSample[]> {
  const probs = evidence.map((x) => map.probabilities(x.embedding));
  return Object.fromEntries(
    models.map((m) => {
      const errors = evidence.map((x) => (x.scores[m.id] === undefined ? NaN : 1 - x.scores[m.id]!));
      const oof = outOfFoldClusterErrors(probs, errors, DEFAULT_SHRINKAGE);
      const samples = evidence.flatMap((x, i) =>
        Number.isFinite(errors[i])
          ? [
              {
                psiError: oof[i]!,
                confidence: x.confidences?.[local] ?? NaN,
                correct: x.scores[m.id]!,
              },
            ]
          : [],
      );
      return [m.id, samples];
    }),
  );
}

/** The most accurate model on the prompts where it was scored (mean error; pricier wins ties). */
function bestOn(prompts: readonly LabelledPrompt[], models: readonly ModelSpec[]): string {
  const errors = validationMeanErrors(prompts, models);
  const e = (id: string): number => (Number.isFinite(errors[id]) ? errors[id]! : 1);
  return [...models].sort((a, b) => e(a.id) - e(b.id) || b.cost - a.cost)[0]!.id;
}
