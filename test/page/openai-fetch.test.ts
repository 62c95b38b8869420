/**
 * The fetch adapter under the real `openai` SDK (in Node): an app's calls, unchanged but for
 * the client construction, reach an EdgeRouter (fake worker and cloud) and come back as the
 * SDK's objects and errors.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/common/openai';
import { CloudError } from '../../src/page/cloud-client';
import { createOpenAIFetch } from '../../src/page/openai-fetch';
import { EdgeRouter, type RouterCloud, type RouterWorker } from '../../src/page/router';
import { fakeWorker } from './fake-worker';

const cloudModels = [{ id: 'cloud-big', cost: 0.01 }];

const worker = (chosen: 'llama' | 'cloud-big'): RouterWorker => fakeWorker(chosen, 'engine-name');

const weatherCall = { id: 'call_1', type: 'function' as const, function: { name: 'weather', arguments: '{"city":"Paris"}' } };

function cloud(options: { fail?: () => Error; hangStream?: boolean } = {}): { cloud: RouterCloud; seen: ChatCompletionRequest[] } {
  const seen: ChatCompletionRequest[] = [];
  const chunk = (choices: ChatCompletionChunk['choices'], usage?: ChatCompletionChunk['usage']): ChatCompletionChunk => ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-x',
    choices,
    ...(usage ? { usage } : {}),
  });
  return {
    seen,
    cloud: {
      async chat(_model, request, { signal } = {}) {
        seen.push(request);
        if (options.fail) throw options.fail();
        if (signal?.aborted) throw new EdgeRouteError('aborted', 'aborted');
        const tools = request.tools !== undefined && !request.messages.some((m) => m.role === 'tool');
        return {
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-x',
          choices: [
            tools
              ? { index: 0, message: { role: 'assistant', content: null, tool_calls: [weatherCall] }, finish_reason: 'tool_calls', logprobs: null }
              : { index: 0, message: { role: 'assistant', content: 'It is 18 °C in Paris.' }, finish_reason: 'stop', logprobs: null },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 },
        };
      },
      async *stream(_model, request, { signal } = {}) {
        seen.push(request);
        if (options.fail) throw options.fail();
        yield chunk([{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }]);
        if (options.hangStream) {
          await new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(new EdgeRouteError('aborted', 'aborted')), { once: true }));
        }
        yield chunk([{ index: 0, delta: { content: 'lo' }, finish_reason: null }]);
        yield chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
        yield chunk([], { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
      },
    },
  };
}

function client(router: EdgeRouter, maxRetries = 0): OpenAI {
  // The one line an OpenAI app changes.
  return new OpenAI({ baseURL: 'https://edgeroute.invalid/v1', apiKey: 'unused', fetch: createOpenAIFetch(router), maxRetries });
}

describe('createOpenAIFetch with the openai SDK', () => {
  it('non-streaming: a local answer whose model is the routed model, with the report', async () => {
    const openai = client(new EdgeRouter({ worker: worker('llama'), cloud: cloud().cloud, localModel: 'llama', cloudModels }));
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toBe('local: hi');
    expect(completion.model).toBe('llama');
    expect((completion as unknown as { edgeroute: { model: string } }).edgeroute.model).toBe('llama');
  });

  it('streaming with usage: chunks, the usage chunk, the report on the last; without include_usage no usage', async () => {
    const openai = client(new EdgeRouter({ worker: worker('cloud-big'), cloud: cloud().cloud, localModel: 'llama', cloudModels }));
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
    expect((chunks.at(-1) as unknown as { edgeroute?: { model: string } }).edgeroute?.model).toBe('cloud-big');
    const plain = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const plainChunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of plain) plainChunks.push(c);
    expect(plainChunks.every((c) => !c.usage)).toBe(true);
    expect(plainChunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('tools round trip: the tool call comes back, the tool result goes to the cloud', async () => {
    const { cloud: c, seen } = cloud();
    const openai = client(new EdgeRouter({ worker: worker('llama'), cloud: c, localModel: 'llama', cloudModels }));
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call).toEqual(weatherCall);
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '18 °C' });
    const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
    expect(second.choices[0]!.message.content).toMatch(/18 °C/);
    expect(seen[1]!.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '18 °C' });
  });

  it('abort: APIUserAbortError before the answer; a stream ends where it was aborted, as the SDK does with fetch', async () => {
    const openai = client(new EdgeRouter({ worker: worker('cloud-big'), cloud: cloud({ hangStream: true }).cloud, localModel: 'llama', cloudModels }));
    const controller = new AbortController();
    controller.abort();
    await expect(
      openai.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal }),
    ).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    const streaming = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { signal: streaming.signal },
    );
    const pieces: string[] = [];
    const ended = (async () => {
      for await (const c of stream) {
        pieces.push(c.choices[0]?.delta.content ?? '');
        streaming.abort();
      }
    })();
    // As with a real fetch: the SDK ends the iteration quietly when its body errors with AbortError.
    await expect(ended).resolves.toBeUndefined();
    expect(pieces).toEqual(['Hel']);
  });

  it('a 429 from the cloud is a RateLimitError with Retry-After, streamed or not', async () => {
    const rateLimited = () =>
      new CloudError('cloud-rate-limited', 'Cloud model cloud-big answered HTTP 429: slow down.', {
        modelId: 'cloud-big',
        status: 429,
        attempts: 1,
        transient: true,
        retryAfterMs: 45_000,
        provider: { type: 'requests', code: 'rate_limit_exceeded' },
      });
    const openai = client(new EdgeRouter({ worker: worker('cloud-big'), cloud: cloud({ fail: rateLimited }).cloud, cloudModels, mode: 'cloud-only' }));
    for (const stream of [false, true]) {
      const error = await openai.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `stream ${stream}`).toBeInstanceOf(OpenAI.RateLimitError);
      const e = error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.status).toBe(429);
      expect(e.headers.get('retry-after')).toBe('45');
      expect(e).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
      expect(e.message).toMatch(/slow down/);
    }
  });

  it('a request edgeroute rejects is a BadRequestError; other paths are 404', async () => {
    const router = new EdgeRouter({ worker: worker('llama'), cloud: cloud().cloud, localModel: 'llama', cloudModels, mode: 'local-only' });
    const openai = client(router);
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'weather' } }];
    const error = await openai.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], tools }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'invalid-input' });
    await expect(openai.embeddings.create({ model: 'x', input: 'hi' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(router.fetch).toBeTypeOf('function');
  });
});
