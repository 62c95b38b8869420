/**
 * On-disk embedding cache for the benchmark, so a rerun embeds nothing it embedded before.
 *
 * Layout: <cacheDir>/<sanitised embedder id>/
 *   shard-<time>-<rand>.f32   rows of `dimension` little-endian float32, no header
 *   shard-<time>-<rand>.json  { version, embedderId, dimension, count, hashes[] } — row i of the
 *                             .f32 is the embedding of the text whose sha256 is hashes[i]
 * Key: sha256 (hex) of the exact UTF-8 text embedded, so any change in prompt-text extraction
 * gives new keys instead of stale vectors. Each flush writes one new shard (append-only: no file
 * is rewritten, so concurrent writers cannot corrupt each other), .f32 first then .json, each
 * through a temp file + rename, so a shard is either complete or invisible (no .json yet).
 */

import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Embedder } from '../src/worker/embedders/embedder';
import { textForEmbedding } from '../src/core/prompt-text';

export const DEFAULT_CACHE_DIR = '.cache/embeddings';
const FORMAT_VERSION = 1;

export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A folder name for an embedder id: safe characters, plus a short hash so ids cannot collide. */
export function sanitizeId(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${safe}-${textHash(id).slice(0, 8)}`;
}

interface ShardIndex {
  version: number;
  embedderId: string;
  dimension: number;
  count: number;
  hashes: string[];
}

async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

export class EmbeddingCache {
  readonly dir: string;
  readonly embedderId: string;
  readonly dimension: number;
  private readonly vectors = new Map<string, Float32Array>();
  private pending: Array<[string, Float32Array]> = [];

  private constructor(dir: string, embedderId: string, dimension: number) {
    this.dir = dir;
    this.embedderId = embedderId;
    this.dimension = dimension;
  }

  /** Opens (reading every complete shard) the cache of one embedder under `cacheDir`. */
  static async open(cacheDir: string, embedderId: string, dimension: number): Promise<EmbeddingCache> {
    const cache = new EmbeddingCache(path.join(cacheDir, sanitizeId(embedderId)), embedderId, dimension);
    await cache.load();
    return cache;
  }

  private async load(): Promise<void> {
    if (!existsSync(this.dir)) return;
    const files = (await readdir(this.dir)).filter((f) => /^shard-.*\.json$/.test(f)).sort();
    for (const f of files) {
      const indexFile = path.join(this.dir, f);
      const index = JSON.parse(await readFile(indexFile, 'utf8')) as ShardIndex;
      if (
        index.version !== FORMAT_VERSION
        || index.embedderId !== this.embedderId
        || index.dimension !== this.dimension
        || index.hashes.length !== index.count
      ) {
        throw new Error(
          `${indexFile} does not match embedder ${this.embedderId} (dimension ${this.dimension}, `
            + `format ${FORMAT_VERSION}); delete ${this.dir} to rebuild the cache`,
        );
      }
      const blob = await readFile(indexFile.replace(/\.json$/, '.f32'));
      if (blob.byteLength !== index.count * this.dimension * 4) {
        throw new Error(`${indexFile}: its .f32 has ${blob.byteLength} bytes, expected ${index.count * this.dimension * 4}`);
      }
      // Copy into an aligned buffer (Buffer's offset may not be a multiple of 4); rows are views.
      const all = new Float32Array(index.count * this.dimension);
      new Uint8Array(all.buffer).set(blob);
      index.hashes.forEach((h, i) => {
        this.vectors.set(h, all.subarray(i * this.dimension, (i + 1) * this.dimension));
      });
    }
  }

  get size(): number {
    return this.vectors.size;
  }

  /** The cached vector (a shared view: do not mutate it), or undefined. */
  get(hash: string): Float32Array | undefined {
    return this.vectors.get(hash);
  }

  set(hash: string, vector: Float32Array): void {
    if (vector.length !== this.dimension) {
      throw new RangeError(`vector has ${vector.length} dimensions, cache expects ${this.dimension}`);
    }
    if (this.vectors.has(hash)) return;
    this.vectors.set(hash, vector);
    this.pending.push([hash, vector]);
  }

  /** Writes vectors added since the last flush as one new shard. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    await mkdir(this.dir, { recursive: true });
    const blob = new Float32Array(entries.length * this.dimension);
    entries.forEach(([, v], i) => blob.set(v, i * this.dimension));
    const base = path.join(this.dir, `shard-${Date.now().toString().padStart(14, '0')}-${randomBytes(4).toString('hex')}`);
    const index: ShardIndex = {
      version: FORMAT_VERSION,
      embedderId: this.embedderId,
      dimension: this.dimension,
      count: entries.length,
      hashes: entries.map(([h]) => h),
    };
    await writeAtomic(`${base}.f32`, new Uint8Array(blob.buffer));
    await writeAtomic(`${base}.json`, JSON.stringify(index));
  }

  /** Rewrites all shards as one (run when no other process writes this cache). */
  async compact(): Promise<void> {
    await this.flush();
    if (!existsSync(this.dir)) return;
    const old = (await readdir(this.dir)).filter((f) => f.startsWith('shard-'));
    if (old.filter((f) => f.endsWith('.json')).length <= 1) return;
    this.pending = [...this.vectors.entries()];
    await this.flush();
    const keep = new Set((await readdir(this.dir)).filter((f) => !old.includes(f)));
    for (const f of old) if (!keep.has(f)) await rm(path.join(this.dir, f), { force: true });
  }
}

export interface EmbedProgress {
  /** Distinct texts resolved so far (from cache or embedded). */
  readonly done: number;
  readonly total: number;
  readonly cached: number;
  readonly embedded: number;
  readonly elapsedMs: number;
}

export interface EmbedAllOptions {
  /** Root cache folder (DEFAULT_CACHE_DIR from the project root); one subfolder per embedder. */
  readonly cacheDir: string;
  readonly onProgress?: (progress: EmbedProgress) => void;
  /** Texts per embedder.embed() call: progress and abort granularity (default 256). */
  readonly chunkSize?: number;
  /** New vectors kept in memory before they are written as a shard (default 2048). */
  readonly flushEvery?: number;
  readonly signal?: AbortSignal;
}

/**
 * One embedding per text, in order: from the cache where present, else from the embedder (each
 * distinct text once), adding those to the cache. Cached vectors are shared views: read only.
 */
export async function embedAll(embedder: Embedder, texts: readonly string[], options: EmbedAllOptions): Promise<Float32Array[]> {
  const started = performance.now();
  const cache = await EmbeddingCache.open(options.cacheDir, embedder.id, embedder.dimension);
  const hashes = texts.map(textHash);
  const missing = new Map<string, string>(); // hash → text, distinct
  hashes.forEach((h, i) => {
    if (cache.get(h) === undefined && !missing.has(h)) missing.set(h, texts[i]);
  });
  const distinct = new Set(hashes).size;
  const cached = distinct - missing.size;
  const report = (embedded: number): void =>
    options.onProgress?.({
      done: cached + embedded,
      total: distinct,
      cached,
      embedded,
      elapsedMs: performance.now() - started,
    });
  report(0);

  const chunkSize = options.chunkSize ?? 256;
  const flushEvery = options.flushEvery ?? 2048;
  const todo = [...missing.entries()];
  let sinceFlush = 0;
  try {
    for (let start = 0; start < todo.length; start += chunkSize) {
      const chunk = todo.slice(start, start + chunkSize);
      const vectors = await embedder.embed(
        chunk.map(([, t]) => t),
        { signal: options.signal },
      );
      chunk.forEach(([h], k) => cache.set(h, vectors[k]));
      sinceFlush += chunk.length;
      if (sinceFlush >= flushEvery) {
        await cache.flush();
        sinceFlush = 0;
      }
      report(start + chunk.length);
    }
  } finally {
    // Keep what was embedded even when aborted or failing part-way.
    await cache.flush();
  }
  return hashes.map((h) => {
    const v = cache.get(h);
    if (v === undefined) throw new Error(`embedding cache lost ${h}`);
    return v;
  });
}

/** Embeds every prompt of a set (through textForEmbedding by default), aligned with set.items. */
export async function embedSet(
  embedder: Embedder,
  set: { readonly items: readonly { readonly prompt: string }[] },
  options: EmbedAllOptions & { readonly textOf?: (prompt: string) => string },
): Promise<Float32Array[]> {
  const textOf = options.textOf ?? ((p: string) => textForEmbedding(p));
  return embedAll(
    embedder,
    set.items.map((it) => textOf(it.prompt)),
    options,
  );
}
