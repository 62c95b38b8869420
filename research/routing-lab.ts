/**
 * The routing lab: every router and baseline of the quality benchmark, on one data set, computed
 * where it is shown (the demo page runs this in the browser; the tests run it in Node). Pure: no
 * DOM, no I/O; the embeddings come in with the prompts.
 *
 * Protocol (a small-sample version of bench/protocol.ts): one seeded split of the prompts into a
 * fit part (k-means, the learned cluster map, feature vectors Ψ, k-NN neighbours, λ calibration)
 * and a test part (every curve and number shown). All models are seen; the benchmark is where
 * unseen models and K selection are measured.
 */
import { KnnRouter, OracleRouter, randomRouterCurve, singleModelPoints, zeroRouterCurve, type SingleModelPoint } from './baselines';
import { kmeans } from '../src/core/kmeans';
import { calibrateLambdaFromPredictions, type CalibrationTarget } from '../src/core/lambda-calibration';
import { deferralArea, qnc } from '../src/core/metrics';
import { createRng } from '../src/core/random';
import type { DeferralCurve, DeferralPoint, LabelledPrompt, ModelSpec, Router } from '../src/core/types';
import { buildProfile, hardClusterMap, predictAll, UniRouteRouter } from '../src/core/uniroute';
import { evaluatePredictions } from '../src/core/evaluation';
import { fitLearnedClusterMap } from './learned-map';

/** Routers whose operating point moves with λ. */
export const LAMBDA_ROUTERS = ['uniroute-kmeans', 'uniroute-learned-map', 'knn'] as const;
export type LambdaRouterName = (typeof LAMBDA_ROUTERS)[number];

export interface LabOptions {
  /** Number of clusters K (default 8). */
  readonly k?: number;
  readonly seed?: number;
  /** Share of prompts used to fit (default 0.7); the rest is the test part. */
  readonly fitShare?: number;
  /** k of the k-NN baseline (default 10). */
  readonly neighbours?: number;
}

export interface LabRouterResult {
  readonly curve: DeferralCurve;
  /** Area under the Pareto-cleaned curve, cost normalised by the priciest model. */
  readonly area: number;
  /** Lowest relative cost that matches the best single model (Infinity when never reached). */
  readonly qnc: number;
}

export interface RoutingLab {
  readonly models: readonly ModelSpec[];
  readonly k: number;
  readonly sizes: { readonly fit: number; readonly test: number };
  /** The priciest model's mean cost per prompt on the test part: the x-axis unit. */
  readonly maxCost: number;
  readonly singles: readonly SingleModelPoint[];
  /** random, zero-router, knn, uniroute-kmeans, uniroute-learned-map, oracle. */
  readonly routers: Readonly<Record<string, LabRouterResult>>;
  /** Predicted errors of the λ routers on the fit and test prompts, for operating points. */
  readonly predictions: Readonly<Record<LambdaRouterName, { readonly fit: Float64Array[]; readonly test: Float64Array[] }>>;
  readonly fit: readonly LabelledPrompt[];
  readonly test: readonly LabelledPrompt[];
  readonly millis: number;
}

function checkInput(prompts: readonly LabelledPrompt[], models: readonly ModelSpec[]): void {
  if (models.length < 2) throw new Error(`routing lab: needs at least two models, got ${models.length}`);
  if (prompts.length < 20) throw new Error(`routing lab: needs at least 20 prompts, got ${prompts.length}`);
  const d = prompts[0]!.embedding.length;
  prompts.forEach((x) => {
    if (x.embedding.length !== d) throw new Error(`routing lab: prompt ${x.id} has a ${x.embedding.length}-d embedding, the others ${d}-d`);
    for (const m of models) {
      if (x.scores[m.id] === undefined) throw new Error(`routing lab: prompt ${x.id} has no score for model ${m.id}; keep only fully scored prompts`);
    }
  });
}

/** Seeded split into fit and test parts (Fisher–Yates on a copy). */
export function splitFitTest<T>(items: readonly T[], fitShare: number, seed: number): { fit: T[]; test: T[] } {
  if (!(fitShare > 0 && fitShare < 1)) throw new Error(`routing lab: fitShare must be in (0, 1), got ${fitShare}`);
  const shuffled = [...items];
  createRng(seed).shuffle(shuffled);
  const cut = Math.round(shuffled.length * fitShare);
  return { fit: shuffled.slice(0, cut), test: shuffled.slice(cut) };
}

function meanCost(prompts: readonly LabelledPrompt[], model: ModelSpec): number {
  return prompts.reduce((s, x) => s + (x.costs?.[model.id] ?? model.cost), 0) / prompts.length;
}

export function runRoutingLab(prompts: readonly LabelledPrompt[], models: readonly ModelSpec[], options: LabOptions = {}): RoutingLab {
  const started = performance.now();
  checkInput(prompts, models);
  const seed = options.seed ?? 1;
  const { fit, test } = splitFitTest(prompts, options.fitShare ?? 0.7, seed);
  const { centroids } = kmeans(
    fit.map((x) => x.embedding),
    { k: Math.min(options.k ?? 8, fit.length), seed },
  );
  const kmeansMap = hardClusterMap(centroids);
  const learnedMap = fitLearnedClusterMap({ centroids, training: fit, trainingModels: models }).map;
  const lambdaRouters: Record<LambdaRouterName, Router> = {
    'uniroute-kmeans': new UniRouteRouter(buildProfile({ validation: fit, models, clusterMap: kmeansMap }), 'uniroute-kmeans'),
    'uniroute-learned-map': new UniRouteRouter(buildProfile({ validation: fit, models, clusterMap: learnedMap }), 'uniroute-learned-map'),
    knn: KnnRouter.fromValidation(fit, models, options.neighbours ?? 10),
  };
  const maxCost = Math.max(...models.map((m) => meanCost(test, m)));
  const singles = singleModelPoints(test, models);
  const bestSingle = Math.max(...singles.map((s) => s.quality));
  const summarise = (curve: DeferralCurve): LabRouterResult => ({
    curve,
    area: deferralArea(curve, maxCost),
    qnc: qnc(curve, bestSingle, maxCost),
  });

  const routers: Record<string, LabRouterResult> = {
    random: summarise(randomRouterCurve(test, models, { seed })),
    'zero-router': summarise(zeroRouterCurve(test, models)),
  };
  const predictions = {} as Record<LambdaRouterName, { fit: Float64Array[]; test: Float64Array[] }>;
  for (const name of LAMBDA_ROUTERS) {
    const router = lambdaRouters[name];
    predictions[name] = { fit: predictAll(router, fit), test: predictAll(router, test) };
    routers[name] = summarise(evaluatePredictions(predictions[name].test, test, models));
  }
  const oracle = new OracleRouter(test, models);
  routers.oracle = summarise(evaluatePredictions(predictAll(oracle, test), test, models));
  return {
    models,
    k: centroids.length,
    sizes: { fit: fit.length, test: test.length },
    maxCost,
    singles,
    routers,
    predictions,
    fit,
    test,
    millis: performance.now() - started,
  };
}

/** Where a λ router operates on the test prompts at this λ. */
export function operatingPoint(lab: RoutingLab, router: LambdaRouterName, lambda: number): DeferralPoint {
  if (!(Number.isFinite(lambda) && lambda >= 0)) throw new Error(`routing lab: λ must be a finite number ≥ 0, got ${lambda}`);
  return evaluatePredictions(lab.predictions[router].test, lab.test, lab.models, [lambda])[0]!;
}

export interface TargetPoint {
  /** λ calibrated on the fit prompts. */
  readonly lambda: number;
  readonly feasible: boolean;
  /** The target's quantity on the fit prompts (what calibration saw). */
  readonly achievedOnFit: number;
  /** The operating point that λ gives on the test prompts (what a user would get). */
  readonly test: DeferralPoint;
}

/**
 * λ for a target, calibrated on the fit prompts the way the router calibrates on validation
 * prompts, then applied to the test prompts: the gap between the two is the honest error of
 * calibrating on a small set.
 */
export function pointForTarget(lab: RoutingLab, router: LambdaRouterName, target: CalibrationTarget): TargetPoint {
  const calibration = calibrateLambdaFromPredictions(lab.predictions[router].fit, lab.fit, lab.models, target);
  return {
    lambda: calibration.lambda,
    feasible: calibration.feasible,
    achievedOnFit: calibration.achieved,
    test: operatingPoint(lab, router, calibration.lambda),
  };
}

/**
 * The λ range worth a slider: above `max` every cost gap outweighs any error gap (errors differ by
 * at most 1), so all prompts go to the cheapest model; `min` is six decades lower.
 */
export function lambdaRange(lab: RoutingLab): { readonly min: number; readonly max: number } {
  const costs = [...new Set(lab.models.map((m) => m.cost))].sort((a, b) => a - b);
  let gap = Infinity;
  for (let i = 1; i < costs.length; i++) gap = Math.min(gap, costs[i]! - costs[i - 1]!);
  const max = Number.isFinite(gap) && gap > 0 ? 1 / gap : 1;
  return { min: max * 1e-6, max };
}
