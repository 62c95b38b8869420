import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EdgeRouteError, isCloudErrorCode } from '../../src/common/errors';
import {
  CloudClient,
  CloudError,
  parseRetryAfter,
  SseParser,
  validateCloudModelConfig,
  type CloudClientOptions,
  type CloudModelConfig,
  type CloudRetryInfo,
} from '../../src/page/cloud-client';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/common/openai';

const KEY = 'sk-test-SECRET-0123456789abcdef';

const baseModel: CloudModelConfig = {
  id: 'big',
  model: 'gpt-test',
  baseURL: 'https://api.example.com/v1/',
  apiKey: KEY,
  usdPerMTokIn: 2,
  usdPerMTokOut: 8,
};

const request: ChatCompletionRequest = {
  messages: [
    { role: 'system', content: 'Be brief.' }, // 9 chars
    { role: 'user', content: 'What is 17 times 23, please?' }, // 28 chars
  ],
};

// ---------------------------------------------------------------------------------------------
// A scripted fake fetch

interface Call {
  readonly url: string;
  readonly init: RequestInit;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly signal: AbortSignal;
}

type Step = (call: Call) => Response | Promise<Response>;

function fakeFetch(steps: Step[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const call: Call = {
      url: String(input),
      init: init ?? {},
      headers: new Headers(init?.headers),
      body: JSON.parse(String(init?.body)) as Record<string, unknown>,
      signal: init?.signal ?? new AbortController().signal,
    };
    calls.push(call);
    const step = steps[Math.min(calls.length, steps.length) - 1];
    if (!step) throw new Error('no step');
    return step(call);
  };
  return { fetch: fetchImpl as typeof fetch, calls };
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

function completion(content: string, usage?: { prompt_tokens: number; completion_tokens: number }): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-test-2024',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
  };
}

/** Splits bytes into pieces of `size` (0: one piece). */
function split(bytes: Uint8Array, size: number): Uint8Array[] {
  if (size <= 0) return [bytes];
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/**
 * A body that hands out `pieces` one per read, then ends as `end` says: 'close' (EOF), 'hang'
 * (never) or 'error' (a reset). Like real fetch, the request's signal errors the body.
 */
function streamBody(pieces: readonly (string | Uint8Array)[], signal: AbortSignal, end: 'close' | 'hang' | 'error' = 'close'): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      signal.addEventListener('abort', () => {
        try {
          controller.error(signal.reason);
        } catch {
          /* already closed */
        }
      });
    },
    pull(controller) {
      if (i < pieces.length) {
        const p = pieces[i++]!;
        controller.enqueue(typeof p === 'string' ? enc.encode(p) : p);
        return;
      }
      if (end === 'close') controller.close();
      else if (end === 'error') controller.error(new TypeError('terminated: other side closed'));
      else return new Promise<void>(() => undefined);
    },
  });
}

function sse(call: Call, pieces: readonly (string | Uint8Array)[], end: 'close' | 'hang' | 'error' = 'close'): Response {
  return new Response(streamBody(pieces, call.signal, end), { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

function chunk(content: string | null, finish: string | null = null, extra: Record<string, unknown> = {}): string {
  return `data: ${JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-test',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
    ...extra,
  })}\n\n`;
}

const hang: Step = (call) =>
  new Promise<Response>((_, reject) => {
    call.signal.addEventListener('abort', () => reject(call.signal.reason));
  });

function client(steps: Step[], options: Partial<CloudClientOptions> & { model?: Partial<CloudModelConfig> } = {}) {
  const { fetch, calls } = fakeFetch(steps);
  const warn = vi.fn<(...args: unknown[]) => void>();
  const retries: CloudRetryInfo[] = [];
  const { model, ...rest } = options;
  const c = new CloudClient({
    models: [{ ...baseModel, ...model }],
    fetch,
    random: () => 0.5,
    sleep: async () => undefined,
    logger: { warn },
    onRetry: (info) => retries.push(info),
    ...rest,
  });
  return { client: c, calls, warn, retries };
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

function text(chunks: readonly ChatCompletionChunk[]): string {
  return chunks.map((c) => c.choices.map((ch) => ch.delta.content ?? '').join('')).join('');
}

async function failure(p: Promise<unknown>): Promise<CloudError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(CloudError);
    return error as CloudError;
  }
  throw new Error('expected a rejection');
}

// ---------------------------------------------------------------------------------------------

describe('validateCloudModelConfig', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['NaN price', { usdPerMTokIn: Number.NaN }, /usdPerMTokIn.*must be a number.*NaN/],
    ['negative price', { usdPerMTokOut: -1 }, /usdPerMTokOut.*≥ 0, got -1/],
    ['infinite price', { usdPerMTokIn: Infinity }, /usdPerMTokIn.*finite, got Infinity/],
    ['string price', { usdPerMTokIn: '2' }, /usdPerMTokIn.*must be a number/],
    ['empty id', { id: ' ' }, /`id` must be a non-empty string/],
    ['empty model', { model: '' }, /`model`.*non-empty string/],
    ['relative baseURL', { baseURL: 'api/v1' }, /neither an absolute http\(s\) URL nor a same-origin path/],
    ['ftp baseURL', { baseURL: 'ftp://x.example/v1' }, /http: or https:/],
    ['protocol-relative', { baseURL: '//x.example/v1' }, /protocol-relative/],
    ['endpoint as baseURL', { baseURL: 'https://api.openai.com/v1/chat/completions' }, /appends \/chat\/completions/],
    ['query', { baseURL: 'https://x.example/v1?a=1' }, /query or fragment/],
    ['credentials', { baseURL: 'https://u:p@x.example/v1' }, /credentials/],
    ['key over plain http', { baseURL: 'http://x.example/v1' }, /unencrypted/],
    ['zero timeout', { timeoutMs: 0 }, /timeoutMs.*positive/],
    ['fractional retries', { maxRetries: 1.5 }, /maxRetries.*integer in \[0, 10\]/],
    ['too many retries', { maxRetries: 11 }, /maxRetries/],
    ['header with newline', { headers: { 'X-A': 'a\nb' } }, /line break/],
    ['key and Authorization', { headers: { Authorization: 'Bearer x' } }, /keep one/],
  ];
  it.each(bad)('rejects %s', (_, patch, message) => {
    let error: unknown;
    try {
      validateCloudModelConfig({ ...baseModel, ...patch });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EdgeRouteError);
    expect((error as EdgeRouteError).code).toBe('invalid-config');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(KEY);
  });

  it('never echoes a bad key', () => {
    const key = 'sk-bad key-with-space-SECRET';
    expect(() => validateCloudModelConfig({ ...baseModel, apiKey: key })).toThrow(/spaces/);
    try {
      validateCloudModelConfig({ ...baseModel, apiKey: key });
    } catch (e) {
      expect((e as Error).message).not.toContain('SECRET');
    }
  });

  it('accepts same-origin paths, loopback http with a key, and no key', () => {
    expect(() => validateCloudModelConfig({ ...baseModel, baseURL: '/api/llm/v1' })).not.toThrow();
    expect(() => validateCloudModelConfig({ ...baseModel, baseURL: 'http://127.0.0.1:8080/v1' })).not.toThrow();
    const { apiKey: _, ...noKey } = baseModel;
    expect(() => validateCloudModelConfig({ ...noKey, baseURL: 'http://llm.internal/v1' })).not.toThrow();
  });

  it('rejects duplicate ids and unknown model ids', async () => {
    expect(() => new CloudClient({ models: [baseModel, baseModel], fetch: fakeFetch([]).fetch, logger: { warn() {} } })).toThrow(/unique/);
    const { client: c } = client([]);
    await expect(c.chat('nope', request)).rejects.toThrow(/No cloud model with id "nope"; configured: "big"/);
  });
});

describe('CloudClient.chat', () => {
  it('posts to baseURL/chat/completions with the provider model and the key, cost from usage', async () => {
    const { client: c, calls } = client([() => json(completion('391', { prompt_tokens: 1000, completion_tokens: 500 }))]);
    const result = await c.chat('big', { ...request, model: 'ignored', temperature: 0 });
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.url).toBe('https://api.example.com/v1/chat/completions');
    expect(call.init.method).toBe('POST');
    expect(call.init.redirect).toBe('manual');
    expect(call.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(call.headers.get('content-type')).toBe('application/json');
    expect(call.body).toMatchObject({ model: 'gpt-test', stream: false, temperature: 0 });
    expect(result.choices[0]!.message.content).toBe('391');
    expect(result.model).toBe('gpt-test-2024');
    expect(result.attempts).toBe(1);
    expect(result.edgerouteCost).toEqual({ usd: (1000 * 2 + 500 * 8) / 1e6, inputTokens: 1000, outputTokens: 500, estimated: false });
  });

  it('estimates tokens as chars/4 without usage', async () => {
    const { client: c } = client([() => json(completion('abcdefghi'))]);
    const result = await c.chat('big', request);
    // prompt 9 + 28 = 37 chars → 10 tokens; answer 9 chars → 3 tokens
    expect(result.edgerouteCost).toEqual({ usd: (10 * 2 + 3 * 8) / 1e6, inputTokens: 10, outputTokens: 3, estimated: true });
  });

  it('sends no Authorization without a key and follows redirects then', async () => {
    const { apiKey: _, ...noKey } = baseModel;
    const { fetch, calls } = fakeFetch([() => json(completion('x'))]);
    const c = new CloudClient({ models: [noKey], fetch, logger: { warn() {} } });
    await c.chat('big', request);
    expect(calls[0]!.headers.has('authorization')).toBe(false);
    expect(calls[0]!.init.redirect).toBeUndefined();
  });

  it('retries 5xx with full-jitter backoff, then succeeds', async () => {
    const {
      client: c,
      calls,
      retries,
    } = client([() => json({ error: { message: 'overloaded' } }, 500), () => new Response('bad gateway', { status: 502 }), () => json(completion('ok'))]);
    const result = await c.chat('big', request);
    expect(result.attempts).toBe(3);
    expect(calls).toHaveLength(3);
    // random 0.5 · min(8000, 500 · 2^(n−1))
    expect(retries.map((r) => r.delayMs)).toEqual([250, 500]);
    expect(retries[0]!.error.status).toBe(500);
    expect(retries[0]!.error.message).toContain('overloaded');
  });

  it('gives up after maxRetries with the last error and the attempt count', async () => {
    const { client: c, calls } = client([() => json({ error: { message: 'down' } }, 503)], { model: { maxRetries: 2 } });
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(3);
    expect(error.code).toBe('cloud-http');
    expect(error.status).toBe(503);
    expect(error.attempts).toBe(3);
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/HTTP 503: down.*gave up after 3 attempts/);
    expect(isCloudErrorCode(error.code)).toBe(true);
  });

  it('honours Retry-After in seconds and as an HTTP date', async () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const { client: c, retries } = client(
      [
        () => json({ error: { message: 'slow down' } }, 429, { 'retry-after': '2' }),
        () => json({}, 429, { 'retry-after': new Date(now + 5000).toUTCString() }),
        () => json({}, 503, { 'retry-after-ms': '1234' }),
        () => json(completion('ok')),
      ],
      { now: () => now },
    );
    const result = await c.chat('big', request);
    expect(result.attempts).toBe(4);
    expect(retries.map((r) => r.delayMs)).toEqual([2000, 5000, 1234]);
    expect(retries[0]!.error.code).toBe('cloud-rate-limited');
  });

  it('fails at once when Retry-After is longer than 30 s', async () => {
    const { client: c, calls } = client([() => json({ error: { message: 'quota' } }, 429, { 'retry-after': '3600' })]);
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(1);
    expect(error.code).toBe('cloud-rate-limited');
    expect(error.retryAfterMs).toBe(3_600_000);
    expect(error.message).toMatch(/3600 s/);
  });

  it('reports 429 as cloud-rate-limited after the retries', async () => {
    const { client: c, calls } = client([() => json({}, 429)]);
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(4);
    expect(error.code).toBe('cloud-rate-limited');
    expect(error.attempts).toBe(4);
  });

  it.each([400, 401, 403, 404, 422])('does not retry HTTP %i and includes the provider message', async (status) => {
    const { client: c, calls, retries } = client([() => json({ error: { message: `provider says ${status}`, type: 'x' } }, status)]);
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(1);
    expect(retries).toHaveLength(0);
    expect(error.code).toBe('cloud-http');
    expect(error.status).toBe(status);
    expect(error.transient).toBe(false);
    expect(error.message).toContain(`provider says ${status}`);
    expect(error.message).toContain(`HTTP ${status}`);
  });

  it('retries network TypeErrors (and node socket errors)', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { client: c, calls } = client([
      () => {
        throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
      },
      () => {
        throw reset;
      },
      () => json(completion('ok')),
    ]);
    const result = await c.chat('big', request);
    expect(result.attempts).toBe(3);
    expect(calls).toHaveLength(3);
  });

  it('reports a network failure as cloud-network after the retries', async () => {
    const { client: c } = client(
      [
        () => {
          throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND api.example.com') });
        },
      ],
      { model: { maxRetries: 1 } },
    );
    const error = await failure(c.chat('big', request));
    expect(error.code).toBe('cloud-network');
    expect(error.message).toMatch(/ENOTFOUND/);
    expect(error.attempts).toBe(2);
  });

  it('does not retry an unexpected error from fetch (cloud-failed)', async () => {
    const { client: c, calls } = client([
      () => {
        throw new RangeError('weird');
      },
    ]);
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(1);
    expect(error.code).toBe('cloud-failed');
  });

  it('retries a timeout, then fails with cloud-timeout (real timers)', async () => {
    const { client: c, calls } = client([hang], { model: { timeoutMs: 30, maxRetries: 1 }, sleep: undefined, random: () => 0 });
    const t0 = Date.now();
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(2);
    expect(calls.every((call) => call.signal.aborted)).toBe(true);
    expect(error.code).toBe('cloud-timeout');
    expect(error.attempts).toBe(2);
    expect(error.message).toMatch(/within 30 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('times out a body that stops half-way (the timeout covers the whole chat attempt)', async () => {
    const { client: c, calls } = client(
      [(call) => new Response(streamBody(['{"id":"x","choi'], call.signal, 'hang'), { status: 200 }), () => json(completion('ok'))],
      { model: { timeoutMs: 30 }, sleep: undefined, random: () => 0 },
    );
    const result = await c.chat('big', request);
    expect(result.attempts).toBe(2);
    expect(calls).toHaveLength(2);
  });

  it("turns the caller's abort into 'aborted' without retrying", async () => {
    const { client: c, calls, retries } = client([hang]);
    const ac = new AbortController();
    const p = c.chat('big', request, { signal: ac.signal });
    await Promise.resolve();
    ac.abort();
    const error = await failure(p);
    expect(error.code).toBe('aborted');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(retries).toHaveLength(0);
  });

  it('rejects at once for an already aborted signal, and aborts a backoff wait', async () => {
    const pre = client([() => json(completion('x'))]);
    const error = await failure(pre.client.chat('big', request, { signal: AbortSignal.abort() }));
    expect(error.code).toBe('aborted');

    const ac = new AbortController();
    const { client: c, calls } = client([() => json({}, 503)], {
      sleep: (_ms, signal) =>
        new Promise<void>((_, reject) => {
          signal?.addEventListener('abort', () => reject(new Error('aborted sleep')));
          queueMicrotask(() => ac.abort());
        }),
    });
    const during = await failure(c.chat('big', request, { signal: ac.signal }));
    expect(during.code).toBe('aborted');
    expect(during.message).toMatch(/waiting to retry/);
    expect(calls).toHaveLength(1);
  });

  it('retries malformed JSON in a 200 body, but not a well-formed wrong shape', async () => {
    const truncated = client([() => new Response('{"id":"x","choices":[{"mess', { status: 200 }), () => json(completion('ok'))]);
    expect((await truncated.client.chat('big', request)).attempts).toBe(2);

    const wrong = client([() => json({ id: 'x', object: 'list', data: [] })]);
    const error = await failure(wrong.client.chat('big', request));
    expect(error.code).toBe('cloud-protocol');
    expect(error.message).toMatch(/choices/);
    expect(wrong.calls).toHaveLength(1);

    const html = client([() => new Response('<html>captive portal</html>', { status: 200 })], { model: { maxRetries: 0 } });
    const e2 = await failure(html.client.chat('big', request));
    expect(e2.code).toBe('cloud-protocol');
    expect(e2.message).toMatch(/not valid JSON.*captive portal/);
  });

  it('validates the request', async () => {
    const { client: c, calls } = client([() => json(completion('x'))]);
    await expect(c.chat('big', { messages: [] })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(c.chat('big', { ...request, stream: true })).rejects.toThrow(/use stream\(\)/);
    expect(calls).toHaveLength(0);
  });

  it('does not follow redirects when a key is set', async () => {
    const { client: c, calls } = client([() => new Response(null, { status: 307, headers: { location: 'https://evil.example/' } })]);
    const error = await failure(c.chat('big', request));
    expect(calls).toHaveLength(1);
    expect(error.code).toBe('cloud-http');
    expect(error.message).toMatch(/redirect/);
  });

  it('refuses a same-origin baseURL where there is no page origin (Node)', async () => {
    const { client: c, calls } = client([() => json(completion('x'))], { model: { baseURL: '/api/llm/v1' } });
    await expect(c.chat('big', request)).rejects.toMatchObject({ code: 'invalid-config' });
    expect(calls).toHaveLength(0);
  });
});

describe('CloudClient.stream', () => {
  const events = [
    ': keep-alive\n\n',
    chunk('', null, { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
    chunk('17 × 23 = '),
    ':\n\n',
    chunk('391 €'),
    'event: message\r\nid: 7\r\n' + chunk('!', 'stop').replace(/\n/g, '\r\n'),
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', choices: [], usage: { prompt_tokens: 20, completion_tokens: 6, total_tokens: 26 } })}\n\n`,
    'data: [DONE]\n\n',
    chunk('after done'),
  ];
  const bytes = new TextEncoder().encode(events.join(''));

  it.each([1, 2, 3, 5, 7, 64, 0])('parses SSE split into %i-byte pieces', async (size) => {
    let cost: unknown;
    const { client: c, calls } = client([(call) => sse(call, split(bytes, size))]);
    const chunks = await collect(c.stream('big', request, { onCost: (x, attempts) => (cost = { ...x, attempts }) }));
    expect(text(chunks)).toBe('17 × 23 = 391 €!');
    expect(chunks).toHaveLength(5);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks[3]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[4]!.usage).toEqual({ prompt_tokens: 20, completion_tokens: 6, total_tokens: 26 });
    expect(cost).toEqual({ usd: (20 * 2 + 6 * 8) / 1e6, inputTokens: 20, outputTokens: 6, estimated: false, attempts: 1 });
    expect(calls[0]!.body).toMatchObject({ model: 'gpt-test', stream: true, stream_options: { include_usage: true } });
    expect(calls[0]!.headers.get('accept')).toBe('text/event-stream');
  });

  it('estimates the cost without a usage chunk', async () => {
    let cost: unknown;
    const { client: c } = client([(call) => sse(call, [chunk('abcd'), chunk('efgh', 'stop'), 'data: [DONE]\n\n'])]);
    await collect(c.stream('big', request, { onCost: (x) => (cost = x) }));
    expect(cost).toEqual({ usd: (10 * 2 + 2 * 8) / 1e6, inputTokens: 10, outputTokens: 2, estimated: true });
  });

  it('accepts a stream that ends without [DONE] after a finish_reason (and without a final blank line)', async () => {
    const { client: c } = client([(call) => sse(call, [chunk('a'), chunk('b', 'length').trimEnd()])]);
    const chunks = await collect(c.stream('big', request));
    expect(text(chunks)).toBe('ab');
  });

  it('fails a cut stream with cloud-protocol and does not retry after a delivered chunk', async () => {
    const { client: c, calls } = client([(call) => sse(call, [chunk('half an ans')]), (call) => sse(call, [chunk('x', 'stop')])]);
    const got: string[] = [];
    let error: unknown;
    try {
      for await (const ch of c.stream('big', request)) got.push(ch.choices[0]?.delta.content ?? '');
    } catch (e) {
      error = e;
    }
    expect(got).toEqual(['half an ans']);
    expect(error).toBeInstanceOf(CloudError);
    expect((error as CloudError).code).toBe('cloud-protocol');
    expect((error as CloudError).message).toMatch(/cut/);
    expect(calls).toHaveLength(1);
  });

  it('fails a reset connection after a delivered chunk without retrying', async () => {
    const { client: c, calls } = client([(call) => sse(call, [chunk('a')], 'error')]);
    const error = await failure(collect(c.stream('big', request)));
    expect(error.code).toBe('cloud-network');
    expect(calls).toHaveLength(1);
  });

  it('retries when nothing was delivered yet: empty body, 429, 500, reset', async () => {
    const {
      client: c,
      calls,
      retries,
    } = client(
      [
        (call) => sse(call, []),
        () => json({}, 429, { 'retry-after': '1' }),
        () => json({ error: { message: 'boom' } }, 500),
        (call) => sse(call, [': ping\n\n'], 'error'),
        (call) => sse(call, [chunk('ok', 'stop'), 'data: [DONE]\n\n']),
      ],
      { model: { maxRetries: 4 } },
    );
    const chunks = await collect(c.stream('big', request));
    expect(text(chunks)).toBe('ok');
    expect(calls).toHaveLength(5);
    expect(retries.map((r) => r.error.code)).toEqual(['cloud-protocol', 'cloud-rate-limited', 'cloud-http', 'cloud-network']);
    expect(retries[1]!.delayMs).toBe(1000);
  });

  it('does not retry a 400 on a stream', async () => {
    const { client: c, calls } = client([() => json({ error: { message: 'bad temperature' } }, 400)]);
    const error = await failure(collect(c.stream('big', request)));
    expect(error.code).toBe('cloud-http');
    expect(error.message).toContain('bad temperature');
    expect(calls).toHaveLength(1);
  });

  it('fails malformed JSON in an event with cloud-protocol', async () => {
    const { client: c, calls } = client([(call) => sse(call, [chunk('a'), 'data: {"id": "c1", "choi\n\n'])]);
    const error = await failure(collect(c.stream('big', request)));
    expect(error.code).toBe('cloud-protocol');
    expect(error.message).toMatch(/not valid JSON/);
    expect(calls).toHaveLength(1);
  });

  it('surfaces an error event sent inside the stream', async () => {
    const { client: c, calls } = client([(call) => sse(call, ['data: {"error":{"message":"model overloaded"}}\n\n'])]);
    const error = await failure(collect(c.stream('big', request)));
    expect(error.code).toBe('cloud-http');
    expect(error.message).toContain('model overloaded');
    expect(calls).toHaveLength(1);
  });

  it("stops on the caller's abort mid-stream with 'aborted', no retry, connection aborted", async () => {
    const { client: c, calls, retries } = client([(call) => sse(call, [chunk('first')], 'hang')]);
    const ac = new AbortController();
    const got: string[] = [];
    let error: unknown;
    try {
      for await (const ch of c.stream('big', request, { signal: ac.signal })) {
        got.push(ch.choices[0]?.delta.content ?? '');
        ac.abort();
      }
    } catch (e) {
      error = e;
    }
    expect(got).toEqual(['first']);
    expect((error as CloudError).code).toBe('aborted');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(retries).toHaveLength(0);
  });

  it('releases the connection when the consumer breaks early', async () => {
    const { client: c, calls } = client([(call) => sse(call, [chunk('a'), chunk('b')], 'hang')]);
    for await (const _ of c.stream('big', request)) break;
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('times out an idle stream: retried before the first chunk, not after', async () => {
    const { client: c, calls } = client([(call) => sse(call, [': ping\n\n'], 'hang'), (call) => sse(call, [chunk('a')], 'hang')], {
      model: { timeoutMs: 30 },
      sleep: undefined,
      random: () => 0,
    });
    const got: string[] = [];
    let error: unknown;
    try {
      for await (const ch of c.stream('big', request)) got.push(ch.choices[0]?.delta.content ?? '');
    } catch (e) {
      error = e;
    }
    expect(got).toEqual(['a']);
    expect((error as CloudError).code).toBe('cloud-timeout');
    expect(calls).toHaveLength(2);
  });

  it('does not count a slow consumer against the idle timeout', async () => {
    const { client: c } = client([(call) => sse(call, [chunk('a'), chunk('b', 'stop'), 'data: [DONE]\n\n'])], {
      model: { timeoutMs: 20 },
      sleep: undefined,
    });
    const got: string[] = [];
    for await (const ch of c.stream('big', request)) {
      got.push(ch.choices[0]?.delta.content ?? '');
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(got).toEqual(['a', 'b']);
  });

  it('checks the request eagerly', () => {
    const { client: c } = client([]);
    expect(() => c.stream('big', { messages: [{ role: 'assistant', content: 'x' }] })).toThrow(/last message must be from the user/);
    expect(() => c.stream('nope', request)).toThrow(/No cloud model/);
  });
});

describe('SseParser and parseRetryAfter', () => {
  it('joins multi-line data, handles CR/LF split across pieces, flushes at the end', () => {
    const p = new SseParser();
    expect(p.push('data: a\r')).toEqual([]);
    expect(p.push('\ndata: b\r')).toEqual([]);
    expect(p.push('\n\r')).toEqual(['a\nb']);
    expect(p.push('\ndata:c\n')).toEqual([]);
    expect(p.end()).toEqual(['c']);
    expect(new SseParser().push(': comment\n\nretry: 10\n\n')).toEqual([]);
  });

  it('parses seconds, HTTP dates and retry-after-ms', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:10 GMT' }), now)).toBe(10_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Tue, 31 Dec 2024 00:00:00 GMT' }), now)).toBe(0);
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '1' }), now)).toBe(250);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), now)).toBeUndefined();
  });
});

describe('secrets', () => {
  it('keeps the key out of toJSON, inspect, models, errors, causes and logs', async () => {
    const headerSecret = 'org-secret-token-abcdef';
    const { client: c, warn } = client(
      [
        () => json({ error: { message: `upstream 500 for key ${KEY}` } }, 500),
        () => {
          throw new TypeError(`Headers: "Bearer ${KEY}" is an invalid header value`);
        },
        () => json({ error: { message: `Incorrect API key provided: ${KEY} (${headerSecret})` } }, 401),
      ],
      { model: { headers: { 'X-Api-Token': headerSecret, 'X-Trace': 'visible' } } },
    );
    const shown = [JSON.stringify(c), inspect(c, { depth: 10 }), JSON.stringify(c.models), JSON.stringify(c.model('big'))].join('\n');
    expect(shown).not.toContain(KEY);
    expect(shown).not.toContain(headerSecret);
    expect(shown).toContain('visible');
    expect(c.models[0]!.hasApiKey).toBe(true);
    expect(c.models[0]).not.toHaveProperty('apiKey');

    const error = await failure(c.chat('big', request));
    expect(error.code).toBe('cloud-http');
    expect(error.status).toBe(401);
    expect(error.message).toContain('Incorrect API key provided: [redacted]');
    const everything = [error.message, String(error.stack), inspect(error, { depth: 10 }), JSON.stringify(error), ...warn.mock.calls.flat().map(String)].join(
      '\n',
    );
    expect(warn).toHaveBeenCalledTimes(2); // two retry lines
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(headerSecret);
  });

  it('redacts the key from a network error cause', async () => {
    const { client: c } = client(
      [
        () => {
          throw new TypeError('fetch failed', { cause: new Error(`bad header Bearer ${KEY}`) });
        },
      ],
      { model: { maxRetries: 0 } },
    );
    const error = await failure(c.chat('big', request));
    expect(error.code).toBe('cloud-network');
    expect(inspect(error, { depth: 10 })).not.toContain(KEY);
    expect(error.message).toContain('[redacted]');
  });
});

describe('browser key warning', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  async function freshModule() {
    vi.resetModules();
    return import('../../src/page/cloud-client');
  }

  it('warns once per page when a key is given in a browser context, never with the key', async () => {
    vi.stubGlobal('window', {});
    const mod = await freshModule();
    const warn = vi.fn();
    const { fetch } = fakeFetch([]);
    const { apiKey: _, ...noKey } = baseModel;
    new mod.CloudClient({ models: [noKey], fetch, logger: { warn } });
    expect(warn).not.toHaveBeenCalled();
    new mod.CloudClient({ models: [baseModel], fetch, logger: { warn } });
    new mod.CloudClient({ models: [{ ...baseModel, id: 'other' }], fetch, logger: { warn } });
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0]![0]);
    expect(message).toMatch(/Keys: use a proxy/);
    expect(message).toMatch(/same-origin proxy/);
    expect(message).not.toContain(KEY);
  });

  it('warns in a worker scope too, and not in Node', async () => {
    const node = await freshModule();
    const warnNode = vi.fn();
    new node.CloudClient({ models: [baseModel], fetch: fakeFetch([]).fetch, logger: { warn: warnNode } });
    expect(warnNode).not.toHaveBeenCalled();

    vi.stubGlobal('WorkerGlobalScope', function WorkerGlobalScope() {});
    const worker = await freshModule();
    const warnWorker = vi.fn();
    new worker.CloudClient({ models: [baseModel], fetch: fakeFetch([]).fetch, logger: { warn: warnWorker } });
    expect(warnWorker).toHaveBeenCalledTimes(1);
  });

  it('does not touch storage', async () => {
    const fs = await import('node:fs/promises');
    const files = [
      '../../src/page/cloud-client.ts',
      '../../src/common/sse.ts',
      ...['config', 'errors', 'cost', 'transport'].map((f) => `../../src/page/cloud/${f}.ts`),
    ];
    for (const file of files) {
      const source = await fs.readFile(new URL(file, import.meta.url), 'utf8');
      expect(source, file).not.toMatch(/localStorage|sessionStorage|indexedDB|idb-keyval|\.\.\/storage/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Integration: real fetch against a real HTTP server on 127.0.0.1

describe('against a local node:http server (real fetch)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    // Sockets the client left idle (or that never sent a request) would hold close() for seconds.
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function listen(handler: (req: IncomingMessage, body: Record<string, unknown>, res: import('node:http').ServerResponse) => void): Promise<string> {
    server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (raw += d));
      req.on('end', () => handler(req, JSON.parse(raw || '{}') as Record<string, unknown>, res));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v1`;
  }

  it('gets a completion and a streamed answer, sending the key', async () => {
    const seen: { path: string; auth: string | undefined; stream: unknown }[] = [];
    const baseURL = await listen((req, body, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, stream: body['stream'] });
      if (body['stream'] !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(completion('391', { prompt_tokens: 12, completion_tokens: 1 })));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const parts = [': hi\n\n', chunk('3'), chunk('9'), chunk('1', 'stop'), 'data: [DONE]\n\n'].join('');
      let i = 0;
      // Writes of 5 bytes with pauses, so fetch sees many small network chunks.
      const tick = (): void => {
        if (i >= parts.length) {
          res.end();
          return;
        }
        res.write(parts.slice(i, i + 5));
        i += 5;
        setTimeout(tick, 1);
      };
      tick();
    });
    const c = new CloudClient({ models: [{ ...baseModel, baseURL }], logger: { warn() {} } });
    const whole = await c.chat('big', request);
    expect(whole.choices[0]!.message.content).toBe('391');
    expect(whole.edgerouteCost.inputTokens).toBe(12);
    const chunks = await collect(c.stream('big', request));
    expect(text(chunks)).toBe('391');
    expect(seen).toEqual([
      { path: '/v1/chat/completions', auth: `Bearer ${KEY}`, stream: false },
      { path: '/v1/chat/completions', auth: `Bearer ${KEY}`, stream: true },
    ]);
  });

  it('aborts a real stream mid-way and the server sees the connection close', async () => {
    let closed!: () => void;
    const serverSawClose = new Promise<void>((r) => (closed = r));
    const baseURL = await listen((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('first'));
      res.on('close', () => closed());
      // …and then nothing: the client must abort.
    });
    const c = new CloudClient({ models: [{ ...baseModel, baseURL }], logger: { warn() {} } });
    const ac = new AbortController();
    const got: string[] = [];
    const error = await failure(
      (async () => {
        for await (const ch of c.stream('big', request, { signal: ac.signal })) {
          got.push(ch.choices[0]?.delta.content ?? '');
          ac.abort();
        }
      })(),
    );
    expect(got).toEqual(['first']);
    expect(error.code).toBe('aborted');
    await serverSawClose;
  });

  it('retries a real refused connection as cloud-network', async () => {
    const baseURL = await listen(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const c = new CloudClient({ models: [{ ...baseModel, baseURL, maxRetries: 1 }], logger: { warn() {} }, sleep: async () => undefined });
    const error = await failure(c.chat('big', request));
    expect(error.code).toBe('cloud-network');
    expect(error.attempts).toBe(2);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});
