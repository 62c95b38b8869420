/**
 * Which pre-generation router a profile uses, chosen by the benchmark's cross-validation on its
 * validation prompts: UniRoute with the profile's k-means clusters, or the universal-difficulty
 * router (difficulty-router.ts) on the same clusters. Each is fitted on a fold's fit half and
 * judged by deferral area on the held half; the one-standard-error rule keeps UniRoute unless
 * the other is ahead beyond noise. Works from the prompts' clusters, scores and stored easiness
 * alone (no embeddings), so a model that joins later is judged the same way. Pure, no DOM or I/O.
 */
import { oneStandardErrorChoice } from './cross-validation';
import { difficultyError, fitDifficultyCoefficients, promptIndexFolds, type DifficultyState } from './difficulty-router';
import { evaluatePredictions } from './evaluation';
import { deferralArea } from './metrics';
import type { LabelledPrompt, ModelSpec } from './types';
import { shrunkFeatureVector } from './uniroute';

/** Simplest first: the order the one-standard-error rule breaks near-ties in. */
export const PRE_ROUTERS = ['uniroute-kmeans', 'irt-difficulty'] as const;
export type PreRouterName = (typeof PRE_ROUTERS)[number];

/** The halvings every pre-router choice uses (the benchmark's: seed 0, three repeats, both ways round). */
export const PRE_ROUTER_CV = { seed: 0, repeats: 3 } as const;

/** Fewest held prompts (every pool model scored) a fold is judged on; fewer cannot tell routers apart. */
export const MIN_PRE_ROUTER_EVIDENCE = 40;

export interface PreRouterEvidence {
  /** Hard cluster of each validation prompt. */
  readonly assignments: ArrayLike<number>;
  readonly clusters: number;
  readonly models: readonly ModelSpec[];
  /** Per model (same order): its score on each prompt, NaN = not scored. */
  readonly scores: readonly ArrayLike<number>[];
  /** Ψ's shrinkage pseudo-count. */
  readonly shrinkage: number;
  /** Fitted with PRE_ROUTER_CV's folds. */
  readonly difficulty: DifficultyState;
}

export interface PreRouterChoice {
  readonly name: PreRouterName;
  /** Mean held-out deferral area of each candidate. */
  readonly cvAreas: Readonly<Record<PreRouterName, number>>;
  readonly folds: number;
}

const oneHot = (k: number, K: number): Float64Array => {
  const p = new Float64Array(K);
  p[k] = 1;
  return p;
};

/**
 * The cross-validated choice for `evidence.models` (the pool routed over), or undefined when a
 * fold would be judged on fewer than MIN_PRE_ROUTER_EVIDENCE prompts (then UniRoute, the default).
 */
export function choosePreRouter(evidence: PreRouterEvidence): PreRouterChoice | undefined {
  const { assignments, clusters: K, models, scores, shrinkage, difficulty } = evidence;
  const n = assignments.length;
  if (scores.length !== models.length) throw new RangeError(`choosePreRouter: ${scores.length} score rows for ${models.length} models`);
  const maxCost = Math.max(...models.map((m) => m.cost));
  const complete = (i: number): boolean => scores.every((s) => !Number.isNaN(s[i]!));
  const folds = promptIndexFolds(n, PRE_ROUTER_CV.seed, PRE_ROUTER_CV.repeats);
  if (folds.length !== difficulty.foldEasiness.length)
    throw new RangeError(`choosePreRouter: ${difficulty.foldEasiness.length} fold easiness arrays for ${folds.length} folds`);
  const judged = folds.map(([, held]) => held.filter(complete));
  if (judged.length === 0 || judged.some((h) => h.length < MIN_PRE_ROUTER_EVIDENCE)) return undefined;
  // Ψ and each logistic need every candidate scored somewhere in every fit half.
  if (folds.some(([fit]) => scores.some((s) => fit.every((i) => Number.isNaN(s[i]!))))) return undefined;
  const probabilities = Array.from({ length: n }, (_, i) => oneHot(assignments[i]!, K));
  const prompt = (i: number): LabelledPrompt => ({
    id: String(i),
    embedding: new Float32Array(0),
    scores: Object.fromEntries(models.map((m, h) => [m.id, scores[h]![i]!])),
  });
  const areas: number[][] = PRE_ROUTERS.map(() => []);
  folds.forEach(([fit], f) => {
    const held = judged[f]!;
    const heldPrompts = held.map(prompt);
    const fitProbabilities = new Float64Array(fit.length * K);
    fit.forEach((i, j) => fitProbabilities.set(probabilities[i]!, j * K));
    const psi = scores.map(
      (s, h) =>
        shrunkFeatureVector(
          fitProbabilities,
          K,
          Float64Array.from(fit, (i) => 1 - s[i]!),
          shrinkage,
          `pre-router choice (${models[h]!.id})`,
        ).featureVector,
    );
    const easiness = difficulty.foldEasiness[f]!;
    const coefficients = scores.map((s) =>
      fitDifficultyCoefficients(
        fit.map((i) => easiness[i]!),
        fit.map((i) => probabilities[i]!),
        fit.map((i) => s[i]!),
      ),
    );
    const predictions: Record<PreRouterName, Float64Array[]> = {
      'uniroute-kmeans': held.map((i) => Float64Array.from(psi, (v) => v[assignments[i]!]!)),
      'irt-difficulty': held.map((i) => Float64Array.from(coefficients, (c) => difficultyError(c, easiness[i]!, probabilities[i]!))),
    };
    PRE_ROUTERS.forEach((name, j) => {
      areas[j]!.push(deferralArea(evaluatePredictions(predictions[name], heldPrompts, models, undefined, { maxPoints: Infinity }), maxCost));
    });
  });
  const mean = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
  return {
    name: PRE_ROUTERS[oneStandardErrorChoice(areas)]!,
    cvAreas: Object.fromEntries(PRE_ROUTERS.map((r, j) => [r, mean(areas[j]!)])) as Record<PreRouterName, number>,
    folds: folds.length,
  };
}
