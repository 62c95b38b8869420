/**
 * createTransformersEmbedder on the committed tiny encoder (public/models/edgeroute-tiny-embed),
 * loaded the way the worker loads it, but from disk: env.localModelPath = public/models/,
 * remote models off, onnxruntime-node's CPU backend.
 */
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dot, EmbedderError } from '../../../src/worker/embedders/embedder';
import type { LoadProgress } from '../../../src/worker/engines/local-engine';
import { createTransformersEmbedder, type TransformersEmbedder } from '../../../src/worker/embedders/transformers-embedder';
import type { TransformersLibrary } from '../../../src/worker/engines/transformers-env';

const modelsDir = join(resolve(import.meta.dirname, '..', '..', '..'), 'public', 'models');
const MODEL = 'edgeroute-tiny-embed';
const env = { localModelPath: `${modelsDir}/`, allowRemoteModels: false };

const MATH_1 = 'Sara buys 4 boxes of pencils with 12 pencils in each box. She gives away 15 pencils. How many pencils does she have left?';
const MATH_2 = 'A farmer has 35 cows and sells 8 of them, then buys twice as many as he sold. How many cows does he have now?';
const LAW =
  'Under the doctrine of adverse possession, which element must the claimant prove to acquire title to the land?\nA. Permission of the owner\nB. Open and notorious use\nC. Payment of rent\nD. A written deed\nAnswer:';

/** A signal that reads as aborted from its `after`-th check on: aborts deterministically mid-call. */
function abortsAfter(after: number): AbortSignal {
  let reads = 0;
  return {
    get aborted() {
      return ++reads > after;
    },
    reason: new Error('test abort'),
  } as unknown as AbortSignal;
}

describe(`createTransformersEmbedder (${MODEL}, offline)`, () => {
  let embedder: TransformersEmbedder;
  const progress: LoadProgress[] = [];

  beforeAll(async () => {
    embedder = await createTransformersEmbedder({ model: MODEL, env, batchSize: 2, onProgress: (p) => progress.push(p) });
  }, 60_000);

  it('names model and weights in its id, and reports its backend', () => {
    expect(embedder.id).toBe(`transformers:${MODEL}@fp32`);
    expect(embedder.dtype).toBe('fp32');
    expect(embedder.dimension).toBe(128);
    expect(embedder.backend).toBe('cpu');
    expect(embedder.fallbackReason).toMatch(/Node/);
  });

  it('reports load progress over the files, ending at 1', () => {
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.some((p) => /onnx\/model\.onnx/.test(p.text))).toBe(true);
    expect(progress.some((p) => (p.totalBytes ?? 0) > 1_000_000)).toBe(true);
    expect(progress.at(-1)?.progress).toBe(1);
    for (const p of progress) expect(p.progress).toBeGreaterThanOrEqual(0);
    for (const p of progress.slice(0, -1)) expect(p.progress).toBeLessThan(1);
  });

  it('returns 128-d unit vectors in input order; math is closer to math than to law', async () => {
    const texts = [MATH_1, LAW, MATH_2, 'short'];
    const [m1, law, m2, short] = await embedder.embed(texts);
    for (const v of [m1, law, m2, short]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(128);
      expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
    }
    // Batching (sorted by length, batches of 2) does not change a vector beyond float rounding.
    const [alone] = await embedder.embed([MATH_2]);
    for (let i = 0; i < 128; i++) expect(Math.abs(alone[i] - m2[i])).toBeLessThan(1e-5);
    const mathMath = dot(m1, m2);
    const mathLaw = dot(m1, law);
    console.log(`[${embedder.id}] cos(math, math)=${mathMath.toFixed(3)} cos(math, law)=${mathLaw.toFixed(3)}`);
    expect(mathMath).toBeGreaterThan(mathLaw + 0.1);
    expect(await embedder.embed([])).toEqual([]);
  });

  it('rejects with EmbedderError("aborted"), before and between batches', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(embedder.embed([MATH_1], { signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
    // 6 texts = 3 batches; the signal fires after the first batch has run.
    const err = await embedder.embed([MATH_1, MATH_2, LAW, MATH_1, MATH_2, LAW], { signal: abortsAfter(2) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbedderError);
    expect((err as EmbedderError).code).toBe('aborted');
  });

  it('rejects bad input with EmbedderError("invalid-input")', async () => {
    await expect(embedder.embed([42 as unknown as string])).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('explains a missing model: the path tried and that remote models are off', async () => {
    const err = await createTransformersEmbedder({ model: 'no-such-model', env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbedderError);
    const e = err as EmbedderError;
    expect(e.code).toBe('load-failed');
    expect(e.message).toContain(join(modelsDir, 'no-such-model', 'config.json'));
    expect(e.message).toContain('env.allowRemoteModels is false');
  });

  it('is unusable after dispose()', async () => {
    const other = await createTransformersEmbedder({ model: MODEL, env, device: 'wasm' });
    expect(other.backend).toBe('cpu');
    expect(other.fallbackReason).toBeUndefined();
    await other.dispose?.();
    await expect(other.embed([MATH_1])).rejects.toMatchObject({ code: 'disposed' });
  }, 30_000);
});

describe('createTransformersEmbedder backend fallback (fake library)', () => {
  /** A library whose WebGPU load fails and whose CPU pipeline returns fixed 3-d vectors. */
  function fakeLibrary(devices: string[]): () => Promise<TransformersLibrary> {
    const pipe = Object.assign(async (texts: string[]) => ({ data: Float32Array.from(texts.flatMap(() => [3, 0, 4])), dims: [texts.length, 3] }), {
      model: { config: {}, sessions: { model: { config: { dtype: 'q8' } } } },
      dispose: async () => undefined,
    });
    const lib = {
      env: {
        allowLocalModels: true,
        allowRemoteModels: true,
        localModelPath: '/models/',
        remoteHost: 'https://huggingface.co/',
        useBrowserCache: false,
        cacheDir: null,
        backends: { onnx: { wasm: {} } },
      },
      pipeline: async (_task: string, _model: string, options: { device: string }) => {
        devices.push(options.device);
        if (options.device === 'webgpu') throw new Error('WebGPU device lost while creating the session');
        return pipe;
      },
    };
    return async () => lib as unknown as TransformersLibrary;
  }

  it("'auto' falls back to the CPU backend and records why; the dimension comes from the output", async () => {
    const devices: string[] = [];
    const e = await createTransformersEmbedder({
      model: 'fake',
      loadLibrary: fakeLibrary(devices),
      gpu: { requestAdapter: async () => ({}) },
    });
    expect(devices).toEqual(['webgpu', 'cpu']);
    expect(e.backend).toBe('cpu');
    expect(e.fallbackReason).toMatch(/WebGPU failed.*device lost/i);
    expect(e.id).toBe('transformers:fake@q8');
    expect(e.dimension).toBe(3);
    const [v] = await e.embed(['x']);
    expect(Array.from(v)).toEqual([0.6000000238418579, 0, 0.800000011920929]);
  });

  it("explicit 'webgpu' does not fall back: backend-unavailable", async () => {
    const err = await createTransformersEmbedder({ model: 'fake', device: 'webgpu', loadLibrary: fakeLibrary([]) }).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: 'backend-unavailable' });
  });
});

describe('device auto on a software fallback adapter', () => {
  it('does not use WebGPU there, and says why in fallbackReason', async () => {
    const swiftshader = { requestAdapter: async () => ({ info: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true } }) };
    const embedder = await createTransformersEmbedder({ model: MODEL, env, device: 'auto', gpu: swiftshader });
    try {
      expect(embedder.backend).toBe('cpu');
      expect(embedder.fallbackReason).toMatch(/software fallback adapter \(google, swiftshader\)/);
      expect((await embedder.embed(['short']))[0]).toHaveLength(128);
    } finally {
      await embedder.dispose?.();
    }
  }, 60_000);
});
