/**
 * LocalEngine over web-llm's MLCEngine (WebGPU). Runs inside the worker; web-llm itself is
 * imported lazily on first load(), so pages that never use the local model never fetch it.
 *
 * web-llm facts this adapter relies on (checked against @mlc-ai/web-llm 0.2.86):
 * - a request with `logprobs: true` but `top_logprobs` 0 or unset returns NO token log-probs
 *   (tokens are recorded only when top_logprobs > 0), and top_logprobs must be ≤ 5;
 * - `n > 1` works only without streaming (StreamingCountError);
 * - interruptGenerate() stops the running generation after its current step; the request then
 *   resolves normally with finish_reason 'abort';
 * - unload() aborts an in-flight reload(), which then resolves without error;
 * - requests to one model run one at a time behind a lock.
 */
import type {
  AppConfig,
  ChatCompletion as WebLlmChatCompletion,
  ChatCompletionChunk as WebLlmChatCompletionChunk,
  ChatCompletionMessageParam as WebLlmMessage,
  ChatCompletionRequest as WebLlmChatRequest,
  ChatOptions as WebLlmChatOptions,
  InitProgressCallback,
  InitProgressReport,
  MLCEngineConfig,
} from '@mlc-ai/web-llm';
import { raceAbort } from '../../common/abort';
import { abortedError, EdgeRouteError } from '../../common/errors';
import {
  validateLocalChatRequest as validateChatRequest,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionChunk,
  type LocalChatRequest as ChatCompletionRequest,
  type ChatMessage,
} from '../../common/openai';
import { EngineLifecycle, type LoadRun } from './engine-lifecycle';
import type { ChatOptions, LoadOptions, LoadProgress, LocalEngine, LocalEngineStatus } from './local-engine';

/** The part of web-llm's MLCEngine this adapter uses (web-llm's MLCEngine satisfies it). */
export interface MLCEngineLike {
  readonly chat: {
    readonly completions: {
      create(request: WebLlmChatRequest): Promise<WebLlmChatCompletion | AsyncIterable<WebLlmChatCompletionChunk>>;
    };
  };
  reload(modelId: string, chatOpts?: WebLlmChatOptions): Promise<void>;
  unload(): Promise<void>;
  interruptGenerate(): void | Promise<void>;
  setInitProgressCallback(callback: InitProgressCallback): void;
}

/** GPU facts the model choice depends on; a GpuProbe from ./webgpu fits. */
export interface WebLlmGpuInfo {
  /** The adapter has the 'shader-f16' feature (needed by q4f16 builds). */
  readonly shaderF16: boolean;
}

export interface WebLlmEngineOptions {
  /**
   * A model family as in web-llm's model ids ('Llama-3.2-1B-Instruct', 'Qwen2.5-0.5B-Instruct'):
   * the q4f16_1 build is used when the GPU has shader-f16, else q4f32_1. Or an exact model_id
   * ('Llama-3.2-1B-Instruct-q4f32_1-MLC-1k'), used as given.
   */
  readonly model: string;
  readonly gpu: WebLlmGpuInfo;
  /** The model list (and cache backend) to load from; default web-llm's prebuiltAppConfig. */
  readonly appConfig?: AppConfig;
  /** Overrides of the model's mlc-chat-config.json, e.g. { context_window_size: 2048 }. */
  readonly chatOptions?: WebLlmChatOptions;
  /**
   * Makes the engine that will load `modelId`. It must NOT load the model itself: the adapter
   * calls reload(), because only an engine it holds can be unloaded to abort a download.
   * Default: `new MLCEngine(config)` from a lazy `import('@mlc-ai/web-llm')`.
   */
  readonly createEngine?: (modelId: string, config: MLCEngineConfig) => Promise<MLCEngineLike>;
}

export type WebLlmQuantization = 'q4f16_1' | 'q4f32_1';

/** web-llm's most alternatives per token (its top_logprobs range is [0, 5]). */
export const WEBLLM_MAX_TOP_LOGPROBS = 5;

/** An exact web-llm model id ends in its quantization and '-MLC', maybe with a suffix ('-1k'). */
const MODEL_ID_PATTERN = /-q\d+f(16|32)(_\d+)?-MLC(-[A-Za-z0-9]+)?$/;

/** q4f16_1 halves weight memory but needs shader-f16; q4f32_1 runs on every WebGPU adapter. */
export function webLlmQuantization(gpu: WebLlmGpuInfo): WebLlmQuantization {
  return gpu.shaderF16 ? 'q4f16_1' : 'q4f32_1';
}

/**
 * The model_id for a family (or an exact id) on this GPU, by web-llm's naming
 * '<family>-<quantization>-MLC'. Throws 'webgpu-unavailable' for an exact f16 id on an adapter
 * without shader-f16 (web-llm would fail late, after downloading the weights).
 */
export function webLlmModelId(model: string, gpu: WebLlmGpuInfo): string {
  const exact = MODEL_ID_PATTERN.exec(model);
  if (!exact) return `${model}-${webLlmQuantization(gpu)}-MLC`;
  if (exact[1] === '16' && !gpu.shaderF16) {
    throw new EdgeRouteError(
      'webgpu-unavailable',
      `${model} is an f16 build, but this GPU adapter lacks the 'shader-f16' feature. `
        + `Use the f32 build (${model.replace(MODEL_ID_PATTERN, (m) => m.replace(/f16/, 'f32'))}) or pass the family name and let edgeroute choose.`,
    );
  }
  return model;
}

/** Minimal model record: what selection looks at. */
export interface WebLlmModelRecordLike {
  readonly model_id: string;
  /** web-llm's ModelType: 0 LLM, 1 embedding, 2 VLM. */
  readonly model_type?: number;
  readonly vram_required_MB?: number;
}

/**
 * The record of `model` (family or exact id) for this GPU in `modelList`. Throws
 * EdgeRouteError('invalid-config') naming the builds that exist when it is missing.
 */
export function selectWebLlmModel<R extends WebLlmModelRecordLike>(model: string, gpu: WebLlmGpuInfo, modelList: readonly R[]): R {
  const modelId = webLlmModelId(model, gpu);
  const record = modelList.find((r) => r.model_id === modelId);
  if (record) {
    if (record.model_type === 1) {
      throw new EdgeRouteError('invalid-config', `${modelId} is an embedding model; choose a chat model.`);
    }
    return record;
  }
  const family = MODEL_ID_PATTERN.test(model) ? model.replace(MODEL_ID_PATTERN, '') : model;
  const builds = modelList.filter((r) => r.model_id.startsWith(`${family}-`)).map((r) => r.model_id);
  const hint = builds.length
    ? `Builds of ${family} in the list: ${builds.join(', ')}`
      + (gpu.shaderF16 ? '.' : ' (f16 builds need the shader-f16 GPU feature, which this adapter lacks).')
    : `No model of family ${family} is listed; pick a model_id from web-llm's prebuiltAppConfig.model_list (small ones: Qwen2.5-0.5B-Instruct, Llama-3.2-1B-Instruct, SmolLM2-360M-Instruct), or add its record to appConfig.model_list.`;
  throw new EdgeRouteError('invalid-config', `web-llm has no model ${modelId}. ${hint}`);
}

/** web-llm's progress report as edgeroute's LoadProgress; byte counts parsed from its text. */
export function toLoadProgress(report: InitProgressReport): LoadProgress {
  const progress = Number.isFinite(report.progress) ? Math.min(1, Math.max(0, report.progress)) : 0;
  // web-llm writes e.g. "Fetching param cache[3/22]: 120MB fetched. 14% completed, ..." (MiB, rounded up).
  const mb = /(\d+)MB (?:fetched|loaded)/.exec(report.text);
  if (!mb) return { progress, text: report.text };
  const loadedBytes = Number(mb[1]) * 1024 * 1024;
  return progress > 0
    ? { progress, text: report.text, loadedBytes, totalBytes: Math.round(loadedBytes / progress) }
    : { progress, text: report.text, loadedBytes };
}

// ---------------------------------------------------------------------------------------------
// Errors

type Phase = 'loading' | 'generating' | 'unloading';

function errorName(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.name : '';
}

function errorMessage(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.message : String(error);
}

/** True for errors after which the GPU state is gone and the model must be loaded again. */
function isDeviceLoss(error: unknown): boolean {
  return errorName(error) === 'DeviceLostError' || /device (was )?lost|out of memory|\bOOM\b|GPUOutOfMemoryError|failed to allocate/i.test(errorMessage(error));
}

/**
 * Maps anything web-llm throws to an EdgeRouteError with a next step. web-llm's error classes
 * are not exported, so this goes by `name` (stable across its builds) and message patterns.
 */
export function mapWebLlmError(error: unknown, modelId: string, phase: Phase): EdgeRouteError {
  if (error instanceof EdgeRouteError) return error;
  const name = errorName(error);
  const message = errorMessage(error);
  const make = (code: ConstructorParameters<typeof EdgeRouteError>[0], text: string) => new EdgeRouteError(code, text, { cause: error });

  if (name === 'AbortError') return make('aborted', `${phase} ${modelId} was aborted.`);
  if (name === 'WebGPUNotAvailableError' || name === 'WebGPUNotFoundError' || /WebGPU is not supported|Cannot find WebGPU/i.test(message)) {
    return make(
      'webgpu-unavailable',
      `WebGPU is unavailable in this context, so ${modelId} cannot run locally. Use a browser with WebGPU enabled `
        + `(Chrome/Edge 113+, or check chrome://gpu), or route every prompt to the cloud model. (web-llm: ${message})`,
    );
  }
  if (name === 'ShaderF16SupportError' || name === 'FeatureSupportError') {
    return make(
      'webgpu-unavailable',
      `${modelId} needs a GPU feature this adapter lacks (${message}). Construct the engine with gpu.shaderF16 from `
        + `probeWebGpu() so a q4f32_1 build is chosen.`,
    );
  }
  if (isDeviceLoss(error)) {
    return make(
      'local-engine-failed',
      `The GPU device was lost while ${phase} ${modelId}, most likely out of GPU memory. Call load() again, or `
        + `choose a smaller model (fewer parameters, or a '-1k' context build). (web-llm: ${message})`,
    );
  }
  if (name === 'QuotaExceededError') {
    return make(
      'storage-quota',
      `The browser's storage quota is full, so ${modelId}'s weights cannot be cached. Free site storage `
        + `(or delete cached models) and load again. (${message})`,
    );
  }
  if (name === 'ModelNotFoundError' || name === 'SpecifiedModelNotFoundError' || name === 'MissingModelError') {
    return make(
      'local-engine-failed',
      `${modelId} is not in web-llm's model list. Pick a model_id from prebuiltAppConfig.model_list, or pass `
        + `appConfig with its record. (web-llm: ${message})`,
    );
  }
  if (name === 'ModelNotLoadedError' || name === 'ConfigurationNotInitializedError') {
    return make('local-engine-failed', `${modelId} is not loaded; call load() and wait for it first. (web-llm: ${message})`);
  }
  if (name === 'ContextWindowSizeExceededError') {
    return make(
      'local-engine-failed',
      `The prompt is longer than ${modelId}'s context window; shorten it or send it to the cloud model. (web-llm: ${message})`,
    );
  }
  if (
    error instanceof Error
    && (/ConfigValueError|RangeError|MinValueError|NonNegativeError|DependencyError/.test(name)
      || /MessageOrderError|SystemMessageOrderError|ContentTypeError|UnsupportedRoleError|StreamingCountError|SeedTypeError|UnsupportedFieldsError/.test(name))
  ) {
    return make('invalid-input', `web-llm rejected the request for ${modelId}: ${message}`);
  }
  if (phase === 'loading' && (name === 'TypeError' || /fetch|network|NetworkError|status/i.test(message))) {
    return make(
      'local-engine-failed',
      `Could not download ${modelId}'s files (${message}). Check the network and that the model host `
        + `(huggingface.co by default, or your appConfig URLs) is reachable and allows CORS; then load again.`,
    );
  }
  return make('local-engine-failed', `web-llm failed while ${phase} ${modelId}: ${message}`);
}

/** Settles like `promise`, or rejects with 'aborted' as soon as `signal` fires. */
function raceAbortedEngine<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  return raceAbort(promise, signal, (s) => abortedError(what, s));
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

// ---------------------------------------------------------------------------------------------
// Request / response conversion

function toWebLlmMessage(m: ChatMessage): WebLlmMessage {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: m.content };
    case 'assistant':
      return { role: 'assistant', content: m.content };
  }
}

/**
 * The request web-llm gets. Only fields edgeroute knows are copied (web-llm rejects some OpenAI
 * fields), `model` is dropped (the engine has one model), and log-probs are always on with
 * top_logprobs ≥ 1, since web-llm records no token log-probs when top_logprobs is 0.
 */
export function toWebLlmRequest(request: ChatCompletionRequest, stream: boolean): WebLlmChatRequest {
  validateChatRequest(request);
  const n = request.n ?? 1;
  if (n > 1 && (stream || request.stream === true)) {
    throw new EdgeRouteError(
      'invalid-input',
      `web-llm streams one choice at a time, so n = ${n} cannot be streamed. Call chat() without stream ` + `for several choices (or use sampleAnswers()).`,
    );
  }
  if (!stream && request.stream === true) {
    throw new EdgeRouteError('invalid-input', 'chat() returns a whole completion; use chatStream() for stream: true.');
  }
  const topLogprobs = request.top_logprobs ?? 0;
  if (topLogprobs > WEBLLM_MAX_TOP_LOGPROBS) {
    throw new EdgeRouteError(
      'invalid-input',
      `web-llm returns at most ${WEBLLM_MAX_TOP_LOGPROBS} alternatives per token; top_logprobs must be ≤ ${WEBLLM_MAX_TOP_LOGPROBS}, got ${topLogprobs}.`,
    );
  }
  const common = {
    messages: request.messages.map(toWebLlmMessage),
    logprobs: true,
    top_logprobs: Math.max(1, topLogprobs),
    ...(request.n !== undefined ? { n: request.n } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.top_p !== undefined ? { top_p: request.top_p } : {}),
    ...(request.max_tokens !== undefined ? { max_tokens: request.max_tokens } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(request.stop !== undefined ? { stop: typeof request.stop === 'string' ? request.stop : [...request.stop] } : {}),
  };
  return stream ? { ...common, stream: true, stream_options: { include_usage: true } } : { ...common, stream: false };
}

function fromWebLlmCompletion(c: WebLlmChatCompletion): ChatCompletion {
  const choices = c.choices.map((ch): ChatCompletionChoice => {
    const content = ch.logprobs?.content;
    // web-llm answers top_logprobs 0 with `content: []`, so an empty list for a non-empty answer
    // is as much a failure as null.
    if (!content || (content.length === 0 && (ch.message.content ?? '') !== '')) {
      // LocalEngine contract: with status().logprobs every choice has token log-probs.
      throw new EdgeRouteError(
        'local-engine-failed',
        `web-llm returned no token log-probabilities for choice ${ch.index} of ${c.model} although the request had `
          + `logprobs: true and top_logprobs ≥ 1; this web-llm version behaves differently from 0.2.86.`,
      );
    }
    return {
      index: ch.index,
      message: { role: 'assistant', content: ch.message.content },
      finish_reason: ch.finish_reason,
      logprobs: { content },
    };
  });
  const u = c.usage;
  return {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices,
    ...(u ? { usage: { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens } } : {}),
  };
}

function fromWebLlmChunk(c: WebLlmChatCompletionChunk): ChatCompletionChunk {
  const u = c.usage;
  return {
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    choices: c.choices.map((ch) => ({
      index: ch.index,
      delta: {
        ...(ch.delta.role === 'assistant' ? { role: 'assistant' as const } : {}),
        ...(ch.delta.content !== undefined ? { content: ch.delta.content } : {}),
      },
      finish_reason: ch.finish_reason,
      ...(ch.logprobs !== undefined ? { logprobs: ch.logprobs === null ? null : { content: ch.logprobs.content } } : {}),
    })),
    ...(u ? { usage: { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens } } : {}),
  };
}

async function importWebLlm(): Promise<typeof import('@mlc-ai/web-llm')> {
  try {
    return await import('@mlc-ai/web-llm');
  } catch (error) {
    throw new EdgeRouteError(
      'local-engine-failed',
      `Could not load the web-llm library (${errorMessage(error)}). Serve the worker's chunks/ folder next to `
        + `edgeroute.worker.js, or disable the local model.`,
      { cause: error },
    );
  }
}

const defaultCreateEngine = async (_modelId: string, config: MLCEngineConfig): Promise<MLCEngineLike> => {
  const webllm = await importWebLlm();
  return new webllm.MLCEngine(config);
};

// ---------------------------------------------------------------------------------------------
// The engine

export class WebLlmEngine implements LocalEngine {
  readonly kind = 'web-llm' as const;
  readonly id: string;
  /** The exact web-llm model_id, chosen from the family and the GPU's features. */
  readonly modelId: string;

  readonly #options: WebLlmEngineOptions;
  readonly #createEngine: (modelId: string, config: MLCEngineConfig) => Promise<MLCEngineLike>;
  #engine: MLCEngineLike | undefined;
  readonly #lifecycle = new EngineLifecycle({ logprobs: true, multipleChoices: true, streaming: true });
  /** Settles when the last reload() has really finished (also after an early abort). */
  #reloadSettled: Promise<void> = Promise.resolve();
  /** Tail of the generation queue: one request at a time, so an abort interrupts only its own. */
  #tail: Promise<void> = Promise.resolve();

  constructor(options: WebLlmEngineOptions) {
    this.#options = options;
    this.modelId = webLlmModelId(options.model, options.gpu);
    // Fail at construction when the list is known, not after the user waited for a download.
    if (options.appConfig) selectWebLlmModel(options.model, options.gpu, options.appConfig.model_list);
    this.id = `web-llm:${this.modelId}`;
    this.#createEngine = options.createEngine ?? defaultCreateEngine;
  }

  status(): LocalEngineStatus {
    return this.#lifecycle.status(this.modelId);
  }

  /** Idempotent: resolves at once when loaded; a second call while loading shares the first. */
  load(options: LoadOptions = {}): Promise<void> {
    const { signal } = options;
    const what = `Loading ${this.modelId}`;
    return this.#lifecycle.load(
      options,
      what,
      (run) => this.#load(run, signal, what),
      (error) => (signal?.aborted ? abortedError(what, signal) : mapWebLlmError(error, this.modelId, 'loading')),
    );
  }

  async #load(run: LoadRun, signal: AbortSignal | undefined, what: string): Promise<void> {
    if (signal?.aborted) throw abortedError(what, signal);
    await this.#reloadSettled;
    const appConfig = this.#options.appConfig ?? (await importWebLlm()).prebuiltAppConfig;
    selectWebLlmModel(this.#options.model, this.#options.gpu, appConfig.model_list);
    const report = (r: InitProgressReport): void => run.report(toLoadProgress(r));
    const engine = (this.#engine ??= await raceAbortedEngine(this.#createEngine(this.modelId, { appConfig, initProgressCallback: report }), signal, what));
    engine.setInitProgressCallback(report);
    // web-llm's unload() aborts the downloads of an in-flight reload(), which then resolves.
    const onAbort = (): void => void engine.unload().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    const reload = engine.reload(this.modelId, this.#options.chatOptions);
    this.#reloadSettled = reload.then(
      () => undefined,
      () => undefined,
    );
    try {
      await raceAbortedEngine(reload, signal, what);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (!this.#lifecycle.isCurrent(run.epoch)) {
      // unload() ran while the engine was still being created: free what reload() just loaded.
      await engine.unload().catch(() => undefined);
      throw new EdgeRouteError('aborted', `${what} was cut off by unload().`);
    }
  }

  async chat(request: ChatCompletionRequest, options: ChatOptions = {}): Promise<ChatCompletion> {
    const body = toWebLlmRequest(request, false);
    const { signal } = options;
    const what = `Generation by ${this.modelId}`;
    const release = await this.#acquire(signal, what);
    const epoch = this.#lifecycle.epoch;
    let work: Promise<WebLlmChatCompletion | AsyncIterable<WebLlmChatCompletionChunk>> | undefined;
    try {
      const engine = this.#requireReady();
      work = engine.chat.completions.create(body);
      // Keep the queue slot until web-llm has really stopped, even when we reject early.
      work.then(release, release);
      const onAbort = (): void => void engine.interruptGenerate();
      signal?.addEventListener('abort', onAbort, { once: true });
      let result: WebLlmChatCompletion | AsyncIterable<WebLlmChatCompletionChunk>;
      try {
        result = await raceAbortedEngine(work, signal, what);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      this.#checkNotUnloaded(epoch, what);
      if (isAsyncIterable(result)) {
        throw new EdgeRouteError('local-engine-failed', `web-llm returned a stream for a non-streaming request to ${this.modelId}.`);
      }
      return fromWebLlmCompletion(result);
    } catch (error) {
      throw this.#failure(error, signal, what);
    } finally {
      if (!work) release();
    }
  }

  async *chatStream(request: ChatCompletionRequest, options: ChatOptions = {}): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    const body = toWebLlmRequest(request, true);
    const { signal } = options;
    const what = `Streaming generation by ${this.modelId}`;
    const release = await this.#acquire(signal, what);
    const epoch = this.#lifecycle.epoch;
    try {
      const engine = this.#requireReady();
      const onAbort = (): void => void engine.interruptGenerate();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const stream = await raceAbortedEngine(engine.chat.completions.create(body), signal, what);
        if (!isAsyncIterable<WebLlmChatCompletionChunk>(stream)) {
          throw new EdgeRouteError('local-engine-failed', `web-llm returned a whole completion for a streaming request to ${this.modelId}.`);
        }
        // Leaving this loop (abort, error, or the consumer's break) returns web-llm's generator,
        // which releases its model lock.
        for await (const chunk of stream) {
          if (signal?.aborted) throw abortedError(what, signal);
          this.#checkNotUnloaded(epoch, what);
          yield fromWebLlmChunk(chunk);
        }
        if (signal?.aborted) throw abortedError(what, signal);
        this.#checkNotUnloaded(epoch, what);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    } catch (error) {
      throw this.#failure(error, signal, what);
    } finally {
      release();
    }
  }

  /** Stops any generation, frees the GPU memory and cancels a load in progress. */
  async unload(): Promise<void> {
    this.#lifecycle.unload();
    const engine = this.#engine;
    if (!engine) return;
    try {
      await engine.interruptGenerate();
      await engine.unload();
    } catch (error) {
      throw mapWebLlmError(error, this.modelId, 'unloading');
    }
  }

  /** Waits for this request's turn in the queue; returns the function that frees the turn. */
  async #acquire(signal: AbortSignal | undefined, what: string): Promise<() => void> {
    if (signal?.aborted) throw abortedError(what, signal);
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#tail = previous.then(() => mine);
    try {
      await raceAbortedEngine(previous, signal, what);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  #requireReady(): MLCEngineLike {
    this.#lifecycle.requireReady(this.id);
    return this.#engine!;
  }

  #checkNotUnloaded(epoch: number, what: string): void {
    if (!this.#lifecycle.isCurrent(epoch)) throw new EdgeRouteError('aborted', `${what} was cut off by unload().`);
  }

  /** Maps a generation error; a lost device leaves the engine 'failed' until load() again. */
  #failure(error: unknown, signal: AbortSignal | undefined, what: string): EdgeRouteError {
    if (signal?.aborted) return error instanceof EdgeRouteError && error.code === 'aborted' ? error : abortedError(what, signal);
    const mapped = mapWebLlmError(error, this.modelId, 'generating');
    if (isDeviceLoss(error)) {
      this.#lifecycle.fail(mapped);
    }
    return mapped;
  }
}
