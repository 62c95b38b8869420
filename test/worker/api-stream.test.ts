/**
 * generate() with an onChunk callback: the engine's chatStream is used, every chunk is passed
 * on in order, and the result (completion and confidence) is what chat() would have given.
 */
import { describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, LocalChatRequest } from '../../src/common/openai';
import { createWorkerApi, createWorkerHostState } from '../../src/worker/api';
import type { LocalEngine, LocalEngineStatus } from '../../src/worker/engines/local-engine';
import type { GpuWatch } from '../../src/worker/gpu/gpu-watch';
import { createFakeEmbedder } from '../helpers/fake-embedder';

const noGpu: GpuWatch = { lost: undefined, devices: 0, whenLost: new Promise(() => undefined), expected: (work) => work() };
const token = (t: string, p: number) => ({ token: t, logprob: Math.log(p), bytes: null, top_logprobs: [{ token: t, logprob: Math.log(p), bytes: null }] });

function streamingEngine(): LocalEngine & { streamed: LocalChatRequest[]; chats: number } {
  const base = { id: 's', object: 'chat.completion.chunk' as const, created: 1, model: 'lm' };
  const engine = {
    id: 'fake:lm',
    kind: 'transformers' as const,
    streamed: [] as LocalChatRequest[],
    chats: 0,
    async load() {},
    async unload() {},
    status: (): LocalEngineStatus => ({ state: 'ready', modelId: 'lm', logprobs: true, multipleChoices: false, streaming: true }),
    async chat(): Promise<ChatCompletion> {
      engine.chats++;
      return {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'lm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop', logprobs: null }],
      };
    },
    async *chatStream(request: LocalChatRequest): AsyncIterable<ChatCompletionChunk> {
      engine.streamed.push(request);
      yield { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
      yield { ...base, choices: [{ index: 0, delta: { content: '4' }, finish_reason: null, logprobs: { content: [token('4', 0.5)] } }] };
      yield { ...base, choices: [{ index: 0, delta: { content: '2' }, finish_reason: null, logprobs: { content: [token('2', 0.25)] } }] };
      yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'length' }] };
      yield { ...base, choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } };
    },
  };
  return engine;
}

/** A worker API over the streaming engine, configured with a local model. */
async function streamingApi() {
  const engine = streamingEngine();
  const state = createWorkerHostState({
    gpu: noGpu,
    context: { scriptUrl: 'https://site.test/assets/edgeroute.worker.js' },
    openStore: () => {
      throw new Error('no storage in this test');
    },
    createEmbedder: async () => {
      const embedder = createFakeEmbedder();
      return { embedder, status: { id: embedder.id, dimension: embedder.dimension, backend: 'cpu', loadMillis: 0 } };
    },
    createLocalEngine: async () => engine,
  });
  const api = createWorkerApi(state);
  await api.configure({ embedder: { kind: 'use', modelUrl: '/m/model.json', vocabUrl: '/m/vocab.json' }, local: { kind: 'prompt-api' } });
  return { engine, api };
}

describe('generate with onChunk', () => {
  it('streams the chunks and assembles the completion the confidence is measured on', async () => {
    const { engine, api } = await streamingApi();
    const chunks: ChatCompletionChunk[] = [];
    const result = await api.generate({ messages: [{ role: 'user', content: 'What is 40 + 2?' }], max_tokens: 2 }, {}, (c) => {
      chunks.push(c);
    });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? null)).toEqual(['', '4', '2', null, null]);
    expect(engine.streamed[0]).toMatchObject({ stream: true, logprobs: true, top_logprobs: 1, max_tokens: 2 });
    expect(engine.chats).toBe(0);
    expect(result.completion.choices[0]).toMatchObject({ message: { role: 'assistant', content: '42' }, finish_reason: 'length' });
    expect(result.completion.choices[0]!.logprobs!.content).toHaveLength(2);
    expect(result.completion.usage).toEqual({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });
    expect(result.confidence.method).toBe('mean-logprob');
    expect(result.confidence.score).toBeCloseTo((Math.log(0.5) + Math.log(0.25)) / 2, 9);
    // Without onChunk, chat() as before.
    await api.generate({ messages: [{ role: 'user', content: 'hi' }] });
    expect(engine.chats).toBeGreaterThan(0);
    expect(engine.streamed).toHaveLength(1);
  });

  it('resolves only once the page has taken every chunk (they travel on another port than the result)', async () => {
    const { api } = await streamingApi();
    // As a comlink proxy behaves: each call answers later, the last ones latest.
    const taken: number[] = [];
    let n = 0;
    const slowPage = (): Promise<void> => {
      const i = n++;
      return new Promise((resolve) =>
        setTimeout(
          () => {
            taken.push(i);
            resolve();
          },
          5 * (6 - i),
        ),
      );
    };
    await api.generate({ messages: [{ role: 'user', content: 'What is 40 + 2?' }], max_tokens: 2 }, {}, slowPage);
    expect(taken.sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
