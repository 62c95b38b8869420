/** Synthetic prompts for the UniRoute tests: two well-separated clusters in 8-d. */
import { createRng } from '../../src/core/random';
import type { Embedding, LabelledPrompt, ModelSpec } from '../../src/core/types';

export const DIM = 8;

export function unit(i: number, dim = DIM): Float32Array {
  const v = new Float32Array(dim);
  v[i] = 1;
  return v;
}

/** A noisy unit vector near axis `axis`. */
export function near(axis: number, rng: ReturnType<typeof createRng>, noise = 0.05): Embedding {
  const v = unit(axis);
  for (let j = 0; j < DIM; j++) v[j] = v[j]! + noise * rng.normal();
  let s = 0;
  for (let j = 0; j < DIM; j++) s += v[j]! * v[j]!;
  for (let j = 0; j < DIM; j++) v[j] = v[j]! / Math.sqrt(s);
  return v;
}

export const MODELS: readonly ModelSpec[] = [
  { id: 'A', cost: 0.002 },
  { id: 'B', cost: 0.001 },
];

/**
 * `n1` prompts near axis 0 (cluster 1) then `n2` near axis 1 (cluster 2).
 * Model A is right on cluster 1 and wrong on cluster 2; model B the reverse.
 */
export function twoClusterPrompts(n1: number, n2: number, seed: number, prefix = 'p'): LabelledPrompt[] {
  const rng = createRng(seed);
  const out: LabelledPrompt[] = [];
  for (let i = 0; i < n1 + n2; i++) {
    const first = i < n1;
    out.push({
      id: `${prefix}${i}`,
      embedding: near(first ? 0 : 1, rng),
      scores: { A: first ? 1 : 0, B: first ? 0 : 1 },
    });
  }
  return out;
}
