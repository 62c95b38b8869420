/**
 * LocalEngine over Chrome's built-in Prompt API (the `LanguageModel` global, Gemini Nano in
 * Chrome). Feature-detected: most browsers, and our headless test Chromium, lack it.
 *
 * The API returns text only: no token log-probabilities (status().logprobs is false, so the
 * router must take confidence from agreement among sampled answers), one answer per call, and
 * no max_tokens / top_p / seed. Sampling parameters are per session, so every chat() opens a
 * fresh session seeded with the conversation so far, which also keeps requests stateless as
 * OpenAI's are.
 *
 * The types below are the subset of the Prompt API explainer edgeroute uses
 * (https://github.com/webmachinelearning/prompt-api); TypeScript's DOM lib has none yet.
 */
import { EdgeRouteError } from '../../common/errors';
import {
  validateLocalChatRequest as validateChatRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
  type LocalChatRequest as ChatCompletionRequest,
  type ChatMessage,
} from '../../common/openai';
import { EngineLifecycle, type LoadRun } from './engine-lifecycle';
import type { ChatOptions, LoadOptions, LoadProgress, LocalEngine, LocalEngineStatus } from './local-engine';

export type PromptApiAvailability = 'unavailable' | 'downloadable' | 'downloading' | 'available';

export interface LanguageModelMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface LanguageModelExpected {
  readonly type: 'text';
  readonly languages?: readonly string[];
}

export interface LanguageModelAvailabilityOptions {
  readonly expectedInputs?: readonly LanguageModelExpected[];
  readonly expectedOutputs?: readonly LanguageModelExpected[];
  readonly temperature?: number;
  readonly topK?: number;
}

/** The monitor passed to create(): an EventTarget firing 'downloadprogress'. */
export interface LanguageModelMonitor {
  addEventListener(type: 'downloadprogress', listener: (event: { readonly loaded: number; readonly total?: number }) => void): void;
}

export interface LanguageModelCreateOptions extends LanguageModelAvailabilityOptions {
  readonly signal?: AbortSignal;
  readonly monitor?: (monitor: LanguageModelMonitor) => void;
  readonly initialPrompts?: readonly LanguageModelMessage[];
}

export interface LanguageModelSession {
  prompt(input: string, options?: { signal?: AbortSignal }): Promise<string>;
  /** Chrome returns a ReadableStream of text deltas. */
  promptStreaming(input: string, options?: { signal?: AbortSignal }): ReadableStream<string> | AsyncIterable<string>;
  destroy(): void;
}

export interface LanguageModelParams {
  readonly defaultTopK: number;
  readonly maxTopK: number;
  readonly defaultTemperature: number;
  readonly maxTemperature: number;
}

/** The `LanguageModel` global. */
export interface LanguageModelStatic {
  availability(options?: LanguageModelAvailabilityOptions): Promise<PromptApiAvailability>;
  create(options?: LanguageModelCreateOptions): Promise<LanguageModelSession>;
  /** Sampling limits; missing where the browser does not expose sampling parameters. */
  params?(): Promise<LanguageModelParams | null>;
}

function isLanguageModelStatic(value: unknown): value is LanguageModelStatic {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const v = value as { availability?: unknown; create?: unknown };
  return typeof v.availability === 'function' && typeof v.create === 'function';
}

/** The LanguageModel global of `scope`, if it has a usable one. */
function languageModelOf(scope: object): LanguageModelStatic | undefined {
  const lm: unknown = (scope as { LanguageModel?: unknown }).LanguageModel;
  return isLanguageModelStatic(lm) ? lm : undefined;
}

/** Whether `scope` (default globalThis) has the Prompt API at all; says nothing about the model. */
export function isPromptApiAvailable(scope: object = globalThis): boolean {
  return languageModelOf(scope) !== undefined;
}

/** The model's availability, 'unavailable' when the API is missing or fails. */
export async function promptApiAvailability(scope: object = globalThis, options?: LanguageModelAvailabilityOptions): Promise<PromptApiAvailability> {
  const lm = languageModelOf(scope);
  if (!lm) return 'unavailable';
  try {
    return await lm.availability(options);
  } catch {
    return 'unavailable';
  }
}

export interface PromptApiEngineOptions {
  /** The LanguageModel global to use (tests inject a fake); default globalThis.LanguageModel. */
  readonly languageModel?: LanguageModelStatic;
  /** The API does not name its model; this labels it in `id`. Default 'built-in'. */
  readonly modelId?: string;
  /** Languages of prompts and answers (BCP 47); default ['en']. */
  readonly languages?: readonly string[];
}

function errorName(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.name : '';
}

function errorMessage(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.message : String(error);
}

/** Maps the Prompt API's DOMExceptions to EdgeRouteErrors with a next step. */
export function mapPromptApiError(error: unknown, phase: 'loading' | 'generating'): EdgeRouteError {
  if (error instanceof EdgeRouteError) return error;
  const name = errorName(error);
  const message = errorMessage(error);
  const make = (code: 'aborted' | 'local-engine-failed', text: string) => new EdgeRouteError(code, text, { cause: error });
  switch (name) {
    case 'AbortError':
      return make('aborted', `The Prompt API call was aborted while ${phase}.`);
    case 'NotAllowedError':
      return make(
        'local-engine-failed',
        `The Prompt API refused (${message}). Downloading the built-in model needs a user gesture: call load() `
          + `from a click handler on the page, and check that no permissions policy blocks "language-model".`,
      );
    case 'NotSupportedError':
      return make('local-engine-failed', `The built-in model does not support this request (${message}); check the languages option.`);
    case 'QuotaExceededError':
      return make('local-engine-failed', `The prompt is too long for the built-in model's context (${message}); shorten it or send it to the cloud model.`);
    case 'InvalidStateError':
      return make('local-engine-failed', `The Prompt API session is no longer usable (${message}); call load() again.`);
    default:
      return make('local-engine-failed', `The Prompt API failed while ${phase}: ${message}`);
  }
}

/** Text before the first stop sequence (Prompt API has no `stop`, so it is applied here). */
function applyStop(text: string, stop: ChatCompletionRequest['stop']): string {
  if (stop === undefined) return text;
  let end = text.length;
  for (const s of typeof stop === 'string' ? [stop] : stop) {
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

async function* iterateStream(stream: ReadableStream<string> | AsyncIterable<string>): AsyncGenerator<string> {
  if (Symbol.asyncIterator in stream) {
    yield* stream as AsyncIterable<string>;
    return;
  }
  const reader = (stream as ReadableStream<string>).getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    // Leaving early (stop sequence, abort, consumer break) must stop the generation too.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

let sequence = 0;
const nextId = (): string => `chatcmpl-prompt-api-${Date.now().toString(36)}-${(sequence++).toString(36)}`;

export class PromptApiEngine implements LocalEngine {
  readonly kind = 'prompt-api' as const;
  readonly id: string;
  readonly modelId: string;

  readonly #injected: LanguageModelStatic | undefined;
  readonly #expected: LanguageModelAvailabilityOptions;
  /** Held while loaded: keeps the model resident and proves the download finished. */
  #base: LanguageModelSession | undefined;
  readonly #lifecycle = new EngineLifecycle({ logprobs: false, multipleChoices: false, streaming: true });

  constructor(options: PromptApiEngineOptions = {}) {
    this.#injected = options.languageModel;
    this.modelId = options.modelId ?? 'built-in';
    this.id = `prompt-api:${this.modelId}`;
    const languages = [...(options.languages ?? ['en'])];
    this.#expected = {
      expectedInputs: [{ type: 'text', languages }],
      expectedOutputs: [{ type: 'text', languages }],
    };
  }

  status(): LocalEngineStatus {
    return this.#lifecycle.status(this.modelId);
  }

  load(options: LoadOptions = {}): Promise<void> {
    const { signal } = options;
    return this.#lifecycle.load(
      options,
      'Loading the built-in model',
      (run) => this.#load(run, signal),
      (error) =>
        signal?.aborted
          ? new EdgeRouteError('aborted', 'Loading the built-in model was aborted.', { cause: signal.reason })
          : mapPromptApiError(error, 'loading'),
    );
  }

  async #load({ report, epoch }: LoadRun, signal: AbortSignal | undefined): Promise<void> {
    const lm = this.#api();
    if (signal?.aborted) throw new EdgeRouteError('aborted', 'Loading the built-in model was aborted.', { cause: signal.reason });
    const availability = await lm.availability(this.#expected);
    if (availability === 'unavailable') {
      throw new EdgeRouteError(
        'local-engine-failed',
        `The Prompt API reports its model unavailable on this device or for languages ${JSON.stringify(this.#expected.expectedInputs?.[0]?.languages)}. `
          + `See chrome://on-device-internals for the reason (disk space, GPU, or a disabled flag); use the web-llm engine or the cloud model instead.`,
      );
    }
    const monitor = (m: LanguageModelMonitor): void =>
      m.addEventListener('downloadprogress', (e) => {
        // Chrome reports loaded as a fraction (total 1); older builds reported bytes.
        const total = e.total !== undefined && e.total > 1 ? e.total : undefined;
        const progress = Math.min(1, Math.max(0, total ? e.loaded / total : e.loaded));
        const p: LoadProgress = total
          ? { progress, text: `Downloading the built-in model: ${Math.floor(progress * 100)}%`, loadedBytes: e.loaded, totalBytes: total }
          : { progress, text: `Downloading the built-in model: ${Math.floor(progress * 100)}%` };
        report(p);
      });
    const base = await lm.create({ ...this.#expected, monitor, ...(signal ? { signal } : {}) });
    // unload() while the session was being created: it is not ours to keep.
    if (!this.#lifecycle.isCurrent(epoch)) {
      base.destroy();
      return;
    }
    this.#base = base;
  }

  async chat(request: ChatCompletionRequest, options: ChatOptions = {}): Promise<ChatCompletion> {
    this.#check(request, false);
    const { signal } = options;
    const session = await this.#session(request, signal);
    try {
      const last = request.messages[request.messages.length - 1] as ChatMessage;
      const text = applyStop(await session.prompt(last.content, signal ? { signal } : {}), request.stop);
      return {
        id: nextId(),
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: this.modelId,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null }],
      };
    } catch (error) {
      throw this.#generationError(error, signal);
    } finally {
      session.destroy();
    }
  }

  async *chatStream(request: ChatCompletionRequest, options: ChatOptions = {}): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    this.#check(request, true);
    const { signal } = options;
    const session = await this.#session(request, signal);
    const id = nextId();
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: 'stop' | null): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: this.modelId,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    });
    try {
      const last = request.messages[request.messages.length - 1] as ChatMessage;
      const stops = request.stop === undefined ? [] : typeof request.stop === 'string' ? [request.stop] : [...request.stop];
      let text = '';
      let sent = 0;
      let first = true;
      for await (const delta of iterateStream(session.promptStreaming(last.content, signal ? { signal } : {}))) {
        if (signal?.aborted) throw new EdgeRouteError('aborted', 'Streaming from the built-in model was aborted.', { cause: signal.reason });
        text += delta;
        const cut = applyStop(text, stops);
        // Hold back text that could be the start of a stop sequence until it is decided.
        const hold = stops.reduce((h, s) => Math.max(h, overlapAtEnd(cut, s)), 0);
        const safe = cut.length < text.length ? cut.length : cut.length - hold;
        if (safe > sent) {
          yield chunk(first ? { role: 'assistant', content: cut.slice(sent, safe) } : { content: cut.slice(sent, safe) }, null);
          first = false;
          sent = safe;
        }
        if (cut.length < text.length) break;
      }
      const rest = applyStop(text, stops).slice(sent);
      if (rest) yield chunk(first ? { role: 'assistant', content: rest } : { content: rest }, null);
      yield chunk({}, 'stop');
    } catch (error) {
      throw this.#generationError(error, signal);
    } finally {
      session.destroy();
    }
  }

  async unload(): Promise<void> {
    this.#lifecycle.unload();
    this.#base?.destroy();
    this.#base = undefined;
  }

  #api(): LanguageModelStatic {
    const lm = this.#injected ?? languageModelOf(globalThis);
    if (!lm) {
      throw new EdgeRouteError(
        'local-engine-failed',
        "Chrome's built-in Prompt API (the LanguageModel global) is missing in this context. It needs a recent "
          + 'desktop Chrome with the built-in model enabled; use the web-llm engine or the cloud model instead.',
      );
    }
    return lm;
  }

  #check(request: ChatCompletionRequest, stream: boolean): void {
    validateChatRequest(request);
    if ((request.n ?? 1) > 1) {
      throw new EdgeRouteError('invalid-input', `The Prompt API gives one answer per call (n = ${request.n}); use sampleAnswers() for several.`);
    }
    if (!stream && request.stream === true) {
      throw new EdgeRouteError('invalid-input', 'chat() returns a whole completion; use chatStream() for stream: true.');
    }
    this.#lifecycle.requireReady(this.id);
  }

  /** A fresh session holding the conversation before the last user message. */
  async #session(request: ChatCompletionRequest, signal: AbortSignal | undefined): Promise<LanguageModelSession> {
    const lm = this.#api();
    const history = request.messages.slice(0, -1).map(({ role, content }) => ({ role, content }));
    let sampling: { temperature: number; topK: number } | undefined;
    if (request.temperature !== undefined && lm.params) {
      // Chrome takes temperature and topK together or not at all; topK 1 makes 0 greedy.
      const params = await lm.params().catch(() => null);
      if (params) {
        sampling = {
          temperature: Math.min(request.temperature, params.maxTemperature),
          topK: request.temperature === 0 ? 1 : params.defaultTopK,
        };
      }
    }
    try {
      return await lm.create({
        ...this.#expected,
        ...(history.length ? { initialPrompts: history } : {}),
        ...(sampling ?? {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw this.#generationError(error, signal);
    }
  }

  #generationError(error: unknown, signal: AbortSignal | undefined): EdgeRouteError {
    if (signal?.aborted) {
      return error instanceof EdgeRouteError && error.code === 'aborted'
        ? error
        : new EdgeRouteError('aborted', 'The built-in model generation was aborted.', { cause: signal.reason });
    }
    return mapPromptApiError(error, 'generating');
  }
}

/** Length of the longest proper prefix of `stop` that `text` ends with. */
function overlapAtEnd(text: string, stop: string): number {
  for (let k = Math.min(stop.length - 1, text.length); k > 0; k--) {
    if (text.endsWith(stop.slice(0, k))) return k;
  }
  return 0;
}
