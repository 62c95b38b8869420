/**
 * Client for cloud models behind any OpenAI-compatible Chat Completions API (`POST
 * {baseURL}/chat/completions`), with what a page needs around it: per-attempt timeouts, retries
 * with backoff, SSE streaming, a cost per call, and care with API keys.
 *
 * Only web-platform globals are used (fetch, AbortController, ReadableStream, TextDecoder), so it
 * runs in pages, workers and Node ≥ 20. It never touches storage.
 *
 * Retry / timeout semantics (see also README "Cloud models"):
 * - An attempt is retried on HTTP 408, 429 and 5xx, on network errors (fetch's TypeError, reset
 *   connections), on a timeout, on malformed JSON in a 200 body and on a cut SSE stream; up to
 *   `maxRetries` retries (default 3). Any other 4xx fails at once with the provider's message.
 *   A well-formed 200 body of the wrong shape is not retried (it would come back the same).
 * - Backoff is "full jitter": random() · min(8 s, 0.5 s · 2^(retry−1)). A Retry-After (or
 *   retry-after-ms) header replaces it; one longer than 30 s fails at once with
 *   'cloud-rate-limited' and `retryAfterMs` on the error, since waiting less would only earn
 *   another 429.
 * - timeoutMs (default 60 s) bounds each attempt: for chat() the whole request, headers and
 *   body; for stream() the wait for the response and then every gap between two reads of the
 *   body (an idle timeout, paused while the consumer handles a chunk), so long answers stream
 *   as long as they keep coming.
 * - The caller's AbortSignal ends everything at once with EdgeRouteError('aborted'), never
 *   retried, also while waiting between attempts.
 * - A stream is retried only while no chunk has been handed to the consumer.
 */
import { EdgeRouteError, type EdgeRouteErrorCode } from '../../common/errors';
import { raceAbort } from '../../common/abort';
import { SseParser } from '../../common/sse';
import {
  validateChatRequest,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionChunk,
  type ChatCompletionChunkChoice,
  type ChatCompletionChunkToolCall,
  type ChatCompletionDelta,
  type ChatCompletionMessageToolCall,
  type ChatCompletionRequest,
  type ChoiceLogprobs,
  type CompletionUsage,
  type FinishReason,
  type TokenLogprob,
} from '../../common/openai';
import {
  DEFAULT_CLOUD_MAX_RETRIES,
  DEFAULT_CLOUD_TIMEOUT_MS,
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  RETRY_AFTER_CAP_MS,
  REDACTED,
  SECRET_HEADER,
  describe,
  invalidConfig,
  isRecord,
  publicCloudModelConfig,
  validateCloudModelConfig,
  type CloudModelConfig,
  type PublicCloudModelConfig,
} from './config';
import { CloudError, type ProviderErrorFields } from './errors';
import { costOf, type CloudChatResult, type CloudCost } from './cost';

// ---------------------------------------------------------------------------------------------
// Parsing the provider's answers (shallow checks: enough that downstream code can trust the types)

const FINISH_REASONS: readonly FinishReason[] = ['stop', 'length', 'tool_calls', 'content_filter', 'abort'];

class ProtocolError extends Error {
  constructor(
    message: string,
    /** Malformed JSON (usually a truncated body) is worth retrying; a wrong shape is not. */
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function finishReason(value: unknown, where: string): FinishReason | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new ProtocolError(`${where}.finish_reason must be a string or null, got ${describe(value)}`, false);
  if ((FINISH_REASONS as readonly string[]).includes(value)) return value as FinishReason;
  // Legacy / provider-specific reasons ('function_call', TGI's 'eos_token'): the answer ended normally.
  return value === 'function_call' ? 'tool_calls' : 'stop';
}

function usageOf(value: unknown): CompletionUsage | undefined {
  if (!isRecord(value)) return undefined;
  const p = value['prompt_tokens'];
  const c = value['completion_tokens'];
  if (typeof p !== 'number' || typeof c !== 'number' || !(p >= 0) || !(c >= 0) || !Number.isFinite(p + c)) return undefined;
  const t = value['total_tokens'];
  return { prompt_tokens: p, completion_tokens: c, total_tokens: typeof t === 'number' && Number.isFinite(t) ? t : p + c };
}

function logprobsOf(value: unknown): ChoiceLogprobs | null {
  if (!isRecord(value)) return null;
  const content = value['content'];
  // Entries are passed through as the provider sent them (OpenAI's TokenLogprob shape).
  return { content: Array.isArray(content) ? (content as TokenLogprob[]) : null };
}

/** A message's tool calls, checked and copied (an absent or empty list: undefined). */
function toolCallsOf(value: unknown, where: string): ChatCompletionMessageToolCall[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ProtocolError(`${where}.message.tool_calls must be an array, got ${describe(value)}`, false);
  if (value.length === 0) return undefined;
  return value.map((c: unknown, j) => {
    const fn = isRecord(c) ? c['function'] : undefined;
    if (!isRecord(c) || typeof c['id'] !== 'string' || !isRecord(fn) || typeof fn['name'] !== 'string') {
      throw new ProtocolError(`${where}.message.tool_calls[${j}] must be {id, type, function: {name, arguments}}`, false);
    }
    return { id: c['id'], type: 'function' as const, function: { name: fn['name'], arguments: typeof fn['arguments'] === 'string' ? fn['arguments'] : '' } };
  });
}

/** A chunk's tool-call pieces: `index` says which call; id, name and arguments arrive in parts. */
function toolCallDeltasOf(value: unknown, where: string): ChatCompletionChunkToolCall[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ProtocolError(`${where}.delta.tool_calls must be an array, got ${describe(value)}`, false);
  return value.map((c: unknown, j): ChatCompletionChunkToolCall => {
    if (!isRecord(c)) throw new ProtocolError(`${where}.delta.tool_calls[${j}] is not an object`, false);
    const fn = isRecord(c['function']) ? c['function'] : undefined;
    return {
      index: typeof c['index'] === 'number' ? c['index'] : j,
      ...(typeof c['id'] === 'string' ? { id: c['id'] } : {}),
      ...(c['type'] === 'function' ? { type: 'function' as const } : {}),
      ...(fn
        ? {
            function: {
              ...(typeof fn['name'] === 'string' ? { name: fn['name'] } : {}),
              ...(typeof fn['arguments'] === 'string' ? { arguments: fn['arguments'] } : {}),
            },
          }
        : {}),
    };
  });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const head = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    throw new ProtocolError(`${what} is not valid JSON (${text.length} chars, starting ${JSON.stringify(head)})`, true);
  }
}

/** An OpenAI-style error object in a body: `{ error: { message } }` or `{ message }`. */
function providerMessage(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body['error'];
  if (typeof error === 'string') return error;
  if (isRecord(error) && typeof error['message'] === 'string') return error['message'];
  return typeof body['message'] === 'string' ? body['message'] : undefined;
}

/** `{ error: { type, param, code } }` of an OpenAI-style error body. */
function providerFields(body: unknown): ProviderErrorFields | undefined {
  const error = isRecord(body) ? body['error'] : undefined;
  if (!isRecord(error)) return undefined;
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const type = text(error['type']);
  const param = text(error['param']);
  const code = text(error['code']) ?? (typeof error['code'] === 'number' ? String(error['code']) : undefined);
  return { ...(type ? { type } : {}), ...(param ? { param } : {}), ...(code ? { code } : {}) };
}

function toCompletion(body: unknown, fallbackCreated: number): ChatCompletion {
  if (!isRecord(body)) throw new ProtocolError(`expected a JSON object, got ${describe(body)}`, false);
  const choices = body['choices'];
  if (!Array.isArray(choices) || choices.length === 0) {
    const message = providerMessage(body);
    throw new ProtocolError(message ? `no choices; the provider said: ${message}` : `\`choices\` must be a non-empty array, got ${describe(choices)}`, false);
  }
  const mapped = choices.map((ch: unknown, i): ChatCompletionChoice => {
    const where = `choices[${i}]`;
    if (!isRecord(ch) || !isRecord(ch['message'])) throw new ProtocolError(`${where}.message is missing`, false);
    const content = ch['message']['content'];
    if (content !== null && content !== undefined && typeof content !== 'string') {
      throw new ProtocolError(`${where}.message.content must be a string or null, got ${describe(content)}`, false);
    }
    const toolCalls = toolCallsOf(ch['message']['tool_calls'], where);
    const refusal = ch['message']['refusal'];
    return {
      index: typeof ch['index'] === 'number' ? ch['index'] : i,
      message: {
        role: 'assistant',
        content: content ?? null,
        ...(typeof refusal === 'string' ? { refusal } : {}),
        ...(toolCalls ? { tool_calls: toolCalls } : {}),
      },
      finish_reason: finishReason(ch['finish_reason'], where) ?? 'stop',
      logprobs: logprobsOf(ch['logprobs']),
    };
  });
  return { ...envelope(body, fallbackCreated), object: 'chat.completion', choices: mapped };
}

function toChunk(body: unknown, fallbackCreated: number): ChatCompletionChunk {
  if (!isRecord(body)) throw new ProtocolError(`an SSE event is not a JSON object: ${describe(body)}`, false);
  const choices = body['choices'] ?? [];
  if (!Array.isArray(choices)) throw new ProtocolError(`an SSE chunk's \`choices\` must be an array, got ${describe(choices)}`, false);
  const mapped = choices.map((ch: unknown, i): ChatCompletionChunkChoice => {
    const where = `chunk choices[${i}]`;
    if (!isRecord(ch)) throw new ProtocolError(`${where} is not an object`, false);
    const d = isRecord(ch['delta']) ? ch['delta'] : {};
    const content = d['content'];
    if (content !== null && content !== undefined && typeof content !== 'string') {
      throw new ProtocolError(`${where}.delta.content must be a string or null, got ${describe(content)}`, false);
    }
    const toolCalls = toolCallDeltasOf(d['tool_calls'], where);
    const refusal = d['refusal'];
    const delta: ChatCompletionDelta = {
      ...(d['role'] === 'assistant' ? { role: 'assistant' as const } : {}),
      ...(content !== undefined ? { content } : {}),
      ...(typeof refusal === 'string' ? { refusal } : {}),
      ...(toolCalls ? { tool_calls: toolCalls } : {}),
    };
    return {
      index: typeof ch['index'] === 'number' ? ch['index'] : i,
      delta,
      finish_reason: finishReason(ch['finish_reason'], where),
      ...('logprobs' in ch ? { logprobs: logprobsOf(ch['logprobs']) } : {}),
    };
  });
  return { ...envelope(body, fallbackCreated), object: 'chat.completion.chunk', choices: mapped };
}

/** The fields a completion and a chunk share (id, created, model, usage), with safe defaults. */
function envelope(body: Record<string, unknown>, fallbackCreated: number): { id: string; created: number; model: string; usage?: CompletionUsage } {
  const usage = usageOf(body['usage']);
  return {
    id: typeof body['id'] === 'string' ? body['id'] : '',
    created: typeof body['created'] === 'number' ? body['created'] : fallbackCreated,
    model: typeof body['model'] === 'string' ? body['model'] : '',
    ...(usage ? { usage } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Retry-After / retry-after-ms in ms (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(headers: Headers, nowMs: number): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DOMException('The sleep was aborted.', 'AbortError'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new DOMException('The sleep was aborted.', 'AbortError'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settles like `promise`, or rejects with the signal's reason (some fetch bodies ignore it). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return raceAbort(promise, signal, (s) => s.reason);
}

const NETWORK_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|UND_ERR_\w+)$/;

/** fetch reports network failures as TypeError; Node's sockets also as errors with these codes. */
function isNetworkError(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return error.name === 'NetworkError' || (typeof code === 'string' && NETWORK_CODES.test(code));
}

function errorText(error: unknown): string {
  if (error instanceof Error || error instanceof DOMException) {
    const cause = (error as { cause?: unknown }).cause;
    // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED …) is in its cause.
    const inner = cause instanceof Error && cause.message !== error.message ? `: ${cause.message}` : '';
    return `${error.message}${inner}`;
  }
  return String(error);
}

function inBrowser(): boolean {
  const g = globalThis as { window?: unknown; document?: unknown; WorkerGlobalScope?: unknown };
  return g.window !== undefined || g.document !== undefined || g.WorkerGlobalScope !== undefined;
}

/** One warning per page (module instance), however many clients are made. */
let keyWarningShown = false;

export const BROWSER_KEY_WARNING =
  'edgeroute: a cloud API key was given to CloudClient in the browser. Anyone using this page can read it '
  + '(devtools, network panel) and spend on your account. Put the provider behind a same-origin proxy that '
  + 'adds the key server-side and set baseURL to the proxy path; see the README section "Keys: use a proxy".';

// ---------------------------------------------------------------------------------------------
// The client

export interface CloudClientOptions {
  readonly models: readonly CloudModelConfig[];
  /** Default: the global fetch, looked up at call time. */
  readonly fetch?: typeof fetch;
  /** In [0, 1), for backoff jitter; default Math.random. */
  readonly random?: () => number;
  /**
   * The wait between attempts; should settle early when `signal` (the caller's) aborts. Default
   * setTimeout. Per-attempt timeouts use setTimeout directly (vitest's fake timers drive both).
   */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Epoch ms; for Retry-After dates and a missing `created`. Default Date.now. */
  readonly now?: () => number;
  /** Gets the one-time browser key warning and a line per retry; never a key. Default console. */
  readonly logger?: Pick<Console, 'warn'>;
  /** Called before each retry's wait (telemetry, tests). */
  readonly onRetry?: (info: CloudRetryInfo) => void;
}

export interface CloudRetryInfo {
  readonly modelId: string;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: CloudError;
}

export interface CloudCallOptions {
  /** Aborting rejects with EdgeRouteError('aborted') (a CloudError), without retrying. */
  readonly signal?: AbortSignal;
}

export interface CloudStreamOptions extends CloudCallOptions {
  /**
   * Called once when the stream ends normally, with the cost from the provider's usage chunk
   * (stream_options.include_usage is requested) or else estimated from the streamed text.
   */
  readonly onCost?: (cost: CloudCost, attempts: number) => void;
}

interface ModelEntry {
  readonly config: CloudModelConfig;
  readonly url: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Texts to scrub from anything shown: the key and secret-looking header values. */
  readonly secrets: readonly string[];
}

/** One attempt's abort scope: the caller's signal and the (restartable) timeout, combined. */
interface AttemptScope {
  readonly signal: AbortSignal;
  timedOut(): boolean;
  /** (Re)starts the timeout from now. */
  arm(): void;
  /** Stops the timeout (while the consumer holds a chunk). */
  disarm(): void;
  /** Ends the attempt: stops the timer, aborts the request if still open, unhooks the caller. */
  close(): void;
}

export class CloudClient {
  readonly #models = new Map<string, ModelEntry>();
  /** Keys live only here, a private field: not enumerable, not in toJSON or util.inspect. */
  readonly #keys = new Map<string, string>();
  readonly #fetch: typeof fetch;
  readonly #random: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #now: () => number;
  readonly #logger: Pick<Console, 'warn'>;
  readonly #onRetry: ((info: CloudRetryInfo) => void) | undefined;

  constructor(options: CloudClientOptions) {
    if (!isRecord(options) || !Array.isArray(options.models)) {
      throw new EdgeRouteError('invalid-config', 'CloudClient needs { models: CloudModelConfig[] }.');
    }
    for (const raw of options.models) {
      validateCloudModelConfig(raw);
      if (this.#models.has(raw.id)) throw invalidConfig(`two models have the id ${JSON.stringify(raw.id)}; ids must be unique.`);
      const { apiKey, ...rest } = raw;
      const config: CloudModelConfig = Object.freeze({ ...rest, ...(rest.headers ? { headers: Object.freeze({ ...rest.headers }) } : {}) });
      const secretHeaders = Object.entries(rest.headers ?? {})
        .filter(([name, value]) => SECRET_HEADER.test(name) && value.length >= 4)
        .map(([, value]) => value);
      this.#models.set(raw.id, {
        config,
        url: `${raw.baseURL.replace(/\/+$/, '')}/chat/completions`,
        timeoutMs: raw.timeoutMs ?? DEFAULT_CLOUD_TIMEOUT_MS,
        maxRetries: raw.maxRetries ?? DEFAULT_CLOUD_MAX_RETRIES,
        secrets: apiKey !== undefined ? [apiKey, ...secretHeaders] : secretHeaders,
      });
      if (apiKey !== undefined) this.#keys.set(raw.id, apiKey);
    }
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? console;
    this.#onRetry = options.onRetry;
    if (this.#keys.size > 0 && !keyWarningShown && inBrowser()) {
      keyWarningShown = true;
      this.#logger.warn(BROWSER_KEY_WARNING);
    }
  }

  /** The configured models, without keys. */
  get models(): readonly PublicCloudModelConfig[] {
    return [...this.#models.values()].map((e) => publicCloudModelConfig({ ...e.config, ...(this.#keys.has(e.config.id) ? { apiKey: REDACTED } : {}) }));
  }

  model(modelId: string): PublicCloudModelConfig {
    const entry = this.#entry(modelId);
    return publicCloudModelConfig({ ...entry.config, ...(this.#keys.has(modelId) ? { apiKey: REDACTED } : {}) });
  }

  toJSON(): { models: readonly PublicCloudModelConfig[] } {
    return { models: this.models };
  }

  /** Node's util.inspect / console.log show the same as toJSON. */
  [Symbol.for('nodejs.util.inspect.custom')](): unknown {
    return { CloudClient: this.toJSON() };
  }

  /** One whole completion; retried per the module comment. */
  async chat(modelId: string, request: ChatCompletionRequest, options: CloudCallOptions = {}): Promise<CloudChatResult> {
    const entry = this.#entry(modelId);
    const body = this.#body(entry, request, false);
    const { signal } = options;
    for (let attempt = 1; ; attempt++) {
      const scope = this.#scope(entry, signal);
      let failure: CloudError;
      try {
        scope.arm();
        const response = await this.#send(entry, body, false, scope, attempt);
        let text: string;
        try {
          text = await abortable(response.text(), scope.signal);
        } catch (error) {
          throw this.#transportFailure(entry, error, scope, attempt, 'reading the answer');
        }
        const completion = this.#parse(entry, attempt, () => toCompletion(parseJson(text, 'The 200 answer'), Math.floor(this.#now() / 1000)));
        const outputChars = completion.choices.reduce(
          (n, c) => n + (c.message.content?.length ?? 0) + (c.message.tool_calls ?? []).reduce((a, t) => a + t.function.arguments.length, 0),
          0,
        );
        return { ...completion, edgerouteCost: costOf(entry.config, completion.usage, request, outputChars), attempts: attempt };
      } catch (error) {
        failure = this.#asFailure(entry, error, scope, signal, attempt);
      } finally {
        scope.close();
      }
      // Outside the try: the attempt's timer and connection are closed while we wait.
      await this.#afterFailure(entry, failure, attempt, signal);
    }
  }

  /**
   * Streams one completion as OpenAI chunks (the final usage-only chunk included). The request
   * is checked at once; HTTP and stream errors are thrown from the iteration.
   */
  stream(modelId: string, request: ChatCompletionRequest, options: CloudStreamOptions = {}): AsyncIterable<ChatCompletionChunk> {
    const entry = this.#entry(modelId);
    const body = this.#body(entry, request, true);
    return this.#stream(entry, body, request, options);
  }

  async *#stream(
    entry: ModelEntry,
    body: string,
    request: ChatCompletionRequest,
    options: CloudStreamOptions,
  ): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    const { signal, onCost } = options;
    let delivered = false;
    for (let attempt = 1; ; attempt++) {
      const scope = this.#scope(entry, signal);
      let failure: CloudError;
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        scope.arm();
        const response = await this.#send(entry, body, true, scope, attempt);
        if (!response.body) throw this.#protocolFailure(entry, attempt, new ProtocolError('the streaming answer has no body', true));
        const contentType = response.headers.get('content-type') ?? '';
        reader = response.body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        let finished = false;
        let done = false;
        let usage: CompletionUsage | undefined;
        let outputChars = 0;
        let events = 0;
        while (!done) {
          scope.arm();
          let read: ReadableStreamReadResult<Uint8Array>;
          try {
            read = await abortable(reader.read(), scope.signal);
          } catch (error) {
            throw this.#transportFailure(entry, error, scope, attempt, 'reading the stream');
          }
          scope.disarm();
          const datas = read.done ? [...parser.push(decoder.decode()), ...parser.end()] : parser.push(decoder.decode(read.value, { stream: true }));
          for (const data of datas) {
            if (data.trim() === '[DONE]') {
              done = true;
              break;
            }
            if (data.trim() === '') continue; // an empty `data:` line, used by some proxies as a keep-alive
            events++;
            const json = this.#parse(entry, attempt, () => parseJson(data, 'An SSE event'));
            const problem = isRecord(json) && json['error'] !== undefined && json['choices'] === undefined ? providerMessage(json) : undefined;
            if (problem !== undefined) {
              throw this.#fail(entry, 'cloud-http', `Cloud model ${entry.config.id} reported an error in its stream: ${problem}`, {
                attempt,
                transient: false,
              });
            }
            const chunk = this.#parse(entry, attempt, () => toChunk(json, Math.floor(this.#now() / 1000)));
            for (const ch of chunk.choices) {
              outputChars += (ch.delta.content?.length ?? 0) + (ch.delta.tool_calls ?? []).reduce((a, t) => a + (t.function?.arguments?.length ?? 0), 0);
              if (ch.finish_reason !== null) finished = true;
            }
            if (chunk.usage) usage = chunk.usage;
            delivered = true;
            yield chunk;
          }
          if (read.done && !done) {
            if (finished) break; // Some servers end without [DONE]; every choice said why it stopped.
            const hint =
              events === 0 && !contentType.includes('text/event-stream')
                ? ` (content-type ${JSON.stringify(contentType)}, not text/event-stream; is baseURL an OpenAI-compatible API?)`
                : '';
            throw this.#protocolFailure(
              entry,
              attempt,
              new ProtocolError(`the stream ended without [DONE] and without a finish_reason after ${events} events: it was cut${hint}`, true),
            );
          }
        }
        onCost?.(costOf(entry.config, usage, request, outputChars), attempt);
        return;
      } catch (error) {
        failure = this.#asFailure(entry, error, scope, signal, attempt);
      } finally {
        scope.close();
        // Frees the connection when the consumer stops early or the stream failed.
        reader?.cancel().catch(() => undefined);
      }
      // Chunks already handed out cannot be taken back, so only a silent failure is retried.
      if (delivered) throw this.#final(failure, attempt);
      await this.#afterFailure(entry, failure, attempt, signal);
    }
  }

  // -------------------------------------------------------------------------------------------

  #entry(modelId: string): ModelEntry {
    const entry = this.#models.get(modelId);
    if (!entry) {
      const known = [...this.#models.keys()].map((k) => JSON.stringify(k)).join(', ') || 'none';
      throw new EdgeRouteError('invalid-input', `No cloud model with id ${JSON.stringify(modelId)}; configured: ${known}.`);
    }
    return entry;
  }

  #body(entry: ModelEntry, request: ChatCompletionRequest, stream: boolean): string {
    validateChatRequest(request);
    if (!stream && request.stream === true) {
      throw new EdgeRouteError('invalid-input', 'chat() returns a whole completion; use stream() for stream: true.');
    }
    // Unknown fields pass through, so provider-specific options (response_format …) still work.
    return JSON.stringify({
      ...request,
      model: entry.config.model,
      stream,
      // Usage is always asked for (it prices the call); the router passes it on only when the caller asked.
      ...(stream ? { stream_options: { ...request.stream_options, include_usage: true } } : { stream_options: undefined }),
    });
  }

  #scope(entry: ModelEntry, callerSignal: AbortSignal | undefined): AttemptScope {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) controller.abort(callerSignal.reason);
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const disarm = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    return {
      signal: controller.signal,
      timedOut: () => timedOut,
      arm: () => {
        disarm();
        // A plain timer, not the injected sleep: an instant test sleep must not time out every attempt.
        timer = setTimeout(() => {
          timer = undefined;
          if (controller.signal.aborted) return;
          timedOut = true;
          controller.abort(new DOMException(`No answer within ${entry.timeoutMs} ms.`, 'TimeoutError'));
        }, entry.timeoutMs);
      },
      disarm,
      close: () => {
        disarm();
        callerSignal?.removeEventListener('abort', onCallerAbort);
        if (!controller.signal.aborted) controller.abort(new DOMException('The attempt is over.', 'AbortError'));
      },
    };
  }

  /** Sends the request; returns a 2xx response or throws a CloudError. */
  async #send(entry: ModelEntry, body: string, stream: boolean, scope: AttemptScope, attempt: number): Promise<Response> {
    const { config } = entry;
    const key = this.#keys.get(config.id);
    if (entry.url.startsWith('/') && (globalThis as { location?: unknown }).location === undefined) {
      throw new EdgeRouteError(
        'invalid-config',
        `Cloud model ${config.id} has the same-origin baseURL ${JSON.stringify(config.baseURL)}, but there is no page origin here (Node?); use an absolute URL.`,
      );
    }
    const headers = new Headers(config.headers);
    headers.set('Content-Type', 'application/json');
    headers.set('Accept', stream ? 'text/event-stream' : 'application/json');
    if (key !== undefined) headers.set('Authorization', `Bearer ${key}`);
    let response: Response;
    try {
      response = await abortable(
        this.#fetch(entry.url, {
          method: 'POST',
          headers,
          body,
          signal: scope.signal,
          // With a key, redirects are not followed: the key goes to baseURL and nowhere else.
          ...(key !== undefined ? { redirect: 'manual' as const } : {}),
        }),
        scope.signal,
      );
    } catch (error) {
      throw this.#transportFailure(entry, error, scope, attempt, 'sending the request');
    }
    if (response.ok) return response;
    const id = config.id;
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      response.body?.cancel().catch(() => undefined);
      throw this.#fail(
        entry,
        'cloud-http',
        `Cloud model ${id}: ${entry.url} answered with a redirect, which edgeroute does not follow when an API key is set (the key must not leave baseURL). Set baseURL to the final URL.`,
        { attempt, transient: false, status: response.status },
      );
    }
    let detail = '';
    let provider: ProviderErrorFields | undefined;
    try {
      const text = await abortable(response.text(), scope.signal);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = undefined;
      }
      provider = providerFields(parsed);
      const message = providerMessage(parsed) ?? text.trim();
      detail = message === '' ? '' : `: ${message.length > 500 ? `${message.slice(0, 500)}…` : message}`;
    } catch {
      // The status says enough; a body that cannot be read adds nothing.
    }
    const status = response.status;
    const head = `Cloud model ${id} (${config.model} at ${entry.url}) answered HTTP ${status}${detail}`;
    if (status === 429 || status === 408 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers, this.#now());
      const code = status === 429 ? 'cloud-rate-limited' : 'cloud-http';
      throw this.#fail(entry, code, `${head}.`, {
        attempt,
        transient: true,
        status,
        ...(provider ? { provider } : {}),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    const hint =
      status === 401 || status === 403
        ? " Check the API key (or the proxy's credentials) and that it may use this model."
        : status === 404
          ? ' Check baseURL (the API root, e.g. https://api.openai.com/v1) and the model name.'
          : ' The provider rejected the request; it is not retried.';
    throw this.#fail(entry, 'cloud-http', `${head}.${hint}`, { attempt, transient: false, status, ...(provider ? { provider } : {}) });
  }

  /** An error thrown by fetch or a body read, classified by what ended the attempt. */
  #transportFailure(entry: ModelEntry, error: unknown, scope: AttemptScope, attempt: number, doing: string): CloudError {
    const id = entry.config.id;
    if (error instanceof CloudError) return error;
    if (scope.timedOut()) {
      return this.#fail(
        entry,
        'cloud-timeout',
        `Cloud model ${id} did not answer within ${entry.timeoutMs} ms (${doing}). Raise timeoutMs in its config, or check the provider's status.`,
        { attempt, transient: true, cause: error },
      );
    }
    if (scope.signal.aborted) {
      // Only the caller (or close()) aborts besides the timer; #asFailure turns it into 'aborted'.
      return this.#fail(entry, 'aborted', `The request to cloud model ${id} was aborted by its AbortSignal.`, { attempt, transient: false, cause: error });
    }
    if (isNetworkError(error)) {
      return this.#fail(
        entry,
        'cloud-network',
        `Could not reach cloud model ${id} at ${entry.url} while ${doing} (${errorText(error)}). Check the network, the URL and, in a page, CORS.`,
        { attempt, transient: true, cause: error },
      );
    }
    return this.#fail(entry, 'cloud-failed', `The request to cloud model ${id} failed while ${doing}: ${errorText(error)}`, {
      attempt,
      transient: false,
      cause: error,
    });
  }

  #parse<T>(entry: ModelEntry, attempt: number, parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      throw error instanceof ProtocolError ? this.#protocolFailure(entry, attempt, error) : error;
    }
  }

  #protocolFailure(entry: ModelEntry, attempt: number, error: ProtocolError): CloudError {
    return this.#fail(
      entry,
      'cloud-protocol',
      `Cloud model ${entry.config.id} sent an answer edgeroute cannot read: ${error.message}. Is baseURL an OpenAI-compatible Chat Completions API?`,
      { attempt, transient: error.transient },
    );
  }

  /** Whatever reached a catch, as a CloudError; the caller's abort always wins. */
  #asFailure(entry: ModelEntry, error: unknown, scope: AttemptScope, caller: AbortSignal | undefined, attempt: number): CloudError {
    if (caller?.aborted) {
      if (error instanceof CloudError && error.code === 'aborted') return error;
      return this.#fail(entry, 'aborted', `The request to cloud model ${entry.config.id} was aborted by its AbortSignal.`, {
        attempt,
        transient: false,
        cause: caller.reason,
      });
    }
    if (error instanceof CloudError) return error;
    if (error instanceof EdgeRouteError) {
      return new CloudError(error.code, this.#redact(entry, error.message), { modelId: entry.config.id, attempts: attempt, transient: false });
    }
    return this.#transportFailure(entry, error, scope, attempt, 'handling the answer');
  }

  /** Waits before the next attempt, or throws `failure` as final. */
  async #afterFailure(entry: ModelEntry, failure: CloudError, attempt: number, caller: AbortSignal | undefined): Promise<void> {
    const retry = failure.transient && failure.code !== 'aborted' && attempt <= entry.maxRetries;
    if (!retry) throw this.#final(failure, attempt);
    let delayMs: number;
    if (failure.retryAfterMs !== undefined) {
      if (failure.retryAfterMs > RETRY_AFTER_CAP_MS) {
        throw this.#final(
          new CloudError(
            failure.code === 'cloud-http' ? 'cloud-http' : 'cloud-rate-limited',
            `${failure.message} It asks to wait ${Math.ceil(failure.retryAfterMs / 1000)} s (Retry-After), longer than edgeroute waits (${RETRY_AFTER_CAP_MS / 1000} s); try again later or use another model.`,
            {
              modelId: failure.modelId,
              attempts: attempt,
              transient: true,
              retryAfterMs: failure.retryAfterMs,
              provider: failure.provider,
              ...(failure.status !== undefined ? { status: failure.status } : {}),
            },
          ),
          attempt,
        );
      }
      delayMs = failure.retryAfterMs;
    } else {
      delayMs = Math.floor(this.#random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)));
    }
    this.#logger.warn(`edgeroute: ${failure.message} Retry ${attempt} of ${entry.maxRetries} in ${delayMs} ms.`);
    this.#onRetry?.({ modelId: entry.config.id, attempt, delayMs, error: failure });
    try {
      if (caller?.aborted) throw caller.reason;
      await this.#sleep(delayMs, caller);
    } catch {
      // The injected sleep may reject on abort or just resolve; the check below covers both.
    }
    if (caller?.aborted) {
      throw this.#fail(entry, 'aborted', `The request to cloud model ${entry.config.id} was aborted by its AbortSignal (while waiting to retry).`, {
        attempt,
        transient: false,
        cause: caller.reason,
      });
    }
  }

  /** The error the caller gets: says how many attempts were made. */
  #final(failure: CloudError, attempt: number): CloudError {
    if (attempt <= 1 || failure.code === 'aborted') return failure;
    return new CloudError(failure.code, `${failure.message} (gave up after ${attempt} attempts)`, {
      modelId: failure.modelId,
      attempts: attempt,
      transient: failure.transient,
      provider: failure.provider,
      ...(failure.status !== undefined ? { status: failure.status } : {}),
      ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
    });
  }

  #fail(
    entry: ModelEntry,
    code: EdgeRouteErrorCode,
    message: string,
    d: { attempt: number; transient: boolean; status?: number; retryAfterMs?: number; provider?: ProviderErrorFields; cause?: unknown },
  ): CloudError {
    return new CloudError(code, this.#redact(entry, message), {
      modelId: entry.config.id,
      attempts: d.attempt,
      transient: d.transient,
      ...(d.status !== undefined ? { status: d.status } : {}),
      ...(d.retryAfterMs !== undefined ? { retryAfterMs: d.retryAfterMs } : {}),
      ...(d.provider !== undefined ? { provider: d.provider } : {}),
      ...(d.cause !== undefined ? { cause: this.#safeCause(entry, d.cause) } : {}),
    });
  }

  /** Scrubs the key (and secret header values) from text a provider or fetch may have echoed. */
  #redact(entry: ModelEntry, text: string): string {
    let out = text;
    for (const secret of entry.secrets) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** A cause whose message or stack contains a secret is replaced by a scrubbed copy. */
  #safeCause(entry: ModelEntry, cause: unknown): unknown {
    if (!(cause instanceof Error) && !(cause instanceof DOMException)) {
      return typeof cause === 'string' ? this.#redact(entry, cause) : cause;
    }
    const text = `${cause.message}\n${cause.stack ?? ''}\n${errorText(cause)}`;
    if (!entry.secrets.some((s) => text.includes(s))) return cause;
    const copy = new Error(this.#redact(entry, cause.message));
    copy.name = cause.name;
    return copy;
  }
}
