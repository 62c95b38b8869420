/**
 * Deferral curves of any router on labelled test prompts: the λ sweep and its evaluation.
 */
import type { DeferralCurve, DeferralPoint, LabelledPrompt, ModelSpec, Router } from './types';
import { checkModels, decisionPath, distinctBreakpoints, operatingPieces, predictAll, promptCost, promptQuality, representatives, route } from './uniroute';
export interface SweepOptions {
  /** Keep at most this many λ values (evenly spaced by index, first and last kept). Default: all. */
  readonly maxPoints?: number;
}

function thin<T>(items: readonly T[], maxPoints: number | undefined): T[] {
  if (maxPoints === undefined || items.length <= maxPoints) return [...items];
  if (maxPoints < 2) return [items[items.length - 1]!];
  const out: T[] = [];
  let last = -1;
  for (let i = 0; i < maxPoints; i++) {
    const idx = Math.round((i * (items.length - 1)) / (maxPoints - 1));
    if (idx !== last) out.push(items[idx]!);
    last = idx;
  }
  return out;
}

/**
 * One λ inside each interval on which no decision changes (0 first; the last is past every
 * breakpoint, where each prompt goes to its cheapest model), ascending.
 */
export function sweepLambdas(predictedErrors: readonly ArrayLike<number>[], models: readonly ModelSpec[], options: SweepOptions = {}): number[] {
  checkModels(models, 'sweepLambdas');
  const { events } = decisionPath(predictedErrors, models);
  return thin(representatives(distinctBreakpoints(events)), options.maxPoints);
}

/** `count` λ values: 0, then log-spaced from maxLambda·10^-decades to maxLambda. */
export function logLambdaGrid(maxLambda: number, count: number, decades = 6): number[] {
  if (!(maxLambda > 0) || !Number.isFinite(maxLambda)) throw new Error(`logLambdaGrid: invalid maxLambda ${maxLambda}`);
  if (!Number.isInteger(count) || count < 2) throw new Error(`logLambdaGrid: count must be an integer ≥ 2`);
  const out = [0];
  for (let i = 0; i < count - 1; i++) out.push(maxLambda * Math.pow(10, -decades + (decades * i) / Math.max(1, count - 2)));
  return out;
}

function toPoint(lambda: number, cost: number, quality: number, counts: Float64Array, models: readonly ModelSpec[], N: number): DeferralPoint {
  const shares: Record<string, number> = {};
  models.forEach((m, h) => {
    shares[m.id] = counts[h]! / N;
  });
  return { lambda, cost, quality, shares };
}

function byCostThenQuality(a: DeferralPoint, b: DeferralPoint): number {
  return a.cost - b.cost || a.quality - b.quality;
}

function checkQuality(q: number, who: string): void {
  if (Number.isNaN(q)) throw new Error(`${who}: a test prompt lacks a score for a model the router chose`);
}

/**
 * The deferral curve of precomputed predicted errors on test prompts, cost ascending.
 * With `lambdas`, one point per λ; without, one point per decision interval (thinned to
 * `maxPoints`, default 256).
 */
export function evaluatePredictions(
  predictedErrors: readonly ArrayLike<number>[],
  testPrompts: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  lambdas?: readonly number[],
  options: SweepOptions = {},
): DeferralCurve {
  const N = testPrompts.length;
  let points: DeferralPoint[];
  if (lambdas === undefined) {
    const pieces = thin(operatingPieces(predictedErrors, testPrompts, models), options.maxPoints ?? 256);
    points = pieces.map((p) => {
      checkQuality(p.quality, 'evaluatePredictions');
      return toPoint(p.lambda, p.cost, p.quality, p.counts, models, N);
    });
  } else {
    if (predictedErrors.length !== N) throw new Error(`evaluatePredictions: ${predictedErrors.length} predictions for ${N} prompts`);
    if (N === 0) throw new Error('evaluatePredictions: no prompts');
    checkModels(models, 'evaluatePredictions');
    points = lambdas.map((lambda) => {
      const counts = new Float64Array(models.length);
      let cost = 0;
      let quality = 0;
      testPrompts.forEach((x, i) => {
        const h = route(predictedErrors[i]!, models, lambda);
        counts[h] = counts[h]! + 1;
        cost += promptCost(x, models[h]!);
        quality += promptQuality(x, models[h]!);
      });
      checkQuality(quality, 'evaluatePredictions');
      return toPoint(lambda, cost / N, quality / N, counts, models, N);
    });
  }
  return points.sort(byCostThenQuality);
}

/** The router's deferral curve on test prompts: predictErrors once per prompt, then a cheap λ sweep. */
export function evaluateRouter(router: Router, testPrompts: readonly LabelledPrompt[], lambdas?: readonly number[], options: SweepOptions = {}): DeferralCurve {
  return evaluatePredictions(predictAll(router, testPrompts), testPrompts, router.models, lambdas, options);
}
