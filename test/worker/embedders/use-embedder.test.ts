import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeUseEmbedder } from '../../../dev/node-use';
import { dot, EmbedderError, type Embedder } from '../../../src/worker/embedders/embedder';
import { createUseEmbedder, selectBackend, USE_LITE_DIMENSION, USE_MAX_TOKENS } from '../../../src/worker/embedders/use-embedder';

// Loads the shipped weights (28 MB) on the WASM backend: a few seconds.
let embedder: Embedder;
beforeAll(async () => {
  embedder = await createNodeUseEmbedder();
}, 60_000);
afterAll(async () => {
  await embedder?.dispose?.();
});

describe('USE lite embedder (Node, shipped weights)', () => {
  it('names its weights and dimension', () => {
    expect(embedder.id).toMatch(/^use-lite@energetic-ai\/model-embeddings-en@\d+\.\d+\.\d+$/);
    expect(embedder.dimension).toBe(USE_LITE_DIMENSION);
  });

  it('gives unit vectors where similar sentences are closer than unrelated ones', async () => {
    const [age1, age2, cat, soup, stew] = await embedder.embed([
      'How old are you?',
      'What is your age?',
      'The cat sat on the mat.',
      'Add the onions to the soup and let it simmer.',
      'Cook the stew slowly with chopped onions.',
    ]);
    for (const v of [age1, age2, cat, soup, stew]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(512);
      expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
    }
    expect(dot(age1, age2)).toBeGreaterThan(dot(age1, cat) + 0.3);
    expect(dot(soup, stew)).toBeGreaterThan(dot(soup, age1) + 0.2);
  }, 30_000);

  it('does not depend on batch-mates, order or batch size', async () => {
    const texts = ['short', 'a somewhat longer sentence about routing language models', 'mid length text here', ''];
    const together = await embedder.embed(texts);
    const alone = await Promise.all(texts.map(async (t) => (await embedder.embed([t]))[0]));
    together.forEach((v, i) => expect(dot(v, alone[i])).toBeGreaterThan(0.99999));
  }, 30_000);

  it('ignores text past the first USE_MAX_TOKENS tokens', async () => {
    const words = Array.from({ length: USE_MAX_TOKENS + 40 }, (_, i) => `word${i % 7}`).join(' ');
    const [a, b] = await embedder.embed([words, `${words} and a different ending`]);
    expect(dot(a, b)).toBeGreaterThan(0.99999);
  }, 30_000);

  it('honours an already-aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(embedder.embed(['x'], { signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('WASM backend with our SparseToDense kernel', () => {
  it('matches the reference CPU backend', async () => {
    const texts = ['Which gas do plants absorb?', 'Sarah was a better surgeon than Maria.'];
    const onWasm = await embedder.embed(texts);
    const cpu = await createNodeUseEmbedder({ backends: ['cpu'] });
    try {
      const onCpu = await cpu.embed(texts);
      onCpu.forEach((v, i) => expect(dot(v, onWasm[i])).toBeGreaterThan(0.9999));
    } finally {
      await cpu.dispose?.();
      await selectBackend(['wasm']);
    }
  }, 30_000);
});

describe('createUseEmbedder errors', () => {
  it('reports a vocabulary URL that cannot be fetched as load-failed', async () => {
    const fetch404 = async (): Promise<Response> => new Response('nope', { status: 404 });
    const handler = {
      load: async () => {
        throw new Error('no model here');
      },
    };
    const error = await createUseEmbedder({ model: handler, vocabulary: 'http://x/vocab.json', fetch: fetch404 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbedderError);
    expect((error as EmbedderError).code).toBe('load-failed');
  });
});
