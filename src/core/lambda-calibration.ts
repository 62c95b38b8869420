/**
 * Choosing λ on validation data so that routing meets a product target: a share of cloud calls,
 * a budget, or a quality floor. Works on any router's predicted errors: the exact set of operating
 * points (one per λ interval on which no decision changes) is scanned, so the answer is the best
 * achievable step, not a bisection estimate.
 */
import type { LabelledPrompt, ModelSpec, Router } from './types';
import { operatingPieces, predictAll, type OperatingPiece } from './uniroute';

export type CalibrationTarget =
  /** Share of prompts sent to "cloud" models at most `share` (default predicate: cost > 0). */
  | { readonly kind: 'cloudShare'; readonly share: number; readonly isCloud?: (model: ModelSpec) => boolean }
  /** Spend at most `usdPer1000` USD per 1,000 prompts. */
  | { readonly kind: 'budget'; readonly usdPer1000: number }
  /** Mean quality at least `quality`, at the lowest cost. `use: 'predicted'` needs no scores. */
  | { readonly kind: 'qualityFloor'; readonly quality: number; readonly use?: 'observed' | 'predicted' };

export interface LambdaCalibration {
  /** λ to deploy: route() at it reproduces the numbers below on the validation prompts. */
  readonly lambda: number;
  /** The targeted quantity at `lambda` (cloud share, USD per 1,000 prompts, or quality). */
  readonly achieved: number;
  /** False when no λ meets the target; then the closest operating point is returned. */
  readonly feasible: boolean;
  /** Mean USD per prompt at `lambda`. */
  readonly cost: number;
  /** Mean observed quality at `lambda` (NaN without scores). */
  readonly quality: number;
  /** Share of prompts per model id at `lambda`. */
  readonly shares: Readonly<Record<string, number>>;
}

function result(piece: OperatingPiece, achieved: number, feasible: boolean, models: readonly ModelSpec[], n: number): LambdaCalibration {
  const shares: Record<string, number> = {};
  models.forEach((m, h) => {
    shares[m.id] = piece.counts[h]! / n;
  });
  return { lambda: piece.lambda, achieved, feasible, cost: piece.cost, quality: piece.quality, shares };
}

/**
 * Calibrates λ from precomputed predicted errors on validation prompts.
 * - cloudShare / budget: the smallest λ (the most quality) whose share / spend is ≤ the target;
 * - qualityFloor: the cheapest operating point whose quality is ≥ the floor (ties → higher quality).
 * Infeasible targets return the point nearest to them (lowest share or spend, highest quality).
 */
export function calibrateLambdaFromPredictions(
  predictedErrors: readonly ArrayLike<number>[],
  validation: readonly LabelledPrompt[],
  models: readonly ModelSpec[],
  target: CalibrationTarget,
): LambdaCalibration {
  const pieces = operatingPieces(predictedErrors, validation, models);
  const n = validation.length;
  let measure: (p: OperatingPiece) => number;
  let ok: (v: number) => boolean;
  switch (target.kind) {
    case 'cloudShare': {
      const isCloud = target.isCloud ?? ((m: ModelSpec) => m.cost > 0);
      const cloud = models.map((m) => isCloud(m));
      measure = (p) => p.counts.reduce((s, c, h) => s + (cloud[h] ? c : 0), 0) / n;
      ok = (v) => v <= target.share + 1e-12;
      break;
    }
    case 'budget':
      measure = (p) => p.cost * 1000;
      ok = (v) => v <= target.usdPer1000 * (1 + 1e-12);
      break;
    case 'qualityFloor': {
      const use = target.use ?? 'observed';
      measure = (p) => (use === 'observed' ? p.quality : p.predictedQuality);
      if (use === 'observed' && pieces.some((p) => Number.isNaN(p.quality))) {
        throw new Error('calibrateLambda: observed quality needs every model scored on every validation prompt');
      }
      ok = (v) => v >= target.quality - 1e-12;
      break;
    }
  }

  const values = pieces.map(measure);
  if (target.kind === 'qualityFloor') {
    let best = -1;
    pieces.forEach((p, i) => {
      if (!ok(values[i]!)) return;
      const b = best === -1 ? undefined : pieces[best]!;
      if (b === undefined || p.cost < b.cost || (p.cost === b.cost && values[i]! > values[best]!)) best = i;
    });
    if (best !== -1) return result(pieces[best]!, values[best]!, true, models, n);
    const top = values.reduce((bi, v, i) => (v > values[bi]! ? i : bi), 0);
    return result(pieces[top]!, values[top]!, false, models, n);
  }
  const first = values.findIndex(ok);
  if (first !== -1) return result(pieces[first]!, values[first]!, true, models, n);
  // Lowest value; on ties the smaller λ (more quality).
  const low = values.reduce((bi, v, i) => (v < values[bi]! ? i : bi), 0);
  return result(pieces[low]!, values[low]!, false, models, n);
}

/** Calibrates λ for `router` on validation prompts (predictErrors is computed once per prompt). */
export function calibrateLambda(router: Router, validation: readonly LabelledPrompt[], target: CalibrationTarget): LambdaCalibration {
  return calibrateLambdaFromPredictions(predictAll(router, validation), validation, router.models, target);
}

export interface ThresholdCalibration {
  /** Defer (act) on items with score < threshold. Infinity when every item should be deferred. */
  readonly threshold: number;
  /** Share of scores strictly below `threshold`: the largest achievable share ≤ targetShare. */
  readonly achieved: number;
}

/**
 * A threshold such that the share of `scores` strictly below it is as large as possible without
 * exceeding `targetShare`, e.g. the confidence below which a cascade sends a prompt to the cloud
 * so that at most targetShare of prompts go there. Ties in scores can make the share fall short.
 */
export function calibrateThreshold(scores: ArrayLike<number>, targetShare: number): ThresholdCalibration {
  const n = scores.length;
  if (n === 0) throw new Error('calibrateThreshold: no scores');
  if (!(targetShare >= 0 && targetShare <= 1)) throw new Error(`calibrateThreshold: targetShare must be in [0, 1], got ${targetShare}`);
  const sorted = Float64Array.from(scores).sort();
  if (Number.isNaN(sorted[n - 1]!)) throw new Error('calibrateThreshold: NaN score');
  const m = Math.floor(targetShare * n + 1e-9);
  if (m >= n) return { threshold: Infinity, achieved: 1 };
  const threshold = sorted[m]!;
  let below = m;
  while (below > 0 && sorted[below - 1] === threshold) below--;
  return { threshold, achieved: below / n };
}
