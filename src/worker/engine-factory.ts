/**
 * Makes the worker's embedder and local engine from its WorkerConfig. The heavy libraries
 * (transformers.js, TF.js, web-llm) and their engine modules are imported here, lazily: a page
 * that never asks for one never fetches it.
 */
import type { AppConfig } from '@mlc-ai/web-llm';
import { EdgeRouteError } from '../common/errors';
import type { Embedder } from './embedders/embedder';
import type { LoadProgress, LocalEngine } from './engines/local-engine';
import { probeWebGpu } from './gpu/webgpu';
import type { EmbedderStatus, TransformersSource, WorkerConfig } from './protocol';

export interface LoadedEmbedder {
  readonly embedder: Embedder;
  readonly status: EmbedderStatus;
}

/** Where the worker runs from: relative URLs in the configuration resolve against it. */
export interface FactoryContext {
  /** The worker script's URL (self.location.href in the worker). */
  readonly scriptUrl: string;
}

/** Where ort/ and tfjs/ were put by the build: beside the worker script unless configured. */
export function runtimeBase(config: WorkerConfig, context: FactoryContext): string {
  return new URL(config.runtimeBaseUrl ?? './', context.scriptUrl).href;
}

/** transformers.js settings for one configured model (the worker's own ORT copies, no CDN). */
async function transformersEnv(source: TransformersSource, config: WorkerConfig, context: FactoryContext) {
  const { ortWasmPaths } = await import('./engines/transformers-env');
  return {
    // Passed as given: transformers.js 4.3 treats a full http(s) URL here as remote and skips it
    // when remote models are off, so self-hosted folders are same-origin paths like '/models/'.
    ...(source.localModelPath !== undefined ? { localModelPath: source.localModelPath } : {}),
    allowRemoteModels: source.allowRemoteModels ?? false,
    wasmPaths: ortWasmPaths(`${runtimeBase(config, context)}ort/`),
    // Its WASM cache imports ORT's glue from a blob: URL, refused under a strict CSP
    // (script-src 'self'); our copies are same-origin and HTTP-cached anyway.
    useWasmCache: false,
  };
}

/** Creates and loads the configured embedder. */
export async function createEmbedder(config: WorkerConfig, context: FactoryContext, onProgress?: (p: LoadProgress) => void): Promise<LoadedEmbedder> {
  const spec = config.embedder;
  const started = performance.now();
  if (spec.kind === 'transformers') {
    const { createTransformersEmbedder } = await import('./embedders/transformers-embedder');
    const embedder = await createTransformersEmbedder({
      model: spec.model,
      device: spec.device ?? 'auto',
      ...(spec.dtype ? { dtype: spec.dtype as never } : {}),
      env: await transformersEnv(spec, config, context),
      ...(onProgress ? { onProgress } : {}),
    });
    return {
      embedder,
      status: {
        id: embedder.id,
        dimension: embedder.dimension,
        backend: embedder.backend,
        ...(embedder.fallbackReason ? { fallbackReason: embedder.fallbackReason } : {}),
        loadMillis: performance.now() - started,
      },
    };
  }
  // Universal Sentence Encoder lite on TF.js: WASM backend, CPU as the last resort.
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  await import('@tensorflow/tfjs-backend-cpu');
  // The threaded WASM build starts Emscripten pthread workers from a blob script that breaks
  // once bundled; we are in a worker already, so the single-threaded SIMD build is used.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setWasmPaths(`${runtimeBase(config, context)}tfjs/`);
  const { createUseEmbedder, selectBackend } = await import('./embedders/use-embedder');
  const backend = await selectBackend(['wasm', 'cpu']);
  onProgress?.({ progress: 0, text: `loading Universal Sentence Encoder lite from ${spec.modelUrl}` });
  const embedder = await createUseEmbedder({
    model: new URL(spec.modelUrl, context.scriptUrl).href,
    vocabulary: new URL(spec.vocabUrl, context.scriptUrl).href,
  });
  onProgress?.({ progress: 1, text: 'Universal Sentence Encoder lite ready' });
  return { embedder, status: { id: embedder.id, dimension: embedder.dimension, backend, loadMillis: performance.now() - started } };
}

/** Creates (without loading) the configured local engine. */
export async function createLocalEngine(config: WorkerConfig, context: FactoryContext): Promise<LocalEngine> {
  const spec = config.local;
  if (!spec) throw new EdgeRouteError('invalid-config', 'No local model configured: set config.local (transformers, web-llm or prompt-api).');
  if (spec.kind === 'transformers') {
    const { TransformersEngine } = await import('./engines/transformers-engine');
    return new TransformersEngine({
      model: spec.model,
      device: spec.device ?? 'auto',
      ...(spec.dtype ? { dtype: spec.dtype as never } : {}),
      env: await transformersEnv(spec, config, context),
    });
  }
  if (spec.kind === 'web-llm') {
    const { WebLlmEngine } = await import('./engines/webllm-engine');
    const gpu = await probeWebGpu({ compute: false });
    if (!gpu.available)
      throw new EdgeRouteError(
        'webgpu-unavailable',
        `web-llm needs WebGPU, which this browser cannot provide here (${gpu.reason ?? 'no adapter'}); use the cloud or a transformers.js model on WASM.`,
      );
    return new WebLlmEngine({ model: spec.model, gpu, ...(spec.appConfig ? { appConfig: spec.appConfig as unknown as AppConfig } : {}) });
  }
  const { PromptApiEngine } = await import('./engines/prompt-api-engine');
  return new PromptApiEngine({});
}
