/**
 * Evaluation metrics of the routing papers, computed identically for every router.
 *
 * UniRoute (Jitkrittum et al. 2025): a router's λ sweep traces a deferral curve of
 * (mean cost, mean quality); we report the area under it and the Quality-Neutral Cost (QNC).
 * RouteLLM (Ong et al. 2024): with one weak and one strong model, the x-axis is the share of
 * calls sent to the strong model; we report PGR, APGR and CPT(x%).
 *
 * Conventions (shared by all routers so comparisons are fair):
 * - Pareto cleaning: a point is kept only if its quality is strictly above that of every
 *   cheaper (or equally cheap) point. A router can always fall back to a cheaper operating
 *   point, so dominated points carry no information.
 * - Between kept points the curve is linear: a router can randomise between two operating
 *   points and get any convex combination of their cost and quality.
 * - Beyond the last (priciest) kept point the curve is flat: spending more buys nothing.
 * - Below the first (cheapest) kept point the curve does not exist: area is integrated over
 *   [c₀, 1] only, where c₀ is the cheapest point's normalised cost (contributing 0 below c₀).
 *   With a local model of cost 0 in the pool, every λ sweep starts at c₀ = 0 (λ → ∞ routes
 *   everything locally), so this is the plain area over [0, 1].
 */

import type { DeferralCurve, DeferralPoint } from './types';

/** A point of a curve in the plane: x = (normalised) cost or strong-call share, y = quality. */
interface XY {
  readonly x: number;
  readonly y: number;
}

/**
 * The Pareto frontier of points in the plane, x ascending: every point dominated by one at no
 * greater x with at least the same y is dropped, so y is strictly increasing with x. Points with
 * a non-finite x or y are dropped.
 */
function paretoFrontier<T>(points: readonly T[], x: (p: T) => number, y: (p: T) => number): T[] {
  // x ascending; at equal x the best y first, so the others are dropped as dominated.
  const sorted = points.filter((p) => Number.isFinite(x(p)) && Number.isFinite(y(p))).sort((a, b) => x(a) - x(b) || y(b) - y(a));
  const out: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (y(p) > best) {
      out.push(p);
      best = y(p);
    }
  }
  return out;
}

/** Pareto frontier of a deferral curve, cost ascending (paretoFrontier on cost and quality). */
export function paretoClean(curve: DeferralCurve): DeferralPoint[] {
  return paretoFrontier(
    curve,
    (p) => p.cost,
    (p) => p.quality,
  );
}

/** Same cleaning on plain (x, y) points. */
function paretoCleanXY(points: readonly XY[]): XY[] {
  return paretoFrontier(
    points,
    (p) => p.x,
    (p) => p.y,
  );
}

/**
 * Area under a piecewise-linear curve (x ascending) over [x₀, xMax], flat after the last point.
 * Segments past xMax are clipped by linear interpolation.
 */
function areaXY(points: readonly XY[], xMax: number): number {
  if (points.length === 0) return 0;
  let area = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    if (a.x >= xMax) return area;
    if (b.x <= xMax) {
      area += ((a.y + b.y) / 2) * (b.x - a.x);
    } else {
      const yAt = a.y + ((b.y - a.y) * (xMax - a.x)) / (b.x - a.x);
      area += ((a.y + yAt) / 2) * (xMax - a.x);
      return area;
    }
  }
  const last = points[points.length - 1]!;
  if (last.x < xMax) area += last.y * (xMax - last.x);
  return area;
}

/**
 * Smallest x at which the piecewise-linear curve (x ascending) reaches y ≥ target; Infinity if
 * never. The flat extension after the last point adds nothing, since it never rises.
 */
function firstReachXY(points: readonly XY[], target: number): number {
  for (let i = 0; i < points.length; i++) {
    const b = points[i]!;
    if (b.y >= target) {
      if (i === 0) return b.x;
      const a = points[i - 1]!;
      // a.y < target ≤ b.y: interpolate inside the segment.
      return a.x + ((b.x - a.x) * (target - a.y)) / (b.y - a.y);
    }
  }
  return Infinity;
}

function checkMaxCost(maxCost: number): void {
  if (!(maxCost > 0) || !Number.isFinite(maxCost)) {
    throw new RangeError(`maxCost must be finite and > 0, got ${maxCost}`);
  }
}

/**
 * Area under the deferral curve (UniRoute), cost normalised to [0, 1] by `maxCost` (the cost
 * of the priciest model in the pool). After Pareto cleaning: linear between points, flat from
 * the last point to normalised cost 1, nothing below the cheapest point (see the file header),
 * points above normalised cost 1 clipped. The result is in [0, 1] when qualities are.
 */
export function deferralArea(curve: DeferralCurve, maxCost: number): number {
  checkMaxCost(maxCost);
  const pts = paretoClean(curve).map((p) => ({ x: p.cost / maxCost, y: p.quality }));
  return areaXY(pts, 1);
}

/**
 * Quality-Neutral Cost (UniRoute): the lowest relative cost (cost / maxCost) at which the
 * Pareto-cleaned, linearly interpolated curve reaches `bestSingleQuality` (the quality of the
 * most accurate single model). Returns Infinity when the curve never reaches it, so "lower is
 * better" still orders routers correctly; report it as "not reached".
 */
export function qnc(curve: DeferralCurve, bestSingleQuality: number, maxCost: number): number {
  return costToReach(curve, bestSingleQuality, maxCost);
}

/**
 * The lowest relative cost (cost / maxCost) at which the Pareto-cleaned, linearly interpolated
 * curve reaches quality `target`; Infinity if never. With target = 0.95 × the best single model's
 * quality this is a figure every sensible router reaches, unlike QNC (target = 1 × best), which a
 * router whose curve stays just under the best model never reaches.
 */
export function costToReach(curve: DeferralCurve, target: number, maxCost: number): number {
  checkMaxCost(maxCost);
  const pts = paretoClean(curve).map((p) => ({ x: p.cost / maxCost, y: p.quality }));
  return firstReachXY(pts, target);
}

// ---------------------------------------------------------------------------------------------
// RouteLLM two-model metrics. Curves are explicit {strongShare, quality} points, strongShare =
// fraction of prompts sent to the strong model in [0, 1]; `strongShareCurve` converts a
// DeferralCurve using DeferralPoint.shares.

/** One operating point of a weak/strong router. */
export interface StrongSharePoint {
  /** fraction of prompts sent to the strong model, in [0, 1]. */
  readonly strongShare: number;
  /** mean quality in [0, 1]. */
  readonly quality: number;
}

/** Weak-only and strong-only qualities: the two ends of every RouteLLM curve. */
export interface WeakStrongQualities {
  readonly weakQuality: number;
  readonly strongQuality: number;
}

/**
 * Reads a DeferralCurve as a RouteLLM curve: x = the share of calls to `strongModelId`.
 * Throws if a point has no `shares` (its strong share would be unknown).
 */
export function strongShareCurve(curve: DeferralCurve, strongModelId: string): StrongSharePoint[] {
  return curve.map((p, i) => {
    if (!p.shares) throw new Error(`deferral point ${i} has no shares`);
    return { strongShare: p.shares[strongModelId] ?? 0, quality: p.quality };
  });
}

/**
 * RouteLLM's evaluation of a two-model router: its score (higher = the strong model is needed
 * more, e.g. err_weak − err_strong) thresholded over its full range, from "no call to the strong
 * model" to "every call", one point per distinct score (ties move together, as one threshold
 * moves them). A λ ≥ 0 sweep stops where the score turns negative, i.e. where the router
 * believes the weak model is at least as good, and so leaves the rest of the range to a straight
 * line; RouteLLM sweeps the threshold below that too. `weakScores[i]`, `strongScores[i]` are the
 * two models' qualities on prompt i.
 */
export function pairScoreSweep(routerScores: ArrayLike<number>, weakScores: ArrayLike<number>, strongScores: ArrayLike<number>): StrongSharePoint[] {
  const n = routerScores.length;
  if (weakScores.length !== n || strongScores.length !== n) throw new RangeError('pairScoreSweep: lengths differ');
  if (n === 0) throw new RangeError('pairScoreSweep: no prompts');
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(routerScores[i]!)) throw new RangeError(`pairScoreSweep: router score ${i} is NaN`);
    if (!Number.isFinite(weakScores[i]!) || !Number.isFinite(strongScores[i]!)) throw new RangeError(`pairScoreSweep: quality ${i} is not finite`);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => routerScores[b]! - routerScores[a]!);
  let quality = 0;
  for (let i = 0; i < n; i++) quality += weakScores[i]!;
  const points: StrongSharePoint[] = [{ strongShare: 0, quality: quality / n }];
  for (let r = 0; r < n; ) {
    const s = routerScores[order[r]!]!;
    // One threshold moves every prompt of equal score at once.
    while (r < n && routerScores[order[r]!]! === s) {
      const i = order[r]!;
      quality += strongScores[i]! - weakScores[i]!;
      r++;
    }
    points.push({ strongShare: r / n, quality: quality / n });
  }
  return points;
}

/**
 * Performance Gap Recovered (RouteLLM): (quality − weak) / (strong − weak). 0 = weak-only,
 * 1 = strong-only. NaN when the two models have the same quality (no gap to recover).
 */
export function pgr(quality: number, weakQuality: number, strongQuality: number): number {
  const gap = strongQuality - weakQuality;
  if (gap === 0) return NaN;
  return (quality - weakQuality) / gap;
}

/**
 * The (strongShare, PGR) curve used by APGR and CPT: the router's points plus the two anchors
 * (0, weak) and (1, strong) that every router can reach; points outside [0, 1] are dropped.
 * At a repeated share the best quality is kept (a router can use its better operating point).
 */
function pgrPoints(curve: readonly StrongSharePoint[], q: WeakStrongQualities): XY[] {
  const raw: XY[] = [
    { x: 0, y: 0 },
    { x: 1, y: 1 },
    ...curve.filter((p) => p.strongShare >= 0 && p.strongShare <= 1).map((p) => ({ x: p.strongShare, y: pgr(p.quality, q.weakQuality, q.strongQuality) })),
  ].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  raw.sort((a, b) => a.x - b.x || b.y - a.y);
  const out: XY[] = [];
  for (const p of raw) {
    if (out.length > 0 && out[out.length - 1]!.x === p.x) continue; // best y at this x came first
    out.push(p);
  }
  return out;
}

/**
 * Average Performance Gap Recovered (RouteLLM): ∫₀¹ PGR(s) ds over the strong-call share s.
 * RouteLLM averages PGR over a threshold sweep; we integrate exactly with the trapezoid rule
 * after sorting by share and adding the anchors (0, weak-only) and (1, strong-only). No Pareto
 * cleaning (as in RouteLLM): a router that dips is charged for it. A random router
 * (PGR(s) = s) scores exactly 0.5.
 */
export function apgr(curve: readonly StrongSharePoint[], q: WeakStrongQualities): number {
  if (q.strongQuality === q.weakQuality) return NaN;
  return areaXY(pgrPoints(curve, q), 1);
}

/**
 * Call-Performance Threshold CPT(target) (RouteLLM): the minimum strong-call share at which the
 * interpolated PGR reaches `targetPgr` (e.g. 0.5 for CPT(50%), 0.8 for CPT(80%)); a fraction in
 * [0, 1], not a percent. Reached at the latest at share 1 (strong-only) for targets ≤ 1;
 * Infinity for targets above every point.
 */
export function cpt(curve: readonly StrongSharePoint[], q: WeakStrongQualities, targetPgr: number): number {
  if (q.strongQuality === q.weakQuality) return NaN;
  return firstReachXY(pgrPoints(curve, q), targetPgr);
}

/** Exposed for tests and plots: the Pareto-cleaned (x, y) points, x = cost / maxCost. */
export function normalisedFrontier(curve: DeferralCurve, maxCost: number): { readonly cost: number; readonly quality: number }[] {
  checkMaxCost(maxCost);
  return paretoCleanXY(curve.map((p) => ({ x: p.cost / maxCost, y: p.quality }))).map((p) => ({
    cost: p.x,
    quality: p.y,
  }));
}
