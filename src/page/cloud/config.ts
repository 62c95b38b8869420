/**
 * Cloud model configuration: the config type, its validation and its public (key-free) form.
 */
import { EdgeRouteError } from '../../common/errors';

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

export const REDACTED = '[redacted]';
/** Header names whose values are treated as secrets in toJSON and error texts. */
export const SECRET_HEADER = /auth|key|token|secret|cookie|session|signature/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII only: a key with spaces or control characters would make fetch throw with the value in its message. */
const API_KEY_CHARS = /^[\x21-\x7e]+$/;

export function invalidConfig(message: string): EdgeRouteError {
  return new EdgeRouteError('invalid-config', `Invalid cloud model config: ${message}`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return typeof value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
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
  if (maxRetries !== undefined && (typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_CLOUD_RETRIES)) {
    throw fail(`\`maxRetries\` must be an integer in [0, ${MAX_CLOUD_RETRIES}], got ${describe(maxRetries)}.`);
  }
}

/** The config without its key and with secret-looking header values redacted, safe to show or log. */
export function publicCloudModelConfig(config: CloudModelConfig): PublicCloudModelConfig {
  const { apiKey, headers, ...rest } = config;
  return {
    ...rest,
    ...(headers ? { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, SECRET_HEADER.test(k) ? REDACTED : v])) } : {}),
    hasApiKey: apiKey !== undefined,
  };
}
