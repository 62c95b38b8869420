/**
 * The Vercel AI SDK on edgeroute: `@ai-sdk/openai-compatible`'s provider with
 * `fetch: createOpenAIFetch(router)` (no edgeroute-specific provider needed), driven by the
 * real `ai` package's generateText / streamText, a tool loop included. The router has a fake
 * worker and cloud; what the SDK sends and gets is real.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/common/openai';
import { createOpenAIFetch } from '../../src/page/openai-fetch';
import { EdgeRouter, type RouterCloud, type RouterWorker } from '../../src/page/router';
import { fakeWorker } from './fake-worker';

const cloudModels = [{ id: 'cloud-big', cost: 0.01 }];

const worker = (chosen: 'llama' | 'cloud-big'): RouterWorker => fakeWorker(chosen, 'engine');

function cloud(): { cloud: RouterCloud; seen: ChatCompletionRequest[] } {
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
      async chat(_model, request) {
        seen.push(request);
        const toolTurn = request.tools !== undefined && !request.messages.some((m) => m.role === 'tool');
        return {
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-x',
          choices: [
            toolTurn
              ? {
                  index: 0,
                  message: {
                    role: 'assistant',
                    content: null,
                    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
                  },
                  finish_reason: 'tool_calls',
                  logprobs: null,
                }
              : {
                  index: 0,
                  message: { role: 'assistant', content: `cloud read: ${JSON.stringify(request.messages.at(-1)!.content)}` },
                  finish_reason: 'stop',
                  logprobs: null,
                },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 },
        };
      },
      async *stream(_model, request) {
        seen.push(request);
        yield chunk([{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }]);
        yield chunk([{ index: 0, delta: { content: 'lo' }, finish_reason: null }]);
        yield chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
        yield chunk([], { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
      },
    },
  };
}

function provider(router: EdgeRouter) {
  return createOpenAICompatible({ name: 'edgeroute', baseURL: 'https://edgeroute.invalid/v1', fetch: createOpenAIFetch(router), includeUsage: true });
}

describe('the Vercel AI SDK through createOpenAIFetch', () => {
  it('generateText: a local answer, with its usage', async () => {
    const router = new EdgeRouter({ worker: worker('llama'), cloud: cloud().cloud, localModel: 'llama', cloudModels });
    const result = await generateText({ model: provider(router)('any-model'), prompt: 'What is 2 + 2?' });
    expect(result.text).toBe('local: What is 2 + 2?');
    expect(result.usage.inputTokens).toBe(3);
    expect(result.response.modelId).toBe('llama');
  });

  it('streamText: the cloud stream and its usage', async () => {
    const router = new EdgeRouter({ worker: worker('cloud-big'), cloud: cloud().cloud, localModel: 'llama', cloudModels });
    const result = streamText({ model: provider(router)('any-model'), prompt: 'hi' });
    const pieces: string[] = [];
    for await (const t of result.textStream) pieces.push(t);
    expect(pieces.join('')).toBe('Hello');
    expect((await result.usage).totalTokens).toBe(6);
  });

  it('a tool loop: the call runs, its result goes back to the cloud, which answers', async () => {
    const { cloud: c, seen } = cloud();
    const router = new EdgeRouter({ worker: worker('llama'), cloud: c, localModel: 'llama', cloudModels });
    const calls: string[] = [];
    const result = await generateText({
      model: provider(router)('any-model'),
      prompt: 'Weather in Paris?',
      tools: {
        weather: tool({
          description: 'Weather now',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            calls.push(city);
            return `18 °C in ${city}`;
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(calls).toEqual(['Paris']);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(result.text).toMatch(/cloud read: .*18 °C in Paris/);
  });
});
