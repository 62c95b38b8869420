/// <reference lib="webworker" />
/**
 * The edgeroute worker: hosts everything heavy (embedder, local LLM, UniRoute state) off the
 * page's main thread, exposed through comlink. Heavy libraries (transformers.js, TF.js, web-llm)
 * are imported lazily, only when the configuration asks for them.
 */
import { expose } from 'comlink';
import { raceAbort } from '../common/abort';
import { agreementConfidence, answerConfidence, semanticEntropy } from '../core/confidence';
import type { Embedder } from './embedders/embedder';
import { sampleAnswers, type LoadProgress, type LocalEngine, type LocalEngineStatus } from './engines/local-engine';
import type { AppConfig } from '@mlc-ai/web-llm';
import { watchGpuDevices, type GpuLoss } from './gpu/gpu-watch';
import { embeddingText } from '../core/prompt-text';
import { probeWebGpu } from './gpu/webgpu';
import { EdgeRouteError, errorCode } from '../common/errors';
import { completionText, type ChatCompletionRequest } from '../common/openai';
import { UniRouteState } from './profile-state';
import type { ValidationSet } from '../common/validation-set';
import { openKvStore, type KvStore } from './storage/kv';
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
} from './protocol';
import { installErrorTransfer } from './protocol-errors';

/** Set by startWorkerHost, before any engine asks for a GPU device. */
let gpu!: ReturnType<typeof watchGpuDevices>;

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
/** Every running job, named or not, so a lost GPU can stop them all. */
const running = new Set<AbortController>();

function deviceLostError(loss: GpuLoss, what: string): EdgeRouteError {
  return new EdgeRouteError(
    'device-lost',
    `The GPU device was lost (${loss.reason}: ${loss.message || 'no message'}) while ${what}; this worker cannot use the GPU again. ` +
      'createRouter restarts the worker for the next request; with startEdgeWorker, terminate this worker and start another.',
  );
}


/**
 * After a GPU call fails, whether the device is gone: the engine's error often arrives a moment
 * before the device's `lost` promise settles, hence the short wait (only on this failure path).
 */
async function gpuLossAfterFailure(): Promise<GpuLoss | undefined> {
  if (gpu.lost || gpu.devices === 0) return gpu.lost;
  await Promise.race([gpu.whenLost, new Promise((resolve) => setTimeout(resolve, GPU_LOSS_GRACE_MS))]);
  return gpu.lost;
}

/** How long a failed GPU call waits for the device's `lost` promise (it settles within a task or two). */
const GPU_LOSS_GRACE_MS = 250;

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
  running.add(controller);
  try {
    // An engine stuck in a GPU or WASM call cannot hold a cancelled job: it ends at the abort.
    return await raceAbort(work(controller.signal), controller.signal, (s) => s.reason);
  } finally {
    running.delete(controller);
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
    const { createTransformersEmbedder } = await import('./embedders/transformers-embedder');
    const { ortWasmPaths } = await import('./engines/transformers-env');
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
  const { createUseEmbedder, selectBackend } = await import('./embedders/use-embedder');
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
    const { TransformersEngine } = await import('./engines/transformers-engine');
    const { ortWasmPaths } = await import('./engines/transformers-env');
    return new TransformersEngine({
      model: spec.model,
      device: spec.device ?? 'auto',
      ...(spec.dtype ? { dtype: spec.dtype as never } : {}),
      env: { ...transformersEnv(spec), wasmPaths: ortWasmPaths(`${runtimeBase()}ort/`) },
    });
  }
  if (spec.kind === 'web-llm') {
    const { WebLlmEngine } = await import('./engines/webllm-engine');
    const gpu = await probeWebGpu({ compute: false });
    if (!gpu.available) throw new EdgeRouteError('webgpu-unavailable', `web-llm needs WebGPU, which this browser cannot provide here (${gpu.reason ?? 'no adapter'}); use the cloud or a transformers.js model on WASM.`);
    return new WebLlmEngine({ model: spec.model, gpu, ...(spec.appConfig ? { appConfig: spec.appConfig as unknown as AppConfig } : {}) });
  }
  const { PromptApiEngine } = await import('./engines/prompt-api-engine');
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

  // The probe's compute check destroys the device it made: that is not a loss.
  probeGpu: () => gpu.expected(() => probeWebGpu()),

  async configure(next) {
    if (!next || typeof next !== 'object' || !next.embedder) {
      throw new EdgeRouteError('invalid-config', 'configure() needs { embedder: { kind: "transformers" | "use", ... } }.');
    }
    if (JSON.stringify(next.embedder) !== JSON.stringify(config?.embedder)) {
      const loaded = await embedderLoad?.catch(() => undefined);
      await gpu.expected(async () => loaded?.embedder.dispose?.());
      embedderLoad = undefined;
      state = undefined; // a profile belongs to one embedder
    }
    if (JSON.stringify(next.local) !== JSON.stringify(config?.local)) {
      const engine = localEngine;
      await gpu.expected(async () => engine?.unload().catch(() => undefined));
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
    if (gpu.lost) throw deviceLostError(gpu.lost, 'loading the local model');
    try {
      if (!localEngine || localEngine.status().state !== 'ready') await api.loadLocal();
      const engine = localEngine!;
      return await job(options.jobId, async (signal) => {
        const started = performance.now();
        const completion = await engine.chat({ ...request, stream: false, logprobs: true, top_logprobs: Math.max(1, request.top_logprobs ?? 1) }, { signal });
        const confidence = await measureConfidence(engine, request, completion, options.samples ?? 1, signal);
        return { completion, confidence, millis: performance.now() - started };
      });
    } catch (error) {
      // A cancelled job stays 'aborted'; any other failure may be the GPU going away under it.
      if (errorCode(error) === 'aborted' && !gpu.lost) throw error;
      const loss = await gpuLossAfterFailure();
      if (loss) throw deviceLostError(loss, 'generating');
      throw error;
    }
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
    if (typeof prompt !== 'string') throw new EdgeRouteError('invalid-input', `route() takes the prompt as a string, got ${typeof prompt}.`);
    const s = requireState();
    const { embedder, status } = await loadEmbedder();
    if (gpu.lost && status.backend === 'webgpu') throw deviceLostError(gpu.lost, 'embedding the prompt');
    const text = embeddingText(prompt);
    const notes = text.truncated
      ? [`The prompt (${prompt.length} characters) is longer than the embedder's window: only ${text.text.length} characters of it, its head and tail, were embedded to route it.`]
      : [];
    const t0 = performance.now();
    const [embedding] = await embedder.embed([text.text]);
    const t1 = performance.now();
    // One pass: P(k|x) and the predicted errors come with the decision (not recomputed).
    const decision = s.decideTimed(embedding!, lambda, candidates);
    const result: RouteResult = {
      clusterProbabilities: Array.from(decision.clusterProbabilities),
      predictedErrors: s.byModelId(decision.predictedErrors),
      chosenModel: decision.modelId,
      lambda,
      embedMillis: t1 - t0,
      clusterMillis: decision.clusterMillis,
      decideMillis: decision.decideMillis,
      promptChars: prompt.length,
      embeddedChars: text.text.length,
      truncated: text.truncated,
      notes,
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

  async holdLiveLock(name) {
    const locks = (navigator as WorkerNavigator & { locks?: LockManager }).locks;
    if (!locks || typeof name !== 'string' || name === '') return false;
    // Held until this global is destroyed: the callback's promise never settles.
    await new Promise<void>((granted) => {
      locks.request(name, () => {
        granted();
        return new Promise<never>(() => undefined);
      }).catch(() => undefined);
    });
    return true;
  },

  async memory() {
    const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
    return memory ? { usedJSHeapSize: memory.usedJSHeapSize } : {};
  },
};

/**
 * Runs this worker's side of the protocol: called once by the worker entry
 * (workers/edgeroute.worker.ts). An explicit call, not import side effects, so that no bundler
 * can drop it.
 */
export function startWorkerHost(): void {
  // Error codes must survive the trip to the page (comlink alone sends name and message only).
  installErrorTransfer();
  // Before any engine asks for a GPU device: a lost device poisons this worker (see gpu-watch.ts).
  gpu = watchGpuDevices();
  // Subscribed here, not at module load: `gpu` does not exist before this call.
  void gpu.whenLost.then((loss) => {
    const reason = deviceLostError(loss, 'a job was running');
    for (const controller of running) controller.abort(reason);
  });
  expose(api);
}
