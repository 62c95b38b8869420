/**
 * Shared vocabulary of the routing core. Pure data types: no DOM, no I/O.
 *
 * Conventions (the papers' words):
 * - an embedding is a unit-norm vector φ(x) of one prompt;
 * - a model's score on a prompt is a quality in [0, 1]; its error is 1 - score;
 * - cost(h) is the price of one call to model h in USD (the mean per-call cost on
 *   validation prompts when per-call costs are known); a local model costs 0;
 * - λ (lambda) trades predicted error against cost: route x to
 *   argmin_h [ predictedError_h(x) + λ·cost(h) ].
 */

/** A unit-norm embedding. Float32Array so it is compact across the worker boundary and in IndexedDB. */
export type Embedding = Float32Array;

/** One model in the pool, in the order every per-model vector uses. */
export interface ModelSpec {
  readonly id: string;
  /** USD per call (0 for a model on the user's device). Must be finite and ≥ 0. */
  readonly cost: number;
}

/** One prompt with known outcomes: used for training, validation and test splits. */
export interface LabelledPrompt {
  readonly id: string;
  readonly embedding: Embedding;
  /** model id → quality in [0, 1] (1 = correct). */
  readonly scores: Readonly<Record<string, number>>;
  /** model id → USD of that call, where recorded. */
  readonly costs?: Readonly<Record<string, number>>;
  /** model id → the model's own confidence in its answer (higher = surer), where recorded. */
  readonly confidences?: Readonly<Record<string, number>>;
}

/** What a router sees of one prompt at decision time. */
export interface RoutingInput {
  readonly embedding: Embedding;
  /**
   * The local model's own confidence in the answer it already gave (cascade / hybrid only).
   * Absent when deciding before generation.
   */
  readonly localConfidence?: number;
}

/**
 * A router in RouteLLM's sense: one class, one scoring method. It predicts, for every model in
 * `models` (same order), the expected error on this prompt. The decision rule and the λ sweep
 * that traces the deferral curve are shared (see `route` in uniroute.ts), so every router is
 * evaluated the same way.
 */
export interface Router {
  readonly name: string;
  readonly models: readonly ModelSpec[];
  predictErrors(input: RoutingInput): Float64Array;
}

/** One operating point of a router on a test set. */
export interface DeferralPoint {
  /** λ that produced it (NaN for points that are not from a λ sweep, e.g. single models). */
  readonly lambda: number;
  /** mean USD per prompt. */
  readonly cost: number;
  /** mean quality in [0, 1]. */
  readonly quality: number;
  /** share of prompts sent to each model, by model id. */
  readonly shares?: Readonly<Record<string, number>>;
}

/** The quality/cost trade-off curve, cost ascending. */
export type DeferralCurve = readonly DeferralPoint[];
