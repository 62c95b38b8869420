/**
 * A deterministic stand-in for a sentence embedder: each word is hashed (FNV-1a) to one of 64
 * dimensions with a sign, and the counts are normalised. Texts sharing words land close
 * together, so k-means finds real structure, and it runs in microseconds.
 */
import type { Embedder, EmbedOptions } from '../../src/worker/embedders/embedder';
import { EmbedderError } from '../../src/worker/embedders/embedder';

function fnv1a(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    h ^= word.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export interface FakeEmbedder extends Embedder {
  /** Texts embedded so far. */
  readonly calls: { texts: number; batches: number };
}

export function createFakeEmbedder(options: { id?: string; dimension?: number } = {}): FakeEmbedder {
  const dimension = options.dimension ?? 64;
  const calls = { texts: 0, batches: 0 };
  const embedOne = (text: string): Float32Array => {
    const v = new Float32Array(dimension);
    for (const word of text
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => w.length > 0)) {
      const h = fnv1a(word);
      v[h % dimension] += h & 0x80000000 ? -1 : 1;
    }
    let s = 0;
    for (const x of v) s += x * x;
    if (s === 0) v[0] = 1;
    else for (let i = 0; i < dimension; i++) v[i] /= Math.sqrt(s);
    return v;
  };
  return {
    id: options.id ?? `fake-hash-${dimension}`,
    dimension,
    calls,
    async embed(texts: readonly string[], embedOptions: EmbedOptions = {}): Promise<Float32Array[]> {
      if (embedOptions.signal?.aborted) throw new EmbedderError('aborted', 'aborted');
      calls.texts += texts.length;
      calls.batches++;
      return texts.map(embedOne);
    },
  };
}
