/// <reference lib="webworker" />
/**
 * The edgeroute worker: hosts everything heavy (embedder, local LLM, UniRoute state) off the
 * page's main thread, exposed through comlink. Heavy libraries (transformers.js, TF.js, web-llm)
 * are imported lazily, only when the configuration asks for them.
 */
import { expose } from 'comlink';
import { agreementConfidence, answerConfidence, semanticEntropy } from '../src/core/confidence';
import type { Embedder } from '../src/engines/embedder';
import { sampleAnswers, type LoadProgress, type LocalEngine, type LocalEngineStatus } from '../src/engines/local-engine';
import { textForEmbedding } from '../src/engines/prompt-text';
import { probeWebGpu } from '../src/engines/webgpu';
import { EdgeRouteError } from '../src/errors';
import { completionText, type ChatCompletionRequest } from '../src/protocol/openai';
import { UniRouteState } from '../src/router/uniroute-state';
import type { ValidationSet } from '../src/router/validation-set';
import { openKvStore, type KvStore } from '../src/storage/kv';
import {
  WORKER_PROTOCOL_VERSION,
  type EdgeWorkerApi,
  type EmbedderStatus,
  type GenerateResult,
  type JobProgress,
  type LocalConfidence,
  type ProfileSummary,
  type RouteResult,
  type TransformersSource,
  type WorkerConfig,
} from '../src/worker-api';

interface LoadedEmbedder {
  readonly embedder: Embedder;
  readonly status: EmbedderStatus;
}

let config: WorkerConfig | undefined;
let embedderLoad: Promise<LoadedEmbedder> | undefined;
let localEngine: LocalEngine | undefined;
let state: UniRouteState | undefined;
let store: KvStore | undefined;
const jobs = new Map<string, AbortController>();

/** Where ort/ and tfjs/ were put by the build: beside this script unless configured. */
function runtimeBase(): string {
  return new URL(config?.runtimeBaseUrl ?? './', self.location.href).href;
}

function requireConfig(): WorkerConfig {
  if (!config) throw new EdgeRouteError('invalid-config', 'The worker has no configuration yet: call configure({ embedder, local? }) first.');
  return config;
}

/** Runs `work` with an AbortSignal registered under `jobId`, so cancel(jobId) can stop it. */
async function job<T>(jobId: string | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  if (jobId) {
    if (jobs.has(jobId)) throw new EdgeRouteError('invalid-input', `job id "${jobId}" is already running`);
    jobs.set(jobId, controller);
  }
  try {
    return await work(controller.signal);
  } finally {
    if (jobId) jobs.delete(jobId);
  }
}

function transformersEnv(source: TransformersSource) {
  return {
    // Passed as given: transformers.js 4.3 treats a full http(s) URL here as remote and skips it
    // when remote models are off, so self-hosted folders are same-origin paths like '/models/'.
    ...(source.localModelPath !== undefined ? { localModelPath: source.localModelPath } : {}),
    allowRemoteModels: source.allowRemoteModels ?? false,
    wasmPaths: `${runtimeBase()}ort/`,
    // Its WASM cache imports ORT's glue from a blob: URL, refused under a strict CSP
    // (script-src 'self'); our copies are same-origin and HTTP-cached anyway.
    useWasmCache: false,
  };
}

async function createEmbedder(onProgress?: (p: LoadProgress) => void): Promise<LoadedEmbedder> {
  const { embedder: spec } = requireConfig();
  const started = performance.now();
  if (spec.kind === 'transformers') {
    const { createTransformersEmbedder } = await import('../src/engines/transformers-embedder');
    const { ortWasmPaths } = await import('../src/engines/transformers-env');
    const embedder = await createTransformersEmbedder({
      model: spec.model,
      device: spec.device ?? 'auto',
      ...(spec.dtype ? { dtype: spec.dtype as never } : {}),
      env: { ...transformersEnv(spec), wasmPaths: ortWasmPaths(`${runtimeBase()}ort/`) },
      ...(onProgress ? { onProgress } : {}),
    });
    return {
      embedder,
      status: {
        id: embedder.id, dimension: embedder.dimension, backend: embedder.backend,
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
  wasm.setWasmPaths(`${runtimeBase()}tfjs/`);
  const { createUseEmbedder, selectBackend } = await import('../src/engines/use-embedder');
  const backend = await selectBackend(['wasm', 'cpu']);
  onProgress?.({ progress: 0, text: `loading Universal Sentence Encoder lite from ${spec.modelUrl}` });
  const embedder = await createUseEmbedder({
    model: new URL(spec.modelUrl, self.location.href).href,
    vocabulary: new URL(spec.vocabUrl, self.location.href).href,
  });
  onProgress?.({ progress: 1, text: 'Universal Sentence Encoder lite ready' });
  return { embedder, status: { id: embedder.id, dimension: embedder.dimension, backend, loadMillis: performance.now() - started } };
}

function loadEmbedder(onProgress?: (p: LoadProgress) => void): Promise<LoadedEmbedder> {
  embedderLoad ??= createEmbedder(onProgress).catch((error: unknown) => {
    embedderLoad = undefined; // a later call may retry (after a config fix, say)
    throw error;
  });
  return embedderLoad;
}

async function createLocalEngine(): Promise<LocalEngine> {
  const spec = requireConfig().local;
  if (!spec) throw new EdgeRouteError('invalid-config', 'No local model configured: set config.local (transformers, web-llm or prompt-api).');
  if (spec.kind === 'transformers') {
    const { TransformersEngine } = await import('../src/engines/transformers-engine');
    const { ortWasmPaths } = await import('../src/engines/transformers-env');
    return new TransformersEngine({
      model: spec.model,
      device: spec.device ?? 'auto',
      ...(spec.dtype ? { dtype: spec.dtype as never } : {}),
      env: { ...transformersEnv(spec), wasmPaths: ortWasmPaths(`${runtimeBase()}ort/`) },
    });
  }
  if (spec.kind === 'web-llm') {
    const { WebLlmEngine } = await import('../src/engines/webllm-engine');
    const gpu = await probeWebGpu({ compute: false });
    if (!gpu.available) throw new EdgeRouteError('webgpu-unavailable', `web-llm needs WebGPU, which this browser cannot provide here (${gpu.reason ?? 'no adapter'}); use the cloud or a transformers.js model on WASM.`);
    return new WebLlmEngine({ model: spec.model, gpu });
  }
  const { PromptApiEngine } = await import('../src/engines/prompt-api-engine');
  return new PromptApiEngine({});
}

function requireState(): UniRouteState {
  if (!state) throw new EdgeRouteError('invalid-config', 'No routing profile: call prepareProfile(validationSet) first.');
  return state;
}

function profileSummary(s: UniRouteState, started: number): ProfileSummary {
  return { ...s.summary(), millis: performance.now() - started };
}

/** Confidence of the local answer: token log-probs when the engine has them, else sample agreement. */
async function measureConfidence(
  engine: LocalEngine, request: ChatCompletionRequest, firstAnswer: GenerateResult['completion'], samples: number, signal: AbortSignal,
): Promise<LocalConfidence> {
  const tokens = firstAnswer.choices[0]?.logprobs?.content ?? [];
  const useSamples = samples > 1 || !engine.status().logprobs || tokens.length === 0;
  if (!useSamples) return { score: answerConfidence(tokens, { method: 'mean-logprob' }), method: 'mean-logprob' };
  const n = Math.max(samples, 3);
  const answers = await sampleAnswers(engine, request, n, { signal });
  const { embedder } = await loadEmbedder();
  const embeddings = await embedder.embed(answers.map((a) => a.message.content ?? ''), { signal });
  const grouped = answers.map((_, i) => ({ embedding: embeddings[i]! }));
  const options = { similarityThreshold: 0.9 };
  return {
    score: agreementConfidence(grouped, { ...options, measure: 'majority-share' }),
    method: 'sample-agreement',
    semanticEntropy: semanticEntropy(grouped, options).entropy,
    samples: n,
  };
}

const api: EdgeWorkerApi = {
  protocolVersion: WORKER_PROTOCOL_VERSION,

  probeGpu: () => probeWebGpu(),

  async configure(next) {
    if (!next || typeof next !== 'object' || !next.embedder) {
      throw new EdgeRouteError('invalid-config', 'configure() needs { embedder: { kind: "transformers" | "use", ... } }.');
    }
    if (JSON.stringify(next.embedder) !== JSON.stringify(config?.embedder)) {
      await (await embedderLoad?.catch(() => undefined))?.embedder.dispose?.();
      embedderLoad = undefined;
      state = undefined; // a profile belongs to one embedder
    }
    if (JSON.stringify(next.local) !== JSON.stringify(config?.local)) {
      await localEngine?.unload().catch(() => undefined);
      localEngine = undefined;
    }
    config = next;
  },

  async loadEmbedder(onProgress) {
    return (await loadEmbedder(onProgress)).status;
  },

  async embed(texts, options = {}) {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw new EdgeRouteError('invalid-input', 'embed() takes an array of strings.');
    }
    const { embedder } = await loadEmbedder();
    return job(options.jobId, async (signal) => {
      const started = performance.now();
      const embeddings = await embedder.embed(texts, { signal });
      return { embeddings, millis: performance.now() - started };
    });
  },

  async loadLocal(onProgress): Promise<LocalEngineStatus> {
    localEngine ??= await createLocalEngine();
    await localEngine.load(onProgress ? { onProgress } : {});
    return localEngine.status();
  },

  async generate(request, options = {}) {
    if (!localEngine || localEngine.status().state !== 'ready') await api.loadLocal();
    const engine = localEngine!;
    return job(options.jobId, async (signal) => {
      const started = performance.now();
      const completion = await engine.chat({ ...request, stream: false, logprobs: true, top_logprobs: Math.max(1, request.top_logprobs ?? 1) }, { signal });
      const confidence = await measureConfidence(engine, request, completion, options.samples ?? 1, signal);
      return { completion, confidence, millis: performance.now() - started };
    });
  },

  async prepareProfile(set: ValidationSet, options = {}, onProgress?: (p: JobProgress) => void) {
    const { embedder } = await loadEmbedder();
    if (!store) {
      try {
        store = openKvStore('edgeroute', 'profiles');
      } catch {
        store = undefined; // no IndexedDB here: the profile lives in memory only
      }
    }
    return job(options.jobId, async (signal) => {
      const started = performance.now();
      state = await UniRouteState.prepare({
        embedder,
        validationSet: set,
        ...(store ? { store } : {}),
        k: options.k ?? 'auto',
        signal,
        ...(onProgress ? { onProgress: (p) => onProgress({ done: p.done ?? 0, total: p.total ?? 0, text: p.phase }) } : {}),
      });
      return profileSummary(state, started);
    });
  },

  async route(prompt, lambda, candidates): Promise<RouteResult> {
    const s = requireState();
    const { embedder } = await loadEmbedder();
    const t0 = performance.now();
    const [embedding] = await embedder.embed([textForEmbedding(prompt)]);
    const t1 = performance.now();
    const decision = s.decide(embedding!, lambda, candidates);
    const result: RouteResult = {
      clusterProbabilities: Array.from(s.clusterProbabilities(embedding!)),
      predictedErrors: s.predictErrors(embedding!),
      chosenModel: decision.modelId,
      lambda,
      embedMillis: t1 - t0,
      decideMillis: performance.now() - t1,
    };
    return result;
  },

  async calibrateLambda(target, candidates) {
    const { lambda, achieved, feasible } = requireState().calibrateLambda(target, candidates);
    return { lambda, achieved, feasible };
  },

  async addModel(model) {
    const s = requireState();
    const started = performance.now();
    await s.addModel(model);
    return profileSummary(s, started);
  },

  async measureLocalModel(model, options = {}, onProgress) {
    const s = requireState();
    if (!localEngine || localEngine.status().state !== 'ready') await api.loadLocal();
    const engine = localEngine!;
    return job(options.jobId, async (signal) => {
      const started = performance.now();
      await s.measureModel({
        id: model.id,
        cost: 0,
        local: true,
        signal,
        answer: async (prompt, answerSignal) =>
          completionText(await engine.chat({ messages: [{ role: 'user', content: prompt }], max_tokens: 8, temperature: 0 }, { signal: answerSignal })),
        ...(onProgress ? { onProgress: (p) => onProgress({ done: p.done, total: p.total, text: `${p.correct} correct` }) } : {}),
      });
      return profileSummary(s, started);
    });
  },

  cancel(jobId) {
    jobs.get(jobId)?.abort(new EdgeRouteError('aborted', `job "${jobId}" was cancelled`));
  },

  async memory() {
    const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
    return memory ? { usedJSHeapSize: memory.usedJSHeapSize } : {};
  },
};

expose(api);
