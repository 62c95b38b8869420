/**
 * The on-device LLM as the worker sees it: OpenAI-shaped chat in and out (src/common/openai.ts),
 * whatever runs underneath (web-llm on WebGPU, Chrome's built-in Prompt API, ...). The router
 * needs two things beyond an answer: a confidence, from token log-probabilities when the engine
 * has them (status().logprobs), else from agreement among sampled answers (sampleAnswers).
 */
import { EdgeRouteError, type EdgeRouteErrorCode } from '../../common/errors';
import type { ChatCompletion, ChatCompletionChoice, ChatCompletionChunk, LocalChatRequest as ChatCompletionRequest } from '../../common/openai';

export type LocalEngineKind = 'web-llm' | 'transformers' | 'prompt-api';

/** Model-load progress, plain data (it crosses the worker boundary). */
export interface LoadProgress {
  /**
   * In [0, 1]. May start again from 0 when a new phase begins (web-llm downloads the weights,
   * then uploads them to the GPU); `text` says which phase.
   */
  readonly progress: number;
  /** Human-readable, from the engine. */
  readonly text: string;
  readonly loadedBytes?: number;
  readonly totalBytes?: number;
}

export interface LoadOptions {
  /** Aborting cancels the download / load; load() then rejects with EdgeRouteError('aborted'). */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: LoadProgress) => void;
}

export interface ChatOptions {
  /** Aborting stops generation; the call rejects with EdgeRouteError('aborted'). */
  readonly signal?: AbortSignal;
}

export type LocalEngineState = 'unloaded' | 'loading' | 'ready' | 'failed';

/** Plain data, so the page can show it. */
export interface LocalEngineStatus {
  readonly state: LocalEngineState;
  /** The exact model (for web-llm a prebuilt model_id such as 'Llama-3.2-1B-Instruct-q4f16_1-MLC'). */
  readonly modelId: string;
  /**
   * True when chat() returns per-token log-probabilities: every choice has
   * `logprobs.content` with one entry per generated token, each with ≥ 1 `top_logprobs`.
   * False: confidence must come from sample agreement (sampleAnswers + semantic entropy).
   */
  readonly logprobs: boolean;
  /** True when one chat() call accepts n > 1 (non-streaming). */
  readonly multipleChoices: boolean;
  /** True when chatStream() exists. */
  readonly streaming: boolean;
  /** Last progress seen while loading. */
  readonly progress?: LoadProgress;
  /** Why the engine is 'failed' (or why the last load failed). */
  readonly error?: { readonly code: EdgeRouteErrorCode; readonly message: string };
  /** What runs the loaded model, where the engine can choose ('webgpu' | 'wasm' | 'cpu'). */
  readonly backend?: string;
  /** Why WebGPU is not used, when the engine chose another backend ('auto'). */
  readonly fallbackReason?: string;
}

export interface LocalEngine {
  /** Stable identifier of engine + exact model, used as a cache key (e.g. 'web-llm:<model_id>'). */
  readonly id: string;
  readonly kind: LocalEngineKind;
  /** Downloads (or opens from cache) and initialises the model. Resolves when chat() can run. */
  load(options?: LoadOptions): Promise<void>;
  /**
   * One whole completion (the request's `stream` must not be true). With status().logprobs,
   * every choice carries token log-probabilities, whatever `logprobs` the request asked for.
   */
  chat(request: ChatCompletionRequest, options?: ChatOptions): Promise<ChatCompletion>;
  /** Streams one choice as OpenAI chunks; errors (including 'aborted') are thrown from iteration. */
  chatStream?(request: ChatCompletionRequest, options?: ChatOptions): AsyncIterable<ChatCompletionChunk>;
  /** Frees the model (GPU memory, sessions). load() may be called again afterwards. */
  unload(): Promise<void>;
  status(): LocalEngineStatus;
}

/** Temperature for sampling when the request is greedy (0) or leaves it unset. */
export const DEFAULT_SAMPLING_TEMPERATURE = 0.7;

export interface SampleAnswersOptions extends ChatOptions {
  /** Used when the request's temperature is unset or 0; default DEFAULT_SAMPLING_TEMPERATURE. */
  readonly temperature?: number;
}

/**
 * n sampled answers to one request (for agreement-based confidence). Sampling must be random,
 * so a greedy or unset temperature is replaced by `options.temperature`. Uses one call with n
 * choices when the engine supports it (web-llm shares the prompt prefill), else n sequential
 * calls; a request seed s becomes s, s+1, … so sequential samples differ yet stay reproducible.
 * Returns the choices indexed 0..n-1.
 */
export async function sampleAnswers(
  engine: LocalEngine,
  request: ChatCompletionRequest,
  n: number,
  options: SampleAnswersOptions = {},
): Promise<ChatCompletionChoice[]> {
  if (!Number.isInteger(n) || n < 1) {
    throw new EdgeRouteError('invalid-input', `sampleAnswers needs a positive integer n, got ${n}.`);
  }
  const fallback = options.temperature ?? DEFAULT_SAMPLING_TEMPERATURE;
  if (!(fallback > 0) || !Number.isFinite(fallback)) {
    throw new EdgeRouteError('invalid-input', `sampleAnswers needs a sampling temperature > 0, got ${fallback}.`);
  }
  const temperature = request.temperature !== undefined && request.temperature > 0 ? request.temperature : fallback;
  const chatOptions: ChatOptions = options.signal ? { signal: options.signal } : {};
  const base: ChatCompletionRequest = { ...request, temperature, stream: false };

  if (n > 1 && engine.status().multipleChoices) {
    const completion = await engine.chat({ ...base, n }, chatOptions);
    if (completion.choices.length !== n) {
      throw new EdgeRouteError(
        'local-engine-failed',
        `${engine.id} returned ${completion.choices.length} choices for n = ${n}; the engine's chat() must honour n when status().multipleChoices is true.`,
      );
    }
    return completion.choices.map((c, index) => ({ ...c, index }));
  }

  const answers: ChatCompletionChoice[] = [];
  for (let i = 0; i < n; i++) {
    const seed = request.seed === undefined ? {} : { seed: request.seed + i };
    const completion = await engine.chat({ ...base, ...seed, n: 1 }, chatOptions);
    const choice = completion.choices[0];
    if (!choice) throw new EdgeRouteError('local-engine-failed', `${engine.id} returned no choice for sample ${i + 1} of ${n}.`);
    answers.push({ ...choice, index: i });
  }
  return answers;
}

/** What an engine can do, the constant part of its status. */
export interface LocalEngineCapabilities {
  readonly logprobs: boolean;
  readonly multipleChoices: boolean;
  readonly streaming: boolean;
}

/** Builds the plain-data status every engine reports. */
export function engineStatus(
  state: LocalEngineState,
  modelId: string,
  capabilities: LocalEngineCapabilities,
  progress?: LoadProgress,
  error?: { readonly code: EdgeRouteErrorCode; readonly message: string },
): LocalEngineStatus {
  return {
    state,
    modelId,
    ...capabilities,
    ...(progress ? { progress } : {}),
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  };
}
