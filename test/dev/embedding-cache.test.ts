import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddingCache, embedAll, sanitizeId, textHash, type EmbedProgress } from '../../dev/embedding-cache';
import { EmbedderError, normalizeInPlace, type Embedder } from '../../src/worker/embedders/embedder';

/** Deterministic fake: vector from the text's characters; counts the texts it embeds. */
class CountingEmbedder implements Embedder {
  readonly id: string;
  readonly dimension = 8;
  calls = 0;
  embedded: string[] = [];
  constructor(id = 'fake@1') {
    this.id = id;
  }
  async embed(texts: readonly string[], options?: { signal?: AbortSignal }): Promise<Float32Array[]> {
    if (options?.signal?.aborted) throw new EmbedderError('aborted', 'aborted');
    this.calls++;
    this.embedded.push(...texts);
    return texts.map((t) => {
      const v = new Float32Array(this.dimension);
      for (let i = 0; i < t.length; i++) v[i % this.dimension] += t.charCodeAt(i);
      v[0] += 1;
      return normalizeInPlace(v);
    });
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'edgeroute-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('embedAll', () => {
  it('embeds only what is missing, once per distinct text, and persists it', async () => {
    const e1 = new CountingEmbedder();
    const first = await embedAll(e1, ['a', 'b', 'a'], { cacheDir: dir });
    expect(e1.embedded).toEqual(['a', 'b']);
    expect(first[0]).toEqual(first[2]);

    const e2 = new CountingEmbedder(); // new process, same embedder id
    const progress: EmbedProgress[] = [];
    const second = await embedAll(e2, ['b', 'c', 'a'], { cacheDir: dir, onProgress: (p) => progress.push(p) });
    expect(e2.embedded).toEqual(['c']);
    expect(Array.from(second[0])).toEqual(Array.from(first[1]));
    expect(Array.from(second[2])).toEqual(Array.from(first[0]));
    expect(progress[0]).toMatchObject({ done: 2, total: 3, cached: 2, embedded: 0 });
    expect(progress.at(-1)).toMatchObject({ done: 3, total: 3, cached: 2, embedded: 1 });

    const e3 = new CountingEmbedder();
    await embedAll(e3, ['a', 'b', 'c'], { cacheDir: dir });
    expect(e3.calls).toBe(0);
  });

  it('keys by embedder id: another id misses', async () => {
    await embedAll(new CountingEmbedder('fake@1'), ['a'], { cacheDir: dir });
    const other = new CountingEmbedder('fake@2');
    await embedAll(other, ['a'], { cacheDir: dir });
    expect(other.embedded).toEqual(['a']);
    expect(readdirSync(dir).sort()).toEqual([sanitizeId('fake@1'), sanitizeId('fake@2')].sort());
  });

  it('chunks calls and flushes shards; compact merges them', async () => {
    const e = new CountingEmbedder();
    const texts = Array.from({ length: 25 }, (_, i) => `t${i}`);
    await embedAll(e, texts, { cacheDir: dir, chunkSize: 4, flushEvery: 8 });
    expect(e.calls).toBe(7);
    const sub = path.join(dir, sanitizeId(e.id));
    expect(readdirSync(sub).filter((f) => f.endsWith('.json')).length).toBe(4);
    expect(readdirSync(sub).some((f) => f.includes('.tmp-'))).toBe(false);
    const cache = await EmbeddingCache.open(dir, e.id, e.dimension);
    expect(cache.size).toBe(25);
    await cache.compact();
    expect(readdirSync(sub).filter((f) => f.endsWith('.json')).length).toBe(1);
    const reopened = await EmbeddingCache.open(dir, e.id, e.dimension);
    expect(reopened.size).toBe(25);
    expect(Array.from(reopened.get(textHash('t3'))!)).toEqual(Array.from((await e.embed(['t3']))[0]));
  });

  it('keeps finished chunks when aborted part-way', async () => {
    const e = new CountingEmbedder();
    const controller = new AbortController();
    const texts = Array.from({ length: 10 }, (_, i) => `u${i}`);
    await expect(
      embedAll(e, texts, {
        cacheDir: dir,
        chunkSize: 3,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.embedded >= 3) controller.abort();
        },
      }),
    ).rejects.toThrow(EmbedderError);
    const cache = await EmbeddingCache.open(dir, e.id, e.dimension);
    expect(cache.size).toBe(3);
  });

  it('rejects a cache written with another dimension', async () => {
    await embedAll(new CountingEmbedder(), ['a'], { cacheDir: dir });
    await expect(EmbeddingCache.open(dir, 'fake@1', 16)).rejects.toThrow(/does not match/);
  });
});
