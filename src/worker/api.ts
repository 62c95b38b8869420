/**
 * The worker's side of the protocol (EdgeWorkerApi, see protocol.ts), over one WorkerHostState
 * passed in: no module-level state, so a test can build an API over fakes and two hosts never
 * share anything.
 */
import { EdgeRouteError, errorCode } from '../common/errors';
import { completionText, type ChatCompletion, type ChatCompletionChunk, type FinishReason, type TokenLogprob } from '../common/openai';
import type { ValidationSet } from '../common/validation-set';
import { embeddingText } from '../core/prompt-text';
import { measureConfidence } from './confidence';
import { createEmbedder, createLocalEngine, type FactoryContext, type LoadedEmbedder } from './engine-factory';
import type { LoadProgress, LocalEngine, LocalEngineStatus } from './engines/local-engine';
import type { GpuLoss, GpuWatch } from './gpu/gpu-watch';
import { probeWebGpu } from './gpu/webgpu';
import { JobRegistry } from './jobs';
import { UniRouteState, type PrepareProgress } from './profile-state';
import { WORKER_PROTOCOL_VERSION, type EdgeWorkerApi, type JobProgress, type ProfileSummary, type RouteResult, type WorkerConfig } from './protocol';
import type { KvStore } from './storage/kv';

/** Everything one worker holds between calls. */
export interface WorkerHostState {
  readonly gpu: GpuWatch;
  readonly jobs: JobRegistry;
  readonly context: FactoryContext;
  /** Opens the profile cache; throwing means "no IndexedDB here" (the profile then lives in memory). */
  readonly openStore: () => KvStore;
  /** How to make the embedder and local engine (the factory's, unless a test injects fakes). */
  readonly createEmbedder: typeof createEmbedder;
  readonly createLocalEngine: typeof createLocalEngine;
  config: WorkerConfig | undefined;
  embedderLoad: Promise<LoadedEmbedder> | undefined;
  /**
   * The local engine, created once per configuration: a promise, so that a generation arriving
   * while the page's background load is still creating it shares that engine and its load.
   */
  localEngine: Promise<LocalEngine> | undefined;
  profile: UniRouteState | undefined;
  store: KvStore | undefined;
}

export interface WorkerHostStateOptions {
  readonly gpu: GpuWatch;
  readonly context: FactoryContext;
  readonly openStore: () => KvStore;
  readonly createEmbedder?: typeof createEmbedder;
  readonly createLocalEngine?: typeof createLocalEngine;
}

export function createWorkerHostState(options: WorkerHostStateOptions): WorkerHostState {
  return {
    gpu: options.gpu,
    jobs: new JobRegistry(),
    context: options.context,
    openStore: options.openStore,
    createEmbedder: options.createEmbedder ?? createEmbedder,
    createLocalEngine: options.createLocalEngine ?? createLocalEngine,
    config: undefined,
    embedderLoad: undefined,
    localEngine: undefined,
    profile: undefined,
    store: undefined,
  };
}

export function deviceLostError(loss: GpuLoss, what: string): EdgeRouteError {
  return new EdgeRouteError(
    'device-lost',
    `The GPU device was lost (${loss.reason}: ${loss.message || 'no message'}) while ${what}; this worker cannot use the GPU again. `
      + 'createRouter restarts the worker for the next request; with startEdgeWorker, terminate this worker and start another.',
  );
}

/** How long a failed GPU call waits for the device's `lost` promise (it settles within a task or two). */
const GPU_LOSS_GRACE_MS = 250;

/**
 * After a GPU call fails, whether the device is gone: the engine's error often arrives a moment
 * before the device's `lost` promise settles, hence the short wait (only on this failure path).
 */
async function gpuLossAfterFailure(gpu: GpuWatch): Promise<GpuLoss | undefined> {
  if (gpu.lost || gpu.devices === 0) return gpu.lost;
  await Promise.race([gpu.whenLost, new Promise((resolve) => setTimeout(resolve, GPU_LOSS_GRACE_MS))]);
  return gpu.lost;
}

function requireConfig(state: WorkerHostState): WorkerConfig {
  if (!state.config) throw new EdgeRouteError('invalid-config', 'The worker has no configuration yet: call configure({ embedder, local? }) first.');
  return state.config;
}

function requireProfile(state: WorkerHostState): UniRouteState {
  if (!state.profile) throw new EdgeRouteError('invalid-config', 'No routing profile: call prepareProfile(validationSet) first.');
  return state.profile;
}

/** Loads the embedder once; concurrent callers share the load, a failed one may be retried. */
function loadEmbedder(state: WorkerHostState, onProgress?: (p: LoadProgress) => void): Promise<LoadedEmbedder> {
  if (!state.embedderLoad) {
    const load: Promise<LoadedEmbedder> = (async () => state.createEmbedder(requireConfig(state), state.context, onProgress))().catch((error: unknown) => {
      // A later call may retry (after a config fix, say); a newer load is left alone.
      if (state.embedderLoad === load) state.embedderLoad = undefined;
      throw error;
    });
    state.embedderLoad = load;
  }
  return state.embedderLoad;
}

function profileSummary(profile: UniRouteState, started: number): ProfileSummary {
  return { ...profile.summary(), millis: performance.now() - started };
}

/**
 * prepareProfile's progress, counted in validation prompts (`total`): `done` embedded so far,
 * once per batch, then total/total when the profile is ready, also after a cache hit. `text`
 * names the phase ('cache', 'embedding', 'clustering', 'profile', 'ready'). Mixing the phases'
 * own totals (prompts, then 0/1 steps) would make the page's bar jump back.
 */
export function profileJobProgress(total: number, p: PrepareProgress): JobProgress {
  if (p.phase === 'embedding') return { done: p.done, total, text: 'embedding' };
  if (p.phase === 'cache') return { done: 0, total, text: 'cache' };
  // clustering, profile, ready: every prompt is embedded (or the cache had them all).
  return { done: total, total, text: p.phase };
}

/** The API over `state`. */
export function createWorkerApi(state: WorkerHostState): EdgeWorkerApi {
  const { gpu, jobs } = state;

  const localEngine = (): Promise<LocalEngine> => {
    const creating = (state.localEngine ??= state.createLocalEngine(requireConfig(state), state.context));
    // A failed creation (a bad configuration, an import that failed) is tried again next time.
    creating.catch(() => {
      if (state.localEngine === creating) state.localEngine = undefined;
    });
    return creating;
  };

  const ensureLocal = async (): Promise<LocalEngine> => {
    const engine = await localEngine();
    if (engine.status().state !== 'ready') await engine.load({});
    return engine;
  };

  /** The embedder on texts, for the agreement of sampled answers. */
  const embedTexts = async (texts: readonly string[], signal: AbortSignal) => (await loadEmbedder(state)).embedder.embed(texts, { signal });

  const api: EdgeWorkerApi = {
    protocolVersion: WORKER_PROTOCOL_VERSION,

    // The probe's compute check destroys the device it made: that is not a loss.
    probeGpu: () => gpu.expected(() => probeWebGpu()),

    async configure(next) {
      if (!next || typeof next !== 'object' || !next.embedder) {
        throw new EdgeRouteError('invalid-config', 'configure() needs { embedder: { kind: "transformers" | "use", ... } }.');
      }
      if (JSON.stringify(next.embedder) !== JSON.stringify(state.config?.embedder)) {
        const loaded = await state.embedderLoad?.catch(() => undefined);
        await gpu.expected(async () => loaded?.embedder.dispose?.());
        state.embedderLoad = undefined;
        state.profile = undefined; // a profile belongs to one embedder
      }
      if (JSON.stringify(next.local) !== JSON.stringify(state.config?.local)) {
        const engine = await state.localEngine?.catch(() => undefined);
        await gpu.expected(async () => engine?.unload().catch(() => undefined));
        state.localEngine = undefined;
      }
      state.config = next;
    },

    async loadEmbedder(onProgress) {
      return (await loadEmbedder(state, onProgress)).status;
    },

    async embed(texts, options = {}) {
      if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
        throw new EdgeRouteError('invalid-input', 'embed() takes an array of strings.');
      }
      const { embedder } = await loadEmbedder(state);
      return jobs.run(options.jobId, async (signal) => {
        const started = performance.now();
        const embeddings = await embedder.embed(texts, { signal });
        return { embeddings, millis: performance.now() - started };
      });
    },

    async loadLocal(onProgress): Promise<LocalEngineStatus> {
      const engine = await localEngine();
      await engine.load(onProgress ? { onProgress } : {});
      return engine.status();
    },

    async generate(request, options = {}, onChunk) {
      if (gpu.lost) throw deviceLostError(gpu.lost, 'loading the local model');
      try {
        const engine = await ensureLocal();
        return await jobs.run(options.jobId, async (signal) => {
          const started = performance.now();
          const scored = { ...request, logprobs: true, top_logprobs: Math.max(1, request.top_logprobs ?? 1) };
          const completion =
            onChunk && engine.chatStream && (request.n ?? 1) === 1
              ? await streamedCompletion(engine.chatStream({ ...scored, stream: true }, { signal }), onChunk)
              : await engine.chat({ ...scored, stream: false }, { signal });
          const confidence = await measureConfidence(engine, request, completion, options.samples ?? 1, signal, embedTexts);
          return { completion, confidence, millis: performance.now() - started };
        });
      } catch (error) {
        // A cancelled job stays 'aborted'; any other failure may be the GPU going away under it.
        if (errorCode(error) === 'aborted' && !gpu.lost) throw error;
        const loss = await gpuLossAfterFailure(gpu);
        if (loss) throw deviceLostError(loss, 'generating');
        throw error;
      }
    },

    async prepareProfile(set: ValidationSet, options = {}, onProgress?: (p: JobProgress) => void) {
      const { embedder } = await loadEmbedder(state);
      if (!state.store) {
        try {
          state.store = state.openStore();
        } catch {
          state.store = undefined; // no IndexedDB here: the profile lives in memory only
        }
      }
      const store = state.store;
      return jobs.run(options.jobId, async (signal) => {
        const started = performance.now();
        const total = Array.isArray(set?.prompts) ? set.prompts.length : 0;
        const profile = await UniRouteState.prepare({
          embedder,
          validationSet: set,
          ...(store ? { store } : {}),
          k: options.k ?? 'auto',
          signal,
          ...(onProgress ? { onProgress: (p) => onProgress(profileJobProgress(total, p)) } : {}),
        });
        state.profile = profile;
        return profileSummary(profile, started);
      });
    },

    async route(prompt, lambda, candidates): Promise<RouteResult> {
      if (typeof prompt !== 'string') throw new EdgeRouteError('invalid-input', `route() takes the prompt as a string, got ${typeof prompt}.`);
      const profile = requireProfile(state);
      const { embedder, status } = await loadEmbedder(state);
      if (gpu.lost && status.backend === 'webgpu') throw deviceLostError(gpu.lost, 'embedding the prompt');
      const text = embeddingText(prompt);
      const notes = text.truncated
        ? [
            `The prompt (${prompt.length} characters) is longer than the embedder's window: only ${text.text.length} characters of it, its head and tail, were embedded to route it.`,
          ]
        : [];
      const t0 = performance.now();
      const [embedding] = await embedder.embed([text.text]);
      const t1 = performance.now();
      // One pass: P(k|x), the predicted errors and the ranking come with the decision (not recomputed).
      const decision = profile.decideTimed(embedding!, lambda, candidates);
      return {
        clusterProbabilities: Array.from(decision.clusterProbabilities),
        predictedErrors: profile.byModelId(decision.predictedErrors),
        preRouter: decision.preRouter,
        clusterErrors: profile.byModelId(decision.clusterErrors),
        chosenModel: decision.modelId,
        ranking: decision.ranking,
        lambda,
        embedMillis: t1 - t0,
        clusterMillis: decision.clusterMillis,
        decideMillis: decision.decideMillis,
        promptChars: prompt.length,
        embeddedChars: text.text.length,
        truncated: text.truncated,
        notes,
        ...(decision.escalationRule ? { escalationRule: decision.escalationRule } : {}),
      };
    },

    async calibrateLambda(target, candidates) {
      const { lambda, achieved, feasible } = requireProfile(state).calibrateLambda(target, candidates);
      return { lambda, achieved, feasible };
    },

    async addModel(model) {
      const profile = requireProfile(state);
      const started = performance.now();
      await profile.addModel(model);
      return profileSummary(profile, started);
    },

    async measureLocalModel(model, options = {}, onProgress) {
      const profile = requireProfile(state);
      const engine = await ensureLocal();
      return jobs.run(options.jobId, async (signal) => {
        const started = performance.now();
        const result = await profile.measureModel({
          id: model.id,
          cost: 0,
          local: true,
          signal,
          // The confidence is measured as generate() measures it, so the escalation rule fitted
          // on these answers applies to the answers the router gets later.
          answer: async (prompt, answerSignal) => {
            const request = { messages: [{ role: 'user' as const, content: prompt }], max_tokens: 8, temperature: 0 };
            const completion = await engine.chat({ ...request, logprobs: true, top_logprobs: 1 }, { signal: answerSignal });
            const confidence = await measureConfidence(engine, request, completion, 1, answerSignal, embedTexts);
            return { text: completionText(completion), confidence: { score: confidence.score, kind: confidence.method } };
          },
          ...(onProgress ? { onProgress: (p) => onProgress({ done: p.done, total: p.total, text: `${p.correct} correct` }) } : {}),
        });
        const { scores, confidences, confidenceKind } = result;
        const measured = { id: model.id, cost: 0, local: true, scores, ...(confidenceKind !== undefined ? { confidences, confidenceKind } : {}) };
        return { ...profileSummary(profile, started), measured };
      });
    },

    cancel(jobId) {
      jobs.cancel(jobId);
    },

    async holdLiveLock(name) {
      const locks = (navigator as WorkerNavigator & { locks?: LockManager }).locks;
      if (!locks || typeof name !== 'string' || name === '') return false;
      // Held until this global is destroyed: the callback's promise never settles.
      await new Promise<void>((granted) => {
        locks
          .request(name, () => {
            granted();
            return new Promise<never>(() => undefined);
          })
          .catch(() => undefined);
      });
      return true;
    },

    async memory() {
      const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
      return memory ? { usedJSHeapSize: memory.usedJSHeapSize } : {};
    },
  };
  return api;
}

/**
 * Passes each chunk of a one-choice stream on and assembles the completion the confidence is
 * measured on: the same text, log-probabilities, finish reason and usage as chat() gives.
 * The chunks travel on the callback proxy's own port, the result on the worker's: it resolves
 * only once the page has taken every chunk, or the last ones would arrive after the result
 * and be lost (found under load: streams ending without their finish chunk).
 */
async function streamedCompletion(
  stream: AsyncIterable<ChatCompletionChunk>,
  onChunk: (chunk: ChatCompletionChunk) => void | Promise<void>,
): Promise<ChatCompletion> {
  const delivered: (void | Promise<void>)[] = [];
  let head: ChatCompletionChunk | undefined;
  let content = '';
  const logprobs: TokenLogprob[] = [];
  let sawLogprobs = false;
  let finish: FinishReason = 'stop';
  let usage: ChatCompletion['usage'];
  for await (const chunk of stream) {
    head ??= chunk;
    delivered.push(onChunk(chunk));
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? '';
      if (choice.logprobs?.content) {
        sawLogprobs = true;
        logprobs.push(...choice.logprobs.content);
      }
      if (choice.finish_reason !== null) finish = choice.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  // A page that went away rejects these; the result below is then never read either.
  await Promise.allSettled(delivered);
  return {
    id: head?.id ?? '',
    object: 'chat.completion',
    created: head?.created ?? Math.floor(Date.now() / 1000),
    model: head?.model ?? '',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finish, logprobs: sawLogprobs ? { content: logprobs } : null }],
    ...(usage ? { usage } : {}),
  };
}
