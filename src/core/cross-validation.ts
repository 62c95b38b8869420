/**
 * The cross-validation every fitted choice uses, in the benchmark and in the worker alike: a
 * seeded split, repeated halvings of the validation prompts, and the one-standard-error rule.
 * Pure, no DOM or I/O.
 */
import { createRng } from './random';

export interface PromptSplit<T> {
  readonly train: T[];
  readonly validation: T[];
  readonly test: T[];
}

export interface SplitOptions<T> {
  /**
   * Items with the same key always land in the same part, e.g. the two turns of one MT-Bench
   * question (turn 2's prompt contains turn 1): `(it) => it.id.replace(/\/\d+$/, '')`.
   */
  readonly groupKey?: (item: T) => string;
}

/**
 * Seeded random split into train / validation / test by `fractions` (must sum to 1).
 * Deterministic for a seed and item order; each part keeps the input order. Counts are
 * rounded (round(n·f0), round(n·f1), rest), over groups when groupKey is given.
 */
export function splitPrompts<T>(
  items: readonly T[],
  seed: number,
  fractions: readonly [number, number, number] = [0.6, 0.1, 0.3],
  options: SplitOptions<T> = {},
): PromptSplit<T> {
  if (fractions.length !== 3 || fractions.some((f) => !(f >= 0)) || Math.abs(fractions[0] + fractions[1] + fractions[2] - 1) > 1e-9) {
    throw new RangeError(`fractions must be three numbers ≥ 0 summing to 1, got [${fractions.join(', ')}]`);
  }
  const groupKey = options.groupKey;
  const groupIndex = new Map<string, number>();
  const itemGroup = items.map((it, i) => {
    const k = groupKey ? groupKey(it) : String(i);
    let g = groupIndex.get(k);
    if (g === undefined) {
      g = groupIndex.size;
      groupIndex.set(k, g);
    }
    return g;
  });
  const nGroups = groupIndex.size;
  const order = createRng(seed).shuffle(Array.from({ length: nGroups }, (_, g) => g));
  const nTrain = Math.round(nGroups * fractions[0]);
  const nVal = Math.min(nGroups - nTrain, Math.round(nGroups * fractions[1]));
  const part = new Uint8Array(nGroups); // 0 train, 1 validation, 2 test
  order.forEach((g, rank) => {
    part[g] = rank < nTrain ? 0 : rank < nTrain + nVal ? 1 : 2;
  });
  const out: PromptSplit<T> = { train: [], validation: [], test: [] };
  items.forEach((it, i) => {
    const p = part[itemGroup[i]];
    (p === 0 ? out.train : p === 1 ? out.validation : out.test).push(it);
  });
  return out;
}

/**
 * The one-standard-error rule over candidates listed simplest first: the first whose fold-wise
 * (paired) shortfall against the best candidate is within one standard error. A few hundred
 * validation prompts cannot tell close candidates apart, and the more complex one only adds noise.
 */
export function oneStandardErrorChoice(areas: readonly (readonly number[])[]): number {
  const means = areas.map((a) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length));
  let best = 0;
  means.forEach((m, i) => {
    if (m > means[best]! + 1e-12) best = i;
  });
  const chosen = areas.findIndex((a) => {
    const d = a.map((v, i) => v - areas[best]![i]!);
    const mean = d.reduce((x, y) => x + y, 0) / Math.max(1, d.length);
    const se = d.length > 1 ? Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / (d.length - 1) / d.length) : 0;
    return mean + se >= 0;
  });
  return chosen === -1 ? best : chosen;
}

/** One cross-validation fold: fit on the first part, judge on the second. */
export type Fold<T> = readonly [fit: T[], held: T[]];

/**
 * `repeats` seeded halvings of the validation prompts, each used both ways round: the folds of
 * every cross-validated choice. A held half is judged on its prompts that pass `complete` (e.g.
 * every model was scored on them), as a test split is.
 */
export function validationFolds<T>(validation: readonly T[], seed: number, repeats: number, complete: (x: T) => boolean = () => true): Fold<T>[] {
  const folds: Fold<T>[] = [];
  for (let r = 0; r < repeats; r++) {
    const { train: a, validation: b } = splitPrompts(validation, (seed ^ 0xc1) + 7919 * r, [0.5, 0.5, 0]);
    for (const [fit, held] of [
      [a, b],
      [b, a],
    ] as const) {
      const judged = held.filter(complete);
      if (fit.length > 0 && judged.length > 0) folds.push([fit, judged]);
    }
  }
  return folds;
}
