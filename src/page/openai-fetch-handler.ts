/**
 * The HTTP side of createOpenAIFetch (./openai-fetch.ts): OpenAI's Chat Completions request in,
 * the router's answer out as OpenAI's JSON or SSE, errors as OpenAI's error body. Loaded on the
 * adapter's first call, so pages that never use an SDK do not load it.
 */
import { EdgeRouteError, errorCode, type EdgeRouteErrorCode } from '../common/errors';
import { sseEvent } from '../common/sse';
import type { ChatCompletionRequest } from '../common/openai';
import type { CreateOptions, RoutedChunk } from './router';
import type { OpenAIFetchRouter } from './openai-fetch';

/** The HTTP status an error answers with, in OpenAI's terms. */
function statusOf(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status <= 599) return status;
  const code = errorCode(error);
  const byCode: Partial<Record<EdgeRouteErrorCode, number>> = {
    'invalid-input': 400,
    'cloud-rate-limited': 429,
    'cloud-timeout': 504,
    'cloud-network': 502,
    'cloud-protocol': 502,
    'cloud-http': 502,
    'cloud-failed': 502,
    'no-model-available': 503,
  };
  return (code && byCode[code]) ?? 500;
}

/** OpenAI's error body: the provider's type/param/code when the cloud sent them, else edgeroute's. */
function errorBody(
  error: unknown,
  status: number,
): { error: { message: string; type: string; param: string | null; code: string | null; edgeroute_code: string | null } } {
  const e = (error ?? {}) as { message?: unknown; type?: unknown; param?: unknown; providerCode?: unknown };
  const code = errorCode(error) ?? null;
  return {
    error: {
      message: typeof e.message === 'string' ? e.message : String(error),
      type: typeof e.type === 'string' ? e.type : status === 400 ? 'invalid_request_error' : 'server_error',
      param: typeof e.param === 'string' ? e.param : null,
      code: typeof e.providerCode === 'string' ? e.providerCode : code,
      edgeroute_code: code,
    },
  };
}

function errorResponse(error: unknown): Response {
  const status = statusOf(error);
  const headers = new Headers({ 'content-type': 'application/json' });
  const retryAfterMs = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)) {
    headers.set('retry-after', String(Math.ceil(retryAfterMs / 1000)));
    headers.set('retry-after-ms', String(Math.round(retryAfterMs)));
  }
  // The cloud client already retried 5xx and network failures; the SDK need not retry them again.
  // A 429 is left to the SDK's rules (it waits the Retry-After above).
  if (status >= 500) headers.set('x-should-retry', 'false');
  return new Response(JSON.stringify(errorBody(error, status)), { status, headers });
}

function openAIError(status: number, message: string, type: string, code: string): Response {
  return new Response(JSON.stringify({ error: { message, type, param: null, code } }), { status, headers: { 'content-type': 'application/json' } });
}

function abortError(signal: AbortSignal | null | undefined): DOMException {
  const reason: unknown = signal?.reason;
  return reason instanceof DOMException && reason.name === 'AbortError' ? reason : new DOMException('The request was aborted.', 'AbortError');
}

function isAbort(error: unknown, signal: AbortSignal | null | undefined): boolean {
  return signal?.aborted === true || errorCode(error) === 'aborted';
}

async function bodyText(input: RequestInfo | URL, init: RequestInit | undefined): Promise<string> {
  const body = init?.body;
  if (typeof body === 'string') return body;
  if (body !== undefined && body !== null) return new Response(body).text();
  if (input instanceof Request) return input.text();
  return '';
}

/**
 * The SSE body of a stream whose first chunk has already arrived (so an early failure could
 * still be an HTTP error). A failure later is sent as an `error` event, which the SDK throws.
 */
function sseBody(first: IteratorResult<RoutedChunk>, iterator: AsyncIterator<RoutedChunk>, signal: AbortSignal | null | undefined): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending: IteratorResult<RoutedChunk> | undefined = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = pending ?? (await iterator.next());
        pending = undefined;
        if (next.done) {
          controller.enqueue(encoder.encode(sseEvent('[DONE]')));
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(sseEvent(JSON.stringify(next.value))));
      } catch (error) {
        if (isAbort(error, signal)) {
          controller.error(abortError(signal));
          return;
        }
        controller.enqueue(encoder.encode(sseEvent(JSON.stringify(errorBody(error, statusOf(error))))));
        controller.close();
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/** Serves `POST …/chat/completions` from `router`; see ./openai-fetch.ts. */
export async function serveChatCompletions(router: OpenAIFetchRouter, input: RequestInfo | URL, init: RequestInit | undefined): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input), 'http://edgeroute.invalid/');
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  if (signal?.aborted) throw abortError(signal);
  if (!/\/chat\/completions\/?$/.test(url.pathname)) {
    return openAIError(404, `edgeroute serves only POST /chat/completions, not ${method} ${url.pathname}.`, 'invalid_request_error', 'unknown_url');
  }
  if (method !== 'POST') return openAIError(405, `Use POST for ${url.pathname}.`, 'invalid_request_error', 'method_not_allowed');
  let request: ChatCompletionRequest;
  try {
    request = JSON.parse(await bodyText(input, init)) as ChatCompletionRequest;
  } catch {
    return openAIError(400, 'The request body is not valid JSON.', 'invalid_request_error', 'invalid-input');
  }
  const options: CreateOptions = signal ? { signal } : {};
  try {
    if ((request as { stream?: unknown } | null)?.stream === true) {
      const stream = await router.chat.completions.create({ ...request, stream: true }, options);
      const iterator = stream[Symbol.asyncIterator]();
      // The first chunk decides the status: a cloud that fails before it (a 429 …) is an HTTP error.
      const first = await iterator.next();
      return new Response(sseBody(first, iterator, signal), {
        status: 200,
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
      });
    }
    const completion = await router.chat.completions.create({ ...request, stream: false }, options);
    return new Response(JSON.stringify(completion), { status: 200, headers: { 'content-type': 'application/json' } });
  } catch (error) {
    if (isAbort(error, signal)) throw abortError(signal);
    return errorResponse(error instanceof Error ? error : new EdgeRouteError('cloud-failed', String(error)));
  }
}
