/**
 * The replay cloud inside the page: a `fetch` for the cloud client that answers
 * `POST <base>/chat/completions` from the recorded answers of examples.json, so the demo has a
 * working cloud on any static host (no server, no Service Worker). It speaks the OpenAI wire
 * format, JSON or SSE; streamed answers come a word at a time, with a short pause between words
 * so a stream looks like one. A prompt without a recorded answer gets HTTP 404 with a plain
 * explanation (the chat shows its own words for that case).
 */
import type { ChatCompletionRequest } from 'edgeroute';
import type { ExampleBook } from './examples';

/** The base URL the demo's settings use for it; any URL under this page's `replay/v1`. */
export const REPLAY_BASE = 'replay/v1';
export const REPLAY_NOT_RECORDED = 'not-recorded';

export interface ReplayFetchOptions {
  readonly book: () => ExampleBook | undefined;
  /** Pause between streamed words, ms (default 40). */
  readonly wordDelayMs?: number;
}

/** True for URLs the in-page replay answers (relative base resolved against the page). */
export function isReplayUrl(url: string, pageUrl: string): boolean {
  return url.startsWith(new URL(REPLAY_BASE, pageUrl).href);
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const tokens = (chars: number): number => Math.max(1, Math.ceil(chars / 4));

function sleep(ms: number, signal: AbortSignal | null | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason ?? new DOMException('aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function createReplayFetch(options: ReplayFetchOptions, fallback: typeof fetch = (i, n) => globalThis.fetch(i, n)): typeof fetch {
  const delay = options.wordDelayMs ?? 40;
  let counter = 0;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.includes(`/${REPLAY_BASE}/`)) return fallback(input, init);
    if (!url.endsWith('/chat/completions') || (init?.method ?? 'GET').toUpperCase() !== 'POST') {
      return json(404, { error: { message: `The in-page replay cloud serves only POST …/chat/completions, not ${url}.`, type: 'invalid_request_error' } });
    }
    const request = JSON.parse(String(init?.body ?? '{}')) as ChatCompletionRequest;
    const last = [...(request.messages ?? [])].reverse().find((m) => m.role === 'user');
    const prompt = typeof last?.content === 'string' ? last.content : '';
    const example = options.book()?.find(prompt);
    const answer = typeof request.model === 'string' ? example?.responses[request.model] : undefined;
    if (answer === undefined) {
      const why = example ? `no recorded answer of ${request.model} for this prompt` : 'this prompt is not one of the recorded prompts';
      return json(404, {
        error: {
          message: `The replay cloud only replays recorded answers (${why}). Pick an example prompt, or set your own OpenAI-compatible endpoint in Settings.`,
          type: 'invalid_request_error',
          code: REPLAY_NOT_RECORDED,
        },
      });
    }
    const id = `replay-${++counter}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = {
      prompt_tokens: tokens(prompt.length),
      completion_tokens: tokens(answer.length),
      total_tokens: tokens(prompt.length) + tokens(answer.length),
    };
    if (!request.stream) {
      await sleep(delay, init?.signal);
      return json(200, {
        id,
        object: 'chat.completion',
        created,
        model: request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop', logprobs: null }],
        usage,
      });
    }
    const words = answer.match(/\S+\s*|\s+/g) ?? [answer];
    const signal = init?.signal;
    const encoder = new TextEncoder();
    const event = (o: unknown): Uint8Array => encoder.encode(`data: ${JSON.stringify(o)}\n\n`);
    const chunk = (delta: object, finish: string | null): unknown => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    });
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        try {
          controller.enqueue(event(chunk({ role: 'assistant', content: '' }, null)));
          for (const w of words) {
            await sleep(delay, signal);
            controller.enqueue(event(chunk({ content: w }, null)));
          }
          controller.enqueue(event(chunk({}, 'stop')));
          controller.enqueue(event({ id, object: 'chat.completion.chunk', created, model: request.model, choices: [], usage }));
          controller.enqueue(encoder.encode('data: [DONE]\n\n'));
          controller.close();
        } catch (error) {
          controller.error(error);
        }
      },
    });
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  };
}
