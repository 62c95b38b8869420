import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { kvGet, kvKeys, kvSet, openKvStore, type KvStore } from '../../../src/worker/storage/kv';
import { promptIndexFolds } from '../../../src/core/difficulty-router';
import { PRE_ROUTER_CV } from '../../../src/core/router-choice';
import {
  PROFILE_SCHEMA_VERSION,
  deleteProfileEntry,
  findSupersededEntries,
  parseProfileKey,
  profileKey,
  readProfileEntry,
  writeProfileEntry,
  type ProfileEntry,
  type ProfileExpectation,
} from '../../../src/worker/storage/profile-cache';

let dbCount = 0;
const freshStore = (): KvStore => openKvStore(`profile-cache-test-${dbCount++}`, 'cache');

const HASH = 'ab'.repeat(32);
const expect0: ProfileExpectation = {
  embedderId: 'fake:hash-4',
  validationHash: HASH,
  dimension: 4,
  k: 2,
  seed: 0,
  promptCount: 3,
  models: [
    { id: 'local', cost: 0, local: true },
    { id: 'cloud', cost: 0.001 },
  ],
};
const key0 = profileKey(expect0);

function entry(): ProfileEntry {
  return {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    embedderId: expect0.embedderId,
    validationHash: HASH,
    dimension: 4,
    k: 2,
    seed: 0,
    centroids: [new Float32Array([1, 0, 0, 0]), new Float32Array([0, 0.6, 0.8, 0])],
    validationAssignments: new Int32Array([0, 1, 1]),
    validationEmbeddings: new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]),
    models: [
      { id: 'local', cost: 0, local: true, origin: 'validation-set' },
      { id: 'cloud', cost: 0.001, local: false, origin: 'validation-set' },
      { id: 'new', cost: 0.002, local: false, origin: 'added', scores: new Float64Array([1, NaN, 0]) },
    ],
    featureVectors: [new Float64Array([0.5, 0.25]), new Float64Array([0.1, 0.2]), new Float64Array([0.3, 0.4])],
    globalErrors: [0.4, 0.15, 0.35],
    shrinkage: 5,
    difficulty: {
      weights: new Float64Array([0.1, 0.2, -0.3, 0.4, 0]),
      easiness: new Float64Array([0.5, -0.5, 0]),
      foldEasiness: Array.from({ length: promptIndexFolds(3, PRE_ROUTER_CV.seed, PRE_ROUTER_CV.repeats).length }, () => new Float64Array([0.1, 0.2, 0.3])),
    },
    createdAt: 1_700_000_000_000,
  };
}

/** Writes a modified entry (or any value) and reads it back. */
async function readBack(value: unknown, expectation = expect0): Promise<{ status: string; reason?: string }> {
  const store = freshStore();
  await kvSet(store, key0, value);
  const read = await readProfileEntry(store, key0, expectation);
  return read.status === 'hit' ? { status: 'hit' } : { status: read.status, reason: read.reason };
}

describe('profile keys', () => {
  it('lay out schema, embedder, validation hash and K, and parse back (embedder ids may hold ":")', () => {
    expect(key0).toBe(`uniroute:v${PROFILE_SCHEMA_VERSION}:fake:hash-4:${HASH}:k2`);
    expect(parseProfileKey(key0)).toEqual({ schemaVersion: PROFILE_SCHEMA_VERSION, embedderId: 'fake:hash-4', validationHash: HASH, k: 2 });
    expect(parseProfileKey('embedding:abc')).toBeUndefined();
  });
});

describe('readProfileEntry', () => {
  it('round-trips an entry through IndexedDB as a hit, typed arrays intact', async () => {
    const store = freshStore();
    await writeProfileEntry(store, key0, entry());
    const read = await readProfileEntry(store, key0, expect0);
    expect(read.status).toBe('hit');
    if (read.status !== 'hit') return;
    expect(read.entry.centroids[1]).toBeInstanceOf(Float32Array);
    expect(read.entry.featureVectors[2]).toEqual(new Float64Array([0.3, 0.4]));
    expect(Number.isNaN(read.entry.models[2]!.scores![1]!)).toBe(true);
    await deleteProfileEntry(store, key0);
    expect((await readProfileEntry(store, key0, expect0)).status).toBe('missing');
  });

  it('accepts an entry without cached embeddings', async () => {
    const { validationEmbeddings: _, ...rest } = entry();
    expect((await readBack(rest)).status).toBe('hit');
  });

  it('reports a missing key', async () => {
    expect((await readProfileEntry(freshStore(), key0, expect0)).status).toBe('missing');
  });

  it('reports identity mismatches as stale or other-embedder', async () => {
    expect(await readBack({ ...entry(), schemaVersion: PROFILE_SCHEMA_VERSION - 1 })).toMatchObject({
      status: 'stale',
      reason: expect.stringMatching(/schema version/),
    });
    expect(await readBack({ ...entry(), embedderId: 'use-lite' })).toMatchObject({ status: 'other-embedder', reason: expect.stringMatching(/"use-lite"/) });
    expect(await readBack({ ...entry(), validationHash: 'cd'.repeat(32) })).toMatchObject({ status: 'stale', reason: expect.stringMatching(/validation set/) });
    expect(await readBack({ ...entry(), seed: 7 })).toMatchObject({ status: 'stale' });
    expect(await readBack({ ...entry(), k: 3 })).toMatchObject({ status: 'stale' });
  });

  it('reports every kind of damage as corrupt, with a reason', async () => {
    const e = entry();
    const cases: [string, unknown, RegExp][] = [
      ['garbage string', 'not an entry', /string, not an entry/],
      ['null', null, /null/],
      ['wrong dimension', { ...e, dimension: 5 }, /dimension 5/],
      ['too many centroids', { ...e, centroids: [...e.centroids, new Float32Array([0, 0, 0, 1])] }, /1\.\.2 centroids/],
      ['centroid of wrong length', { ...e, centroids: [new Float32Array([1, 0, 0]), e.centroids[1]] }, /centroid 0 is not a Float32Array of length 4/],
      ['centroid as plain array', { ...e, centroids: [[1, 0, 0, 0], e.centroids[1]] }, /centroid 0 is not a Float32Array/],
      ['non-unit centroid', { ...e, centroids: [new Float32Array([2, 0, 0, 0]), e.centroids[1]] }, /norm 2\.000000, not 1/],
      ['NaN centroid', { ...e, centroids: [new Float32Array([NaN, 0, 0, 0]), e.centroids[1]] }, /non-finite/],
      ['short assignments', { ...e, validationAssignments: new Int32Array([0, 1]) }, /validationAssignments/],
      ['assignment out of range', { ...e, validationAssignments: new Int32Array([0, 2, 1]) }, /cluster 2 of 2/],
      ['short embeddings', { ...e, validationEmbeddings: new Float32Array(8) }, /validationEmbeddings/],
      ['NaN embedding', { ...e, validationEmbeddings: new Float32Array(12).fill(NaN) }, /non-finite/],
      ['fewer models than the set', { ...e, models: e.models.slice(0, 1) }, /shorter than the set/],
      ['set model renamed', { ...e, models: [{ ...e.models[0], id: 'other' }, e.models[1], e.models[2]] }, /models\[0\] is "other"/],
      ['set model cost changed', { ...e, models: [e.models[0], { ...e.models[1], cost: 1 }, e.models[2]] }, /models\[1\]/],
      ['duplicate model', { ...e, models: [...e.models, e.models[2]] }, /appears twice/],
      ['added model without scores', { ...e, models: [e.models[0], e.models[1], { ...e.models[2], scores: undefined }] }, /no Float64Array of 3 scores/],
      [
        'added model score out of range',
        { ...e, models: [e.models[0], e.models[1], { ...e.models[2], scores: new Float64Array([2, 0, 0]) }] },
        /score 2 on prompt 0/,
      ],
      ['negative cost', { ...e, models: [e.models[0], e.models[1], { ...e.models[2], cost: -1 }] }, /models\[2\]/],
      ['missing feature vector', { ...e, featureVectors: e.featureVectors.slice(0, 2) }, /expected 3 feature vectors/],
      ['feature vector of wrong length', { ...e, featureVectors: [new Float64Array([0.5]), e.featureVectors[1], e.featureVectors[2]] }, /feature vector 0/],
      ['NaN in a feature vector', { ...e, featureVectors: [new Float64Array([NaN, 0.2]), e.featureVectors[1], e.featureVectors[2]] }, /NaN at cluster 0/],
      [
        'feature vector as Float32Array',
        { ...e, featureVectors: [new Float32Array([0.5, 0.25]), e.featureVectors[1], e.featureVectors[2]] },
        /feature vector 0 is not a Float64Array/,
      ],
      ['global error NaN', { ...e, globalErrors: [NaN, 0.1, 0.2] }, /globalErrors/],
      ['shrinkage negative', { ...e, shrinkage: -1 }, /shrinkage/],
      ['createdAt missing', { ...e, createdAt: undefined }, /createdAt/],
      ['difficulty missing', { ...e, difficulty: undefined }, /difficulty is missing/],
      [
        'difficulty weights of wrong length',
        { ...e, difficulty: { ...e.difficulty, weights: new Float64Array(4) } },
        /difficulty\.weights is not a Float64Array of length 5/,
      ],
      ['NaN easiness', { ...e, difficulty: { ...e.difficulty, easiness: new Float64Array([0, NaN, 0]) } }, /difficulty\.easiness has a non-finite value/],
      [
        'a fold easiness short',
        { ...e, difficulty: { ...e.difficulty, foldEasiness: e.difficulty.foldEasiness.slice(1) } },
        /difficulty\.foldEasiness is not \d+ arrays/,
      ],
    ];
    for (const [name, value, reason] of cases) {
      const read = await readBack(value);
      expect(read.status, name).toBe('corrupt');
      expect(read.reason, name).toMatch(reason);
    }
  });

  it('surfaces storage failures as EdgeRouteError for the caller to fall back on memory', async () => {
    const failing: KvStore = {
      dbName: 'x',
      storeName: 'y',
      use: () => Promise.reject(new DOMException('quota', 'QuotaExceededError')),
    };
    await expect(writeProfileEntry(failing, key0, entry())).rejects.toMatchObject({ code: 'storage-quota' });
    await expect(readProfileEntry(failing, key0, expect0)).rejects.toMatchObject({ code: 'storage-quota' });
  });
});

describe('findSupersededEntries', () => {
  it("finds this set's entries of an older schema or another embedder, and nothing else", async () => {
    const store = freshStore();
    const old = profileKey({ ...expect0, schemaVersion: PROFILE_SCHEMA_VERSION - 1 });
    const other = profileKey({ ...expect0, embedderId: 'use-lite@1' });
    const otherK = profileKey({ ...expect0, embedderId: 'use-lite@1', k: 8 });
    const otherSet = profileKey({ ...expect0, embedderId: 'use-lite@1', validationHash: 'cd'.repeat(32) });
    for (const k of [key0, old, other, otherK, otherSet, 'embedding:xyz']) await kvSet(store, k, 1);
    const found = await findSupersededEntries(store, expect0);
    expect(found.map((f) => [f.key, f.status]).sort()).toEqual(
      [
        [old, 'stale'],
        [other, 'other-embedder'],
      ].sort(),
    );
    expect(await kvKeys(store)).toHaveLength(6);
    expect(await kvGet(store, key0)).toBe(1);
  });
});
