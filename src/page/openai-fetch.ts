/**
 * A `fetch` that answers OpenAI's Chat Completions HTTP API from an EdgeRouter, so code
 * written for the official `openai` SDK (or any OpenAI-compatible client that takes a custom
 * fetch, such as the Vercel AI SDK's provider) routes every call with one changed line:
 *
 *   const openai = new OpenAI({ baseURL: 'https://edgeroute.invalid/v1', apiKey: 'unused',
 *                               fetch: createOpenAIFetch(router), dangerouslyAllowBrowser: true });
 *
 * Nothing goes over the network here: the router decides, and its cloud client makes the
 * cloud calls with the keys and URLs of its own config (the SDK's apiKey and baseURL are not
 * used). Only `POST …/chat/completions` is served; anything else gets OpenAI's 404.
 *
 * Answers: JSON for a whole completion, SSE (`data: {chunk}` … `data: [DONE]`) for `stream:
 * true`; each carries edgeroute's report as an extra `edgeroute` field (on the last chunk of a
 * stream). Errors: OpenAI's error body `{ error: { message, type, param, code } }` with the
 * HTTP status the cloud gave (429 keeps its Retry-After), 400 for a request edgeroute rejects,
 * 503 when no model could answer. An abort rejects the fetch (or errors the body) with a
 * DOMException named 'AbortError', as a real fetch does, so the SDK throws APIUserAbortError.
 */
import type { ChatCompletionRequest } from '../common/openai';
import type { CreateOptions, RoutedChunk, RoutedCompletion } from './router';

/** What the adapter needs of a router (an EdgeRouter, or anything with the same create). */
export interface OpenAIFetchRouter {
  readonly chat: {
    readonly completions: {
      create(request: ChatCompletionRequest & { stream?: false | null }, options?: CreateOptions): Promise<RoutedCompletion>;
      create(request: ChatCompletionRequest & { stream: true }, options?: CreateOptions): Promise<AsyncIterable<RoutedChunk>>;
    };
  };
}

/** A function with fetch's signature (what the SDKs' `fetch` option takes). */
export type OpenAIFetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * A fetch-compatible function that serves `POST …/chat/completions` from `router`; pass it as
 * the `fetch` option of an OpenAI-compatible client. See the module comment.
 */
export function createOpenAIFetch(router: OpenAIFetchRouter): OpenAIFetch {
  // The HTTP translation (./openai-fetch-handler.ts) loads on the first call: a page that never
  // uses an SDK does not pay for it. A failed load is tried again on the next call.
  let handler: Promise<typeof import('./openai-fetch-handler')> | undefined;
  return async (input, init) => {
    handler ??= import('./openai-fetch-handler');
    let module: typeof import('./openai-fetch-handler');
    try {
      module = await handler;
    } catch (error) {
      handler = undefined;
      throw error;
    }
    return module.serveChatCompletions(router, input, init);
  };
}
