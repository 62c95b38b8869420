/**
 * K, the number of k-means clusters, chosen by cross-validation: for each candidate K, k-means
 * on `points`, then per fold Ψ from the fit part and the deferral area of hard-assignment
 * UniRoute on the held part; the one-standard-error rule over the folds, smallest K first. The
 * benchmark (bench/protocol.ts) and the worker (its profile's K) both call it. Pure.
 */
import { oneStandardErrorChoice, type Fold } from './cross-validation';
import { evaluateRouter } from './evaluation';
import { kmeans } from './kmeans';
import { deferralArea } from './metrics';
import type { LabelledPrompt, ModelSpec } from './types';
import { buildProfile, hardClusterMap, UniRouteRouter } from './uniroute';

/** The benchmark's candidates. */
export const CLUSTER_CANDIDATES: readonly number[] = [1, 2, 4, 8, 16, 32, 64];

/** Points per cluster on average below which a K is not tried: its centroids would be noise. */
export const MIN_POINTS_PER_CLUSTER = 10;

export interface ClusterCountInput {
  /** What k-means clusters (the embeddings of the prompts the clusters are fitted on). */
  readonly points: readonly Float32Array[];
  /** Ψ is built on each fold's fit part, the deferral area measured on its held part. */
  readonly folds: readonly Fold<LabelledPrompt>[];
  readonly models: readonly ModelSpec[];
  readonly candidates?: readonly number[];
  readonly seed: number;
  /** Pseudo-count of Ψ's shrinkage (default DEFAULT_SHRINKAGE). */
  readonly shrinkage?: number;
}

export interface ClusterCountChoice {
  readonly k: number;
  /** k-means' centroids at that K. */
  readonly centroids: Float32Array[];
  /** Mean held-out deferral area of each K tried. */
  readonly scores: Readonly<Record<string, number>>;
}

export function chooseClusterCount(input: ClusterCountInput): ClusterCountChoice {
  const { points, folds, models, seed } = input;
  const maxCost = Math.max(...models.map((m) => m.cost));
  const usable = [...new Set((input.candidates ?? CLUSTER_CANDIDATES).filter((k) => k === 1 || k * MIN_POINTS_PER_CLUSTER <= points.length))].sort(
    (a, b) => a - b,
  );
  const tried = (usable.length > 0 ? usable : [1]).map((k) => {
    const { centroids } = kmeans(points, { k, seed });
    const map = hardClusterMap(centroids);
    const areas = folds.map(([fit, held]) =>
      deferralArea(
        evaluateRouter(
          new UniRouteRouter(
            buildProfile({ validation: fit, models, clusterMap: map, ...(input.shrinkage !== undefined ? { shrinkage: input.shrinkage } : {}) }),
          ),
          held,
        ),
        maxCost,
      ),
    );
    return { k, centroids, areas, mean: areas.reduce((a, b) => a + b, 0) / Math.max(1, areas.length) };
  });
  const chosen = tried[oneStandardErrorChoice(tried.map((t) => t.areas))]!;
  return { k: chosen.k, centroids: chosen.centroids, scores: Object.fromEntries(tried.map((t) => [String(t.k), t.mean])) };
}
