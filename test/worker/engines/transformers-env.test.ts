import { env as libEnv } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../../src/worker/engines/local-engine';
import {
  configureTransformersEnv,
  createProgressAggregator,
  describeLoadFailure,
  ortWasmPaths,
  planBackends,
  softwareAdapterReason,
  type TransformersEnvLike,
} from '../../../src/worker/engines/transformers-env';

function fakeEnv(): TransformersEnvLike {
  return {
    allowLocalModels: false,
    allowRemoteModels: true,
    localModelPath: '/models/',
    remoteHost: 'https://huggingface.co/',
    useBrowserCache: true,
    cacheDir: null,
    backends: { onnx: { wasm: {} } },
  };
}

describe('configureTransformersEnv', () => {
  it('turns local models on with the folder, and remote models off', () => {
    const env = fakeEnv();
    configureTransformersEnv(env, { localModelPath: '/static/models', allowRemoteModels: false });
    expect(env.localModelPath).toBe('/static/models/');
    expect(env.allowLocalModels).toBe(true);
    expect(env.allowRemoteModels).toBe(false);
    expect(env.remoteHost).toBe('https://huggingface.co/'); // untouched
  });

  it("sets ONNX Runtime's WASM paths on the existing wasm flags object (ORT reads that very object)", () => {
    const env = fakeEnv();
    const wasm = env.backends.onnx.wasm;
    const paths = ortWasmPaths('https://app.example/assets/ort');
    configureTransformersEnv(env, { wasmPaths: paths, numThreads: 1 });
    expect(env.backends.onnx.wasm).toBe(wasm);
    expect(wasm?.wasmPaths).toEqual({
      mjs: 'https://app.example/assets/ort/ort-wasm-simd-threaded.asyncify.mjs',
      wasm: 'https://app.example/assets/ort/ort-wasm-simd-threaded.asyncify.wasm',
    });
    expect(wasm?.numThreads).toBe(1);
    configureTransformersEnv(env, { wasmPaths: '/ort' });
    expect(wasm?.wasmPaths).toBe('/ort/');
  });

  it('sets host and caches, and refuses a configuration that can load nothing', () => {
    const env = fakeEnv();
    configureTransformersEnv(env, { remoteHost: 'https://mirror.example', useBrowserCache: false, cacheDir: '/tmp/tjs', useWasmCache: false });
    expect(env.remoteHost).toBe('https://mirror.example/');
    expect(env.useBrowserCache).toBe(false);
    // Off in the worker: the library's WASM cache imports ORT's glue from a blob: URL (CSP).
    expect(env.useWasmCache).toBe(false);
    expect(env.cacheDir).toBe('/tmp/tjs');
    expect(() => configureTransformersEnv(fakeEnv(), { allowRemoteModels: false })).toThrow(/both local models/);
    expect(() => configureTransformersEnv(fakeEnv(), { numThreads: -1 })).toThrow(RangeError);
  });

  it("accepts the library's own env object", () => {
    const wasm = libEnv.backends.onnx.wasm;
    configureTransformersEnv(libEnv, {});
    expect(libEnv.backends.onnx.wasm).toBe(wasm);
  });
});

describe('planBackends', () => {
  const adapter = { requestAdapter: async () => ({}) };
  const none = { requestAdapter: async () => null };
  it('auto: WebGPU then WASM with an adapter; WASM with the reason otherwise', async () => {
    expect(await planBackends('auto', { node: false, gpu: adapter })).toEqual({ candidates: ['webgpu', 'wasm'] });
    const noAdapter = await planBackends('auto', { node: false, gpu: none });
    expect(noAdapter.candidates).toEqual(['wasm']);
    expect(noAdapter.reason).toMatch(/no adapter/);
    expect((await planBackends('auto', { node: false, gpu: null })).reason).toMatch(/navigator\.gpu/);
    const throwing = { requestAdapter: async () => Promise.reject(new Error('blocked')) };
    expect((await planBackends('auto', { node: false, gpu: throwing })).reason).toMatch(/blocked/);
  });
  it('auto: a software fallback adapter (isFallbackAdapter, SwiftShader) gets WASM, with the reason', async () => {
    const gpuWith = (adapter: object) => ({ requestAdapter: async () => adapter });
    const flagged = await planBackends('auto', { node: false, gpu: gpuWith({ info: { isFallbackAdapter: true, vendor: 'google' } }) });
    expect(flagged.candidates).toEqual(['wasm']);
    expect(flagged.reason).toMatch(/software fallback adapter \(google\).*using wasm.*device 'webgpu'/);
    // The deprecated adapter-level flag (older Chrome).
    expect((await planBackends('auto', { node: false, gpu: gpuWith({ isFallbackAdapter: true, info: {} }) })).candidates).toEqual(['wasm']);
    // Chrome's SwiftShader adapter, named in adapter.info, whatever its flag says.
    const swiftshader = {
      isFallbackAdapter: false,
      info: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device (Subzero)' },
    };
    const plan = await planBackends('auto', { node: false, gpu: gpuWith(swiftshader) });
    expect(plan.candidates).toEqual(['wasm']);
    expect(plan.reason).toMatch(/SwiftShader.*\(google, swiftshader, SwiftShader Device \(Subzero\)\)/);
    // Under Node with a stand-in GPU, the fallback is onnxruntime-node's CPU backend.
    expect((await planBackends('auto', { node: true, gpu: gpuWith(swiftshader) })).candidates).toEqual(['cpu']);
    // A hardware adapter is still used first.
    const hardware = { isFallbackAdapter: false, info: { vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false } };
    expect(await planBackends('auto', { node: false, gpu: gpuWith(hardware) })).toEqual({ candidates: ['webgpu', 'wasm'] });
    // An explicit 'webgpu' still uses the software adapter.
    expect((await planBackends('webgpu', { node: false, gpu: gpuWith(swiftshader) })).candidates).toEqual(['webgpu']);
  });
  it('softwareAdapterReason: undefined for hardware and for non-objects', () => {
    expect(softwareAdapterReason({ info: { vendor: 'apple', architecture: 'metal-3' } })).toBeUndefined();
    expect(softwareAdapterReason(null)).toBeUndefined();
    expect(softwareAdapterReason({})).toBeUndefined();
    expect(softwareAdapterReason({ info: { architecture: 'SwiftShader' } })).toMatch(/SwiftShader/);
  });
  it('explicit devices, and Node (CPU instead of WASM)', async () => {
    expect((await planBackends('webgpu', { node: false })).candidates).toEqual(['webgpu']);
    expect((await planBackends('wasm', { node: false })).candidates).toEqual(['wasm']);
    expect((await planBackends('wasm', { node: true })).candidates).toEqual(['cpu']);
    expect((await planBackends('auto', { node: true })).candidates).toEqual(['cpu']);
  });
});

describe('createProgressAggregator', () => {
  it('aggregates bytes over files and ends at 1', () => {
    const seen: LoadProgress[] = [];
    const agg = createProgressAggregator('m', (p) => seen.push(p));
    agg.callback({ status: 'initiate', file: 'config.json' });
    agg.callback({ status: 'initiate', file: 'onnx/model.onnx' });
    agg.callback({ status: 'progress', file: 'config.json', loaded: 100, total: 100 });
    agg.callback({ status: 'done', file: 'config.json' });
    agg.callback({ status: 'progress', file: 'onnx/model.onnx', loaded: 100, total: 900 });
    expect(seen.at(-1)).toMatchObject({ progress: 0.2, loadedBytes: 200, totalBytes: 1000 });
    agg.callback({ status: 'progress_total', progress: 50, loaded: 1, total: 2 }); // ignored
    agg.callback({ status: 'progress', file: 'onnx/model.onnx', loaded: 900, total: 900 });
    expect(seen.at(-1)?.progress).toBe(0.99); // the session is not created yet
    agg.finish('ready');
    expect(seen.at(-1)).toEqual({ progress: 1, text: 'ready', loadedBytes: 1000, totalBytes: 1000 });
    for (const p of seen) expect(p.progress).toBeGreaterThanOrEqual(0);
  });
});

describe('describeLoadFailure', () => {
  it('names the missing file and the disabled remote host', () => {
    const error = Object.assign(new Error('`local_files_only=true` or `env.allowRemoteModels=false` and file was not found locally at "/m/x/config.json".'), {
      name: 'ModelFileNotFoundError',
    });
    const d = describeLoadFailure(error, 'x', {
      allowLocalModels: true,
      allowRemoteModels: false,
      localModelPath: '/m/',
      remoteHost: 'https://huggingface.co/',
    });
    expect(d.kind).toBe('not-found');
    expect(d.message).toContain('/m/x/config.json is missing');
    expect(d.message).toContain('env.allowRemoteModels is false');
  });
});
