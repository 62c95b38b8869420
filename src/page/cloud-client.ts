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
import { EdgeRouteError, type EdgeRouteErrorCode } from '../common/errors';
import { raceAbort } from '../common/abort';
import {
  validateChatRequest,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionChunk,
  type ChatCompletionChunkChoice,
  type ChatCompletionDelta,
  type ChatCompletionRequest,
  type ChoiceLogprobs,
  type CompletionUsage,
  type FinishReason,
  type TokenLogprob,
} from '../common/openai';

// ---------------------------------------------------------------------------------------------
// Configuration

export interface CloudModelConfig {
  /** edgeroute's name for the model (what the router and chat(modelId) use). */
  readonly id: string;
  /** The provider's model name, sent as `model` ('gpt-4o-mini'). */
  readonly model: string;
  /**
   * The API root; `/chat/completions` is appended. A same-origin proxy path ('/api/llm/v1',
   * recommended in pages: see README "Keys: use a proxy") or an absolute http(s) URL
   * ('https://api.openai.com/v1').
   */
  readonly baseURL: string;
  /**
   * Sent as `Authorization: Bearer <key>` to baseURL only. Held in memory, never logged or
   * stored. In a page anyone can read it: prefer a proxy that adds it server-side.
   */
  readonly apiKey?: string;
  /** USD per million prompt tokens. */
  readonly usdPerMTokIn: number;
  /** USD per million completion tokens. */
  readonly usdPerMTokOut: number;
  /** Extra request headers (e.g. 'OpenAI-Organization'). Values that look secret are redacted too. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-attempt timeout in ms (see the module comment); default 60_000. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt; integer in [0, 10], default 3. */
  readonly maxRetries?: number;
}

/** A config as it may be shown: no key, secret-looking header values redacted. */
export type PublicCloudModelConfig = Omit<CloudModelConfig, 'apiKey'> & { readonly hasApiKey: boolean };

export const DEFAULT_CLOUD_TIMEOUT_MS = 60_000;
export const DEFAULT_CLOUD_MAX_RETRIES = 3;
export const MAX_CLOUD_RETRIES = 10;
/** First backoff ceiling; doubled per retry up to BACKOFF_CAP_MS. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 8_000;
/** The longest Retry-After edgeroute waits; a longer one fails at once. */
export const RETRY_AFTER_CAP_MS = 30_000;

const REDACTED = '[redacted]';
/** Header names whose values are treated as secrets in toJSON and error texts. */
const SECRET_HEADER = /auth|key|token|secret|cookie|session|signature/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII only: a key with spaces or control characters would make fetch throw with the value in its message. */
const API_KEY_CHARS = /^[\x21-\x7e]+$/;

function invalidConfig(message: string): EdgeRouteError {
  return new EdgeRouteError('invalid-config', `Invalid cloud model config: ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname.endsWith('.localhost');
}

/**
 * Checks a config (which may come from untrusted code, across the worker boundary) and throws
 * EdgeRouteError('invalid-config') naming the first problem. Messages never contain the key or
 * a header value.
 */
export function validateCloudModelConfig(config: unknown): asserts config is CloudModelConfig {
  if (!isRecord(config)) throw invalidConfig(`expected an object, got ${describe(config)}.`);
  const id = config['id'];
  if (typeof id !== 'string' || id.trim() === '') throw invalidConfig(`\`id\` must be a non-empty string, got ${describe(id)}.`);
  const where = `model ${JSON.stringify(id)}: `;
  const fail = (message: string): EdgeRouteError => invalidConfig(where + message);

  const model = config['model'];
  if (typeof model !== 'string' || model.trim() === '') {
    throw fail(`\`model\` (the provider's model name, e.g. "gpt-4o-mini") must be a non-empty string, got ${describe(model)}.`);
  }

  const apiKey = config['apiKey'];
  if (apiKey !== undefined) {
    // Never echo the value: it is the secret.
    if (typeof apiKey !== 'string') throw fail(`\`apiKey\` must be a string when given, got ${typeof apiKey}.`);
    if (apiKey === '') throw fail('`apiKey` is empty; leave it out when a proxy adds the key.');
    if (!API_KEY_CHARS.test(apiKey)) {
      throw fail('`apiKey` contains spaces, line breaks or non-ASCII characters; paste the bare key (without "Bearer ").');
    }
  }

  const baseURL = config['baseURL'];
  if (typeof baseURL !== 'string' || baseURL.trim() === '') {
    throw fail(`\`baseURL\` must be a non-empty string such as "/api/llm/v1" or "https://api.openai.com/v1", got ${describe(baseURL)}.`);
  }
  if (baseURL !== baseURL.trim()) throw fail(`\`baseURL\` has leading or trailing spaces: ${describe(baseURL)}.`);
  if (/\/chat\/completions\/?$/.test(baseURL)) {
    throw fail(`\`baseURL\` is the API root (e.g. "https://api.openai.com/v1"); edgeroute appends /chat/completions itself. Got ${describe(baseURL)}.`);
  }
  if (baseURL.startsWith('/')) {
    if (baseURL.startsWith('//')) throw fail(`\`baseURL\` ${describe(baseURL)} is protocol-relative; write https://… or a same-origin path "/…".`);
    if (/[?#]/.test(baseURL)) throw fail(`\`baseURL\` must not contain a query or fragment, got ${describe(baseURL)}.`);
  } else {
    let url: URL;
    try {
      url = new URL(baseURL);
    } catch {
      throw fail(`\`baseURL\` ${describe(baseURL)} is neither an absolute http(s) URL nor a same-origin path starting with "/".`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw fail(`\`baseURL\` must use http: or https:, got ${describe(url.protocol)}.`);
    }
    if (url.username !== '' || url.password !== '') {
      throw fail('`baseURL` contains credentials (user:password@); use `apiKey` or a proxy instead.');
    }
    if (url.search !== '' || url.hash !== '') throw fail(`\`baseURL\` must not contain a query or fragment, got ${describe(`${url.origin}${url.pathname}`)}….`);
    if (apiKey !== undefined && url.protocol === 'http:' && !isLoopback(url.hostname)) {
      throw fail(`\`baseURL\` is plain http to ${url.hostname}; the API key would travel unencrypted. Use https.`);
    }
  }

  for (const field of ['usdPerMTokIn', 'usdPerMTokOut'] as const) {
    const v = config[field];
    if (typeof v !== 'number' || Number.isNaN(v)) throw fail(`\`${field}\` must be a number (USD per million tokens), got ${describe(v)}.`);
    if (!Number.isFinite(v)) throw fail(`\`${field}\` must be finite, got ${v}.`);
    if (v < 0) throw fail(`\`${field}\` must be ≥ 0, got ${v}.`);
  }

  const headers = config['headers'];
  if (headers !== undefined) {
    if (!isRecord(headers)) throw fail(`\`headers\` must be an object of strings, got ${describe(headers)}.`);
    for (const [name, value] of Object.entries(headers)) {
      if (!HEADER_NAME.test(name)) throw fail(`header name ${describe(name)} is not a valid HTTP header name.`);
      if (typeof value !== 'string') throw fail(`header ${name} must be a string, got ${typeof value}.`);
      if (/[\r\n\0]/.test(value)) throw fail(`header ${name} contains a line break or NUL.`);
      if (apiKey !== undefined && name.toLowerCase() === 'authorization') {
        throw fail('both `apiKey` and an Authorization header are given; keep one.');
      }
    }
  }

  const timeoutMs = config['timeoutMs'];
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw fail(`\`timeoutMs\` must be a positive finite number of milliseconds, got ${describe(timeoutMs)}.`);
  }
  const maxRetries = config['maxRetries'];
  if (
    maxRetries !== undefined &&
    (typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_CLOUD_RETRIES)
  ) {
    throw fail(`\`maxRetries\` must be an integer in [0, ${MAX_CLOUD_RETRIES}], got ${describe(maxRetries)}.`);
  }
}

/** The config without its key and with secret-looking header values redacted, safe to show or log. */
export function publicCloudModelConfig(config: CloudModelConfig): PublicCloudModelConfig {
  const { apiKey, headers, ...rest } = config;
  return {
    ...rest,
    ...(headers
      ? { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, SECRET_HEADER.test(k) ? REDACTED : v])) }
      : {}),
    hasApiKey: apiKey !== undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface CloudErrorDetails {
  readonly modelId: string;
  /** HTTP status of the last attempt, when there was a response. */
  readonly status?: number;
  /** Attempts made (1 + retries). */
  readonly attempts: number;
  /** The failure is of a transient kind (timeout, network, 429, 5xx): trying later may work. */
  readonly transient: boolean;
  /** What the provider's Retry-After asked for, in ms. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/** Every CloudClient failure; `code` is one of the cloud codes (see isCloudErrorCode) or 'aborted'. */
export class CloudError extends EdgeRouteError {
  readonly modelId: string;
  readonly status: number | undefined;
  readonly attempts: number;
  readonly transient: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: EdgeRouteErrorCode, message: string, details: CloudErrorDetails) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.modelId = details.modelId;
    this.status = details.status;
    this.attempts = details.attempts;
    this.transient = details.transient;
    this.retryAfterMs = details.retryAfterMs;
  }
}

// ---------------------------------------------------------------------------------------------
// Cost

export interface CloudCost {
  readonly usd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** True when the provider sent no usage and the tokens were estimated as characters / 4. */
  readonly estimated: boolean;
}

export type CloudChatResult = ChatCompletion & { readonly edgerouteCost: CloudCost; readonly attempts: number };

/** Rough token count when the provider reports none: about 4 characters per token for English. */
export function tokensForChars(chars: number): number {
  return Math.ceil(chars / 4);
}

export function estimateTokens(text: string): number {
  return tokensForChars(text.length);
}

export function cloudCostUsd(model: Pick<CloudModelConfig, 'usdPerMTokIn' | 'usdPerMTokOut'>, inputTokens: number, outputTokens: number): number {
  return (inputTokens * model.usdPerMTokIn) / 1e6 + (outputTokens * model.usdPerMTokOut) / 1e6;
}

function promptChars(request: ChatCompletionRequest): number {
  return request.messages.reduce((sum, m) => sum + m.content.length, 0);
}

function costOf(model: CloudModelConfig, usage: CompletionUsage | undefined, request: ChatCompletionRequest, outputChars: number): CloudCost {
  const inputTokens = usage ? usage.prompt_tokens : tokensForChars(promptChars(request));
  const outputTokens = usage ? usage.completion_tokens : tokensForChars(outputChars);
  return { usd: cloudCostUsd(model, inputTokens, outputTokens), inputTokens, outputTokens, estimated: !usage };
}

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
    return {
      index: typeof ch['index'] === 'number' ? ch['index'] : i,
      message: { role: 'assistant', content: content ?? null },
      finish_reason: finishReason(ch['finish_reason'], where) ?? 'stop',
      logprobs: logprobsOf(ch['logprobs']),
    };
  });
  const usage = usageOf(body['usage']);
  return {
    id: typeof body['id'] === 'string' ? body['id'] : '',
    object: 'chat.completion',
    created: typeof body['created'] === 'number' ? body['created'] : fallbackCreated,
    model: typeof body['model'] === 'string' ? body['model'] : '',
    choices: mapped,
    ...(usage ? { usage } : {}),
  };
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
    const delta: ChatCompletionDelta = {
      ...(d['role'] === 'assistant' ? { role: 'assistant' as const } : {}),
      ...(content !== undefined ? { content } : {}),
    };
    return {
      index: typeof ch['index'] === 'number' ? ch['index'] : i,
      delta,
      finish_reason: finishReason(ch['finish_reason'], where),
      ...('logprobs' in ch ? { logprobs: logprobsOf(ch['logprobs']) } : {}),
    };
  });
  const usage = usageOf(body['usage']);
  return {
    id: typeof body['id'] === 'string' ? body['id'] : '',
    object: 'chat.completion.chunk',
    created: typeof body['created'] === 'number' ? body['created'] : fallbackCreated,
    model: typeof body['model'] === 'string' ? body['model'] : '',
    choices: mapped,
    ...(usage ? { usage } : {}),
  };
}

/**
 * Incremental Server-Sent Events parser: text in (any split), the `data` of each complete event
 * out. Comments (": keep-alive") and other fields (event, id, retry) are ignored; lines end in
 * \n, \r\n or \r, also when \r and \n arrive in different pieces.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  /** The previous piece ended in \r, so a leading \n belongs to that line break. */
  #pendingCR = false;

  push(text: string): string[] {
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCR = false;
    this.#buffer += text;
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.#line(this.#buffer.slice(start, i), out);
      if (c === '\r') {
        if (i + 1 === this.#buffer.length) this.#pendingCR = true;
        else if (this.#buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  /** At the end of the body: an event without its closing blank line still counts (lenient). */
  end(): string[] {
    const out: string[] = [];
    if (this.#buffer !== '') this.#line(this.#buffer, out);
    this.#buffer = '';
    this.#line('', out);
    return out;
  }

  #line(line: string, out: string[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push(this.#data.join('\n'));
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
  }
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
  'edgeroute: a cloud API key was given to CloudClient in the browser. Anyone using this page can read it ' +
  '(devtools, network panel) and spend on your account. Put the provider behind a same-origin proxy that ' +
  'adds the key server-side and set baseURL to the proxy path; see the README section "Keys: use a proxy".';

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
        const outputChars = completion.choices.reduce((n, c) => n + (c.message.content?.length ?? 0), 0);
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

  async *#stream(entry: ModelEntry, body: string, request: ChatCompletionRequest, options: CloudStreamOptions): AsyncGenerator<ChatCompletionChunk, void, undefined> {
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
              throw this.#fail(entry, 'cloud-http', `Cloud model ${entry.config.id} reported an error in its stream: ${problem}`, { attempt, transient: false });
            }
            const chunk = this.#parse(entry, attempt, () => toChunk(json, Math.floor(this.#now() / 1000)));
            for (const ch of chunk.choices) {
              outputChars += ch.delta.content?.length ?? 0;
              if (ch.finish_reason !== null) finished = true;
            }
            if (chunk.usage) usage = chunk.usage;
            delivered = true;
            yield chunk;
          }
          if (read.done && !done) {
            if (finished) break; // Some servers end without [DONE]; every choice said why it stopped.
            const hint = events === 0 && !contentType.includes('text/event-stream') ? ` (content-type ${JSON.stringify(contentType)}, not text/event-stream; is baseURL an OpenAI-compatible API?)` : '';
            throw this.#protocolFailure(entry, attempt, new ProtocolError(`the stream ended without [DONE] and without a finish_reason after ${events} events: it was cut${hint}`, true));
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
      ...(stream ? { stream_options: { include_usage: true } } : {}),
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
      throw this.#fail(entry, 'cloud-http', `Cloud model ${id}: ${entry.url} answered with a redirect, which edgeroute does not follow when an API key is set (the key must not leave baseURL). Set baseURL to the final URL.`, { attempt, transient: false, status: response.status });
    }
    let detail = '';
    try {
      const text = await abortable(response.text(), scope.signal);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = undefined;
      }
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
      throw this.#fail(entry, code, `${head}.`, { attempt, transient: true, status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    const hint =
      status === 401 || status === 403
        ? ' Check the API key (or the proxy\'s credentials) and that it may use this model.'
        : status === 404
          ? ' Check baseURL (the API root, e.g. https://api.openai.com/v1) and the model name.'
          : ' The provider rejected the request; it is not retried.';
    throw this.#fail(entry, 'cloud-http', `${head}.${hint}`, { attempt, transient: false, status });
  }

  /** An error thrown by fetch or a body read, classified by what ended the attempt. */
  #transportFailure(entry: ModelEntry, error: unknown, scope: AttemptScope, attempt: number, doing: string): CloudError {
    const id = entry.config.id;
    if (error instanceof CloudError) return error;
    if (scope.timedOut()) {
      return this.#fail(entry, 'cloud-timeout', `Cloud model ${id} did not answer within ${entry.timeoutMs} ms (${doing}). Raise timeoutMs in its config, or check the provider's status.`, { attempt, transient: true, cause: error });
    }
    if (scope.signal.aborted) {
      // Only the caller (or close()) aborts besides the timer; #asFailure turns it into 'aborted'.
      return this.#fail(entry, 'aborted', `The request to cloud model ${id} was aborted by its AbortSignal.`, { attempt, transient: false, cause: error });
    }
    if (isNetworkError(error)) {
      return this.#fail(entry, 'cloud-network', `Could not reach cloud model ${id} at ${entry.url} while ${doing} (${errorText(error)}). Check the network, the URL and, in a page, CORS.`, { attempt, transient: true, cause: error });
    }
    return this.#fail(entry, 'cloud-failed', `The request to cloud model ${id} failed while ${doing}: ${errorText(error)}`, { attempt, transient: false, cause: error });
  }

  #parse<T>(entry: ModelEntry, attempt: number, parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      throw error instanceof ProtocolError ? this.#protocolFailure(entry, attempt, error) : error;
    }
  }

  #protocolFailure(entry: ModelEntry, attempt: number, error: ProtocolError): CloudError {
    return this.#fail(entry, 'cloud-protocol', `Cloud model ${entry.config.id} sent an answer edgeroute cannot read: ${error.message}. Is baseURL an OpenAI-compatible Chat Completions API?`, { attempt, transient: error.transient });
  }

  /** Whatever reached a catch, as a CloudError; the caller's abort always wins. */
  #asFailure(entry: ModelEntry, error: unknown, scope: AttemptScope, caller: AbortSignal | undefined, attempt: number): CloudError {
    if (caller?.aborted) {
      if (error instanceof CloudError && error.code === 'aborted') return error;
      return this.#fail(entry, 'aborted', `The request to cloud model ${entry.config.id} was aborted by its AbortSignal.`, { attempt, transient: false, cause: caller.reason });
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
          new CloudError(failure.code === 'cloud-http' ? 'cloud-http' : 'cloud-rate-limited', `${failure.message} It asks to wait ${Math.ceil(failure.retryAfterMs / 1000)} s (Retry-After), longer than edgeroute waits (${RETRY_AFTER_CAP_MS / 1000} s); try again later or use another model.`, {
            modelId: failure.modelId,
            attempts: attempt,
            transient: true,
            retryAfterMs: failure.retryAfterMs,
            ...(failure.status !== undefined ? { status: failure.status } : {}),
          }),
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
      throw this.#fail(entry, 'aborted', `The request to cloud model ${entry.config.id} was aborted by its AbortSignal (while waiting to retry).`, { attempt, transient: false, cause: caller.reason });
    }
  }

  /** The error the caller gets: says how many attempts were made. */
  #final(failure: CloudError, attempt: number): CloudError {
    if (attempt <= 1 || failure.code === 'aborted') return failure;
    return new CloudError(failure.code, `${failure.message} (gave up after ${attempt} attempts)`, {
      modelId: failure.modelId,
      attempts: attempt,
      transient: failure.transient,
      ...(failure.status !== undefined ? { status: failure.status } : {}),
      ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
    });
  }

  #fail(
    entry: ModelEntry,
    code: EdgeRouteErrorCode,
    message: string,
    d: { attempt: number; transient: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ): CloudError {
    return new CloudError(code, this.#redact(entry, message), {
      modelId: entry.config.id,
      attempts: d.attempt,
      transient: d.transient,
      ...(d.status !== undefined ? { status: d.status } : {}),
      ...(d.retryAfterMs !== undefined ? { retryAfterMs: d.retryAfterMs } : {}),
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
