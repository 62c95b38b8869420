/**
 * IndexedDB cache of the computed UniRoute state (centroids and Ψ), so a returning page routes
 * without embedding the validation prompts again.
 *
 *   key   uniroute:v<SCHEMA_VERSION>:<embedderId>:<validationHash>:k<K>
 *   value ProfileEntry (typed arrays, stored by structured clone)
 *
 * Reads check everything before use: an entry written by an older version, another embedder or
 * another validation set, or damaged on disk, is reported and never handed out. Storage errors
 * (quota, blocked, disabled) come out as EdgeRouteError from kv.ts; callers keep routing in memory.
 */
import { EdgeRouteError } from '../../common/errors';
import { promptIndexFolds, type DifficultyState } from '../../core/difficulty-router';
import { PRE_ROUTER_CV } from '../../core/router-choice';
import { kvDelete, kvGet, kvKeys, kvSet, type KvStore } from './kv';

/**
 * Bump when the entry's layout, the k-means / Ψ computation, or the text embedded for a prompt
 * (textForEmbedding) changes: old entries then read as 'stale' and are rebuilt.
 * 2: `difficulty`, the universal-difficulty router's easiness.
 */
export const PROFILE_SCHEMA_VERSION = 2;

/** |‖centroid‖ − 1| allowed: Float32 round-off is ~1e-7; anything far off is damage. */
export const UNIT_NORM_TOLERANCE = 1e-3;

const KEY_PREFIX = 'uniroute:';

export interface CachedModel {
  readonly id: string;
  readonly cost: number;
  readonly local: boolean;
  /** 'validation-set': scored in the shipped set; 'added': joined later by addModel / measureModel. */
  readonly origin: 'validation-set' | 'added';
  /** Added models only: scores on the validation prompts, in prompt order (NaN = not scored). */
  readonly scores?: Float64Array;
  /**
   * Added models measured here: the model's own confidence on each validation prompt, in prompt
   * order (NaN = none), of `confidenceKind` (e.g. 'mean-logprob'); the escalation rule's evidence.
   */
  readonly confidences?: Float64Array;
  readonly confidenceKind?: string;
}

export interface ProfileEntry {
  readonly schemaVersion: number;
  readonly embedderId: string;
  readonly validationHash: string;
  readonly dimension: number;
  /** Requested number of clusters (the key's K); k-means may return fewer (`centroids.length`). */
  readonly k: number;
  /** k-means seed. */
  readonly seed: number;
  /** Unit-norm centroids, each of length `dimension`. */
  readonly centroids: Float32Array[];
  /** Cluster of every validation prompt, in prompt order: P(k|x) of the hard map, for addModel. */
  readonly validationAssignments: Int32Array;
  /** Validation embeddings, flat N×dimension: re-clustering (another K) needs no re-embedding. */
  readonly validationEmbeddings?: Float32Array;
  /** The set's models first (same order), then added ones. */
  readonly models: CachedModel[];
  /** Ψ(h) per model (same order as `models`), each of length centroids.length, values in [0, 1]. */
  readonly featureVectors: Float64Array[];
  /** Mean validation error per model: the shrinkage target. */
  readonly globalErrors: number[];
  /** Pseudo-count m of Ψ's shrinkage. */
  readonly shrinkage: number;
  /**
   * The universal-difficulty router's ridge weights (dimension + 1), each validation prompt's
   * out-of-fold easiness, and its easiness in each cross-validation fold (core/router-choice.ts).
   */
  readonly difficulty: DifficultyState;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** What the reader expects; anything else is not this page's state. */
export interface ProfileExpectation {
  readonly embedderId: string;
  readonly validationHash: string;
  readonly dimension: number;
  readonly k: number;
  readonly seed: number;
  /** Number of validation prompts. */
  readonly promptCount: number;
  /** The validation set's models, in order. */
  readonly models: readonly { readonly id: string; readonly cost: number; readonly local?: boolean }[];
}

export type ProfileReadStatus = 'hit' | 'missing' | 'stale' | 'corrupt' | 'other-embedder';

export type ProfileRead =
  | { readonly status: 'hit'; readonly entry: ProfileEntry }
  | { readonly status: Exclude<ProfileReadStatus, 'hit'>; readonly reason: string };

export interface ProfileKeyParts {
  readonly schemaVersion: number;
  readonly embedderId: string;
  readonly validationHash: string;
  readonly k: number;
}

export function profileKey(parts: Omit<ProfileKeyParts, 'schemaVersion'> & { schemaVersion?: number }): string {
  return `${KEY_PREFIX}v${parts.schemaVersion ?? PROFILE_SCHEMA_VERSION}:${parts.embedderId}:${parts.validationHash}:k${parts.k}`;
}

/** Splits a key from the end, so an embedder id may itself contain ':'. Undefined if not ours. */
export function parseProfileKey(key: string): ProfileKeyParts | undefined {
  const m = /^uniroute:v(\d+):(.+):([0-9a-f]+):k(\d+)$/.exec(key);
  if (!m) return undefined;
  return { schemaVersion: Number(m[1]), embedderId: m[2]!, validationHash: m[3]!, k: Number(m[4]) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Realm-safe typed-array test (instanceof fails across frames / structured-clone realms). */
function isTyped(v: unknown, tag: 'Float32Array' | 'Float64Array' | 'Int32Array'): boolean {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === `[object ${tag}]`;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Thrown inside checks only; turned into a ProfileRead. */
class Reject extends Error {
  constructor(
    readonly status: Exclude<ProfileReadStatus, 'hit' | 'missing'>,
    reason: string,
  ) {
    super(reason);
  }
}

function corrupt(reason: string): never {
  throw new Reject('corrupt', reason);
}

function checkUnitRows(data: Float32Array, rows: number, d: number, what: string): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const x = data[r * d + j]!;
      if (!Number.isFinite(x)) corrupt(`${what} ${r} has a non-finite value at ${j}`);
      s += x * x;
    }
    const n = Math.sqrt(s);
    if (Math.abs(n - 1) > UNIT_NORM_TOLERANCE) corrupt(`${what} ${r} has norm ${n.toFixed(6)}, not 1`);
  }
}

/** Identity: which state this is. Mismatches are 'stale' / 'other-embedder', not damage. */
function checkIdentity(v: Record<string, unknown>, expect: ProfileExpectation): void {
  if (v.schemaVersion !== PROFILE_SCHEMA_VERSION) {
    throw new Reject('stale', `schema version ${String(v.schemaVersion)}, this build reads ${PROFILE_SCHEMA_VERSION}`);
  }
  if (typeof v.embedderId !== 'string') corrupt('embedderId is not a string');
  if (v.embedderId !== expect.embedderId) {
    throw new Reject('other-embedder', `built with embedder "${v.embedderId}", this page uses "${expect.embedderId}"`);
  }
  if (v.validationHash !== expect.validationHash) {
    throw new Reject('stale', `built from validation set ${String(v.validationHash)}, expected ${expect.validationHash}`);
  }
  if (v.k !== expect.k) throw new Reject('stale', `built with K = ${String(v.k)}, expected ${expect.k}`);
  if (v.seed !== expect.seed) throw new Reject('stale', `built with seed ${String(v.seed)}, expected ${expect.seed}`);
}

function checkClusters(v: Record<string, unknown>, expect: ProfileExpectation): number {
  const d = expect.dimension;
  if (v.dimension !== d) corrupt(`dimension ${String(v.dimension)}, the embedder gives ${d}`);
  const centroids = v.centroids;
  if (!Array.isArray(centroids) || centroids.length < 1 || centroids.length > expect.k) {
    corrupt(`expected 1..${expect.k} centroids, found ${Array.isArray(centroids) ? centroids.length : typeof centroids}`);
  }
  centroids.forEach((c: unknown, i) => {
    if (!isTyped(c, 'Float32Array') || (c as Float32Array).length !== d) corrupt(`centroid ${i} is not a Float32Array of length ${d}`);
    checkUnitRows(c as Float32Array, 1, d, `centroid ${i}`);
  });
  const clusters = centroids.length;
  const n = expect.promptCount;
  const a = v.validationAssignments;
  if (!isTyped(a, 'Int32Array') || (a as Int32Array).length !== n) corrupt(`validationAssignments is not an Int32Array of length ${n}`);
  (a as Int32Array).forEach((c, i) => {
    if (c < 0 || c >= clusters) corrupt(`validation prompt ${i} is assigned to cluster ${c} of ${clusters}`);
  });
  const e = v.validationEmbeddings;
  if (e !== undefined) {
    if (!isTyped(e, 'Float32Array') || (e as Float32Array).length !== n * d) {
      corrupt(`validationEmbeddings is not a Float32Array of length ${n}×${d}`);
    }
    checkUnitRows(e as Float32Array, n, d, 'validation embedding');
  }
  return clusters;
}

function checkModels(v: Record<string, unknown>, expect: ProfileExpectation): CachedModel[] {
  const models = v.models;
  if (!Array.isArray(models) || models.length < expect.models.length) corrupt("models is missing or shorter than the set's");
  const seen = new Set<string>();
  models.forEach((m: unknown, i) => {
    if (!isObject(m) || typeof m.id !== 'string' || !isFiniteNumber(m.cost) || m.cost < 0 || typeof m.local !== 'boolean') {
      corrupt(`models[${i}] is not { id, cost ≥ 0, local }`);
    }
    if (seen.has(m.id)) corrupt(`model "${m.id}" appears twice`);
    seen.add(m.id);
    const want = expect.models[i];
    if (want !== undefined) {
      if (m.origin !== 'validation-set' || m.id !== want.id || m.cost !== want.cost || m.local !== (want.local === true)) {
        corrupt(`models[${i}] is "${m.id}", the validation set has "${want.id}" there`);
      }
      return;
    }
    if (m.origin !== 'added') corrupt(`models[${i}] ("${m.id}") is not from the set and not marked added`);
    const s = m.scores;
    if (!isTyped(s, 'Float64Array') || (s as Float64Array).length !== expect.promptCount) {
      corrupt(`added model "${m.id}" has no Float64Array of ${expect.promptCount} scores`);
    }
    // NaN marks a prompt the model was not scored on; anything else must be a score.
    (s as Float64Array).forEach((x, j) => {
      if (!Number.isNaN(x) && !(x >= 0 && x <= 1)) corrupt(`added model "${m.id}" has score ${x} on prompt ${j}`);
    });
    if (m.confidences !== undefined || m.confidenceKind !== undefined) {
      const c = m.confidences;
      if (!isTyped(c, 'Float64Array') || (c as Float64Array).length !== expect.promptCount || typeof m.confidenceKind !== 'string' || m.confidenceKind === '') {
        corrupt(`added model "${m.id}" has confidences without ${expect.promptCount} of them in a Float64Array and their kind`);
      }
    }
  });
  return models as CachedModel[];
}

function checkFiniteArray(x: unknown, length: number, what: string): void {
  if (!isTyped(x, 'Float64Array') || (x as Float64Array).length !== length) corrupt(`${what} is not a Float64Array of length ${length}`);
  if (!(x as Float64Array).every(Number.isFinite)) corrupt(`${what} has a non-finite value`);
}

function checkDifficulty(v: Record<string, unknown>, expect: ProfileExpectation): void {
  const x = v.difficulty;
  if (!isObject(x)) corrupt('difficulty is missing');
  const n = expect.promptCount;
  checkFiniteArray(x.weights, expect.dimension + 1, 'difficulty.weights');
  checkFiniteArray(x.easiness, n, 'difficulty.easiness');
  const folds = promptIndexFolds(n, PRE_ROUTER_CV.seed, PRE_ROUTER_CV.repeats).length;
  if (!Array.isArray(x.foldEasiness) || x.foldEasiness.length !== folds) corrupt(`difficulty.foldEasiness is not ${folds} arrays`);
  x.foldEasiness.forEach((f: unknown, i) => checkFiniteArray(f, n, `difficulty.foldEasiness[${i}]`));
}

function checkFeatures(v: Record<string, unknown>, modelCount: number, clusters: number): void {
  const fvs = v.featureVectors;
  if (!Array.isArray(fvs) || fvs.length !== modelCount) corrupt(`expected ${modelCount} feature vectors`);
  fvs.forEach((f: unknown, h) => {
    if (!isTyped(f, 'Float64Array') || (f as Float64Array).length !== clusters) {
      corrupt(`feature vector ${h} is not a Float64Array of length ${clusters}`);
    }
    (f as Float64Array).forEach((x, k) => {
      if (!(x >= 0 && x <= 1)) corrupt(`feature vector ${h} has ${x} at cluster ${k}; errors lie in [0, 1]`);
    });
  });
  const g = v.globalErrors;
  if (!Array.isArray(g) || g.length !== modelCount || !g.every((x: unknown) => isFiniteNumber(x) && x >= 0 && x <= 1)) {
    corrupt(`globalErrors must be ${modelCount} numbers in [0, 1]`);
  }
  if (!isFiniteNumber(v.shrinkage) || v.shrinkage < 0) corrupt(`shrinkage ${String(v.shrinkage)} is not a number ≥ 0`);
  if (!isFiniteNumber(v.createdAt)) corrupt('createdAt is not a number');
}

/** Checks a stored value in full; returns why it cannot be used, or the typed entry. */
export function checkProfileEntry(value: unknown, expect: ProfileExpectation): ProfileRead {
  try {
    if (!isObject(value)) corrupt(`the stored value is ${value === null ? 'null' : typeof value}, not an entry`);
    checkIdentity(value, expect);
    const clusters = checkClusters(value, expect);
    const models = checkModels(value, expect);
    checkFeatures(value, models.length, clusters);
    checkDifficulty(value, expect);
    return { status: 'hit', entry: value as unknown as ProfileEntry };
  } catch (error) {
    if (error instanceof Reject) return { status: error.status, reason: error.message };
    throw error;
  }
}

/**
 * Reads and checks the entry at `key`. Never returns an unusable entry. Storage failures throw
 * EdgeRouteError ('storage-failed' / 'storage-quota').
 */
export async function readProfileEntry(store: KvStore, key: string, expect: ProfileExpectation): Promise<ProfileRead> {
  const value = await kvGet<unknown>(store, key);
  if (value === undefined) return { status: 'missing', reason: `no entry at ${key}` };
  return checkProfileEntry(value, expect);
}

export async function writeProfileEntry(store: KvStore, key: string, entry: ProfileEntry): Promise<void> {
  await kvSet(store, key, entry);
}

export async function deleteProfileEntry(store: KvStore, key: string): Promise<void> {
  await kvDelete(store, key);
}

/** An entry for the same validation set under another key: built by an older schema or another embedder. */
export interface SupersededEntry {
  readonly key: string;
  readonly status: 'stale' | 'other-embedder';
  readonly reason: string;
}

/**
 * Keys holding this validation set's state for an older schema or another embedder (same K).
 * They are what a 'missing' read replaces: the caller rebuilds and may delete them to free space.
 */
export async function findSupersededEntries(store: KvStore, current: Omit<ProfileKeyParts, 'schemaVersion'>): Promise<SupersededEntry[]> {
  const out: SupersededEntry[] = [];
  for (const key of await kvKeys(store)) {
    const parts = parseProfileKey(key);
    if (!parts || parts.validationHash !== current.validationHash || parts.k !== current.k) continue;
    if (parts.schemaVersion !== PROFILE_SCHEMA_VERSION) {
      out.push({ key, status: 'stale', reason: `entry of schema v${parts.schemaVersion} at ${key}` });
    } else if (parts.embedderId !== current.embedderId) {
      out.push({ key, status: 'other-embedder', reason: `entry of embedder "${parts.embedderId}" at ${key}` });
    }
  }
  return out;
}

/** True for the errors kv.ts raises when IndexedDB refuses (the caller then stays in memory). */
export function isStorageError(error: unknown): error is EdgeRouteError {
  return error instanceof EdgeRouteError && (error.code === 'storage-failed' || error.code === 'storage-quota' || error.code === 'storage-unavailable');
}
