/**
 * The worker API over one state object, with fakes for the embedder, the local engine and the
 * GPU: what the host wires together, without a browser.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCode } from '../../src/common/errors';
import type { ChatCompletion, LocalChatRequest as ChatCompletionRequest } from '../../src/common/openai';
import { validateValidationSet, withCalibratedModel } from '../../src/common/validation-set';
import { createWorkerApi, createWorkerHostState, type WorkerHostState } from '../../src/worker/api';
import type { LoadedEmbedder } from '../../src/worker/engine-factory';
import type { LocalEngine, LocalEngineStatus } from '../../src/worker/engines/local-engine';
import type { GpuWatch } from '../../src/worker/gpu/gpu-watch';
import type { JobProgress, WorkerConfig } from '../../src/worker/protocol';
import { openKvStore } from '../../src/worker/storage/kv';
import { createFakeEmbedder, type FakeEmbedder } from '../helpers/fake-embedder';

const tiny = validateValidationSet(JSON.parse(readFileSync('test/fixtures/tiny-validation.json', 'utf8')));
const config: WorkerConfig = { embedder: { kind: 'use', modelUrl: '/m/model.json', vocabUrl: '/m/vocab.json' }, local: { kind: 'prompt-api' } };

const noGpu: GpuWatch = { lost: undefined, devices: 0, whenLost: new Promise(() => undefined), expected: (work) => work() };

/** A local engine answering "4" with fixed log-probabilities; `hold` makes chat wait for its signal. */
function fakeEngine(options: { logprobs?: boolean; hold?: boolean } = {}): LocalEngine & { chats: number } {
  let state: LocalEngineStatus['state'] = 'unloaded';
  const engine = {
    id: 'fake:lm',
    kind: 'transformers' as const,
    chats: 0,
    async load() {
      state = 'ready';
    },
    async unload() {
      state = 'unloaded';
    },
    status: (): LocalEngineStatus => ({ state, modelId: 'lm', logprobs: options.logprobs ?? true, multipleChoices: false, streaming: false }),
    async chat(_request: ChatCompletionRequest, o: { signal?: AbortSignal } = {}): Promise<ChatCompletion> {
      engine.chats++;
      if (options.hold) await new Promise((_, reject) => o.signal?.addEventListener('abort', () => reject(o.signal!.reason), { once: true }));
      const token = { token: '4', logprob: Math.log(0.5), bytes: null, top_logprobs: [{ token: '4', logprob: Math.log(0.5), bytes: null }] };
      return {
        id: 'c',
        object: 'chat.completion',
        created: 0,
        model: 'lm',
        choices: [{ index: 0, message: { role: 'assistant', content: '4' }, finish_reason: 'stop', logprobs: { content: [token, token] } }],
      };
    },
  };
  return engine;
}

let db = 0;
function setUp(
  engine: LocalEngine = fakeEngine(),
  dbName = `api-test-${db++}`,
): { state: WorkerHostState; embedderLoads: () => number; batches: () => number } {
  let loads = 0;
  const embedders: FakeEmbedder[] = [];
  const state = createWorkerHostState({
    gpu: noGpu,
    context: { scriptUrl: 'https://site.test/assets/edgeroute.worker.js' },
    openStore: () => openKvStore(dbName, 'profiles'),
    createEmbedder: async (): Promise<LoadedEmbedder> => {
      loads++;
      const embedder = createFakeEmbedder();
      embedders.push(embedder);
      return { embedder, status: { id: embedder.id, dimension: embedder.dimension, backend: 'cpu', loadMillis: 0 } };
    },
    createLocalEngine: async () => engine,
  });
  return { state, embedderLoads: () => loads, batches: () => embedders.reduce((n, e) => n + e.calls.batches, 0) };
}

describe('worker API over one state object', () => {
  it('needs configure() first, then loads the embedder once for concurrent callers', async () => {
    const { state, embedderLoads } = setUp();
    const api = createWorkerApi(state);
    expect(errorCode(await api.loadEmbedder().catch((e: unknown) => e))).toBe('invalid-config');
    await api.configure(config);
    const [a, b] = await Promise.all([api.loadEmbedder(), api.loadEmbedder()]);
    expect(a).toEqual(b);
    expect(embedderLoads()).toBe(1);
    expect(errorCode(await api.route('hello', 0).catch((e: unknown) => e))).toBe('invalid-config');
  });

  it('routes after prepareProfile, and a new embedder drops the profile', async () => {
    const { state, embedderLoads } = setUp();
    const api = createWorkerApi(state);
    await api.configure(config);
    const summary = await api.prepareProfile(tiny);
    expect(summary.prompts).toBe(40);
    const route = await api.route('What is 2 + 2?', 0);
    expect(Object.keys(route.predictedErrors)).toEqual(['llama3.2-1b', 'gpt-4o-mini', 'gpt-4o']);
    expect(route.chosenModel).toBe(Object.entries(route.predictedErrors).sort((x, y) => x[1] - y[1])[0]![0]);
    // The ranking crosses the boundary with the decision: best first, every candidate.
    expect(route.ranking?.[0]?.id).toBe(route.chosenModel);
    const cloudOnly = await api.route('What is 2 + 2?', 1e6, ['gpt-4o', 'gpt-4o-mini']);
    expect(cloudOnly.ranking?.map((r) => r.id)).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(cloudOnly.chosenModel).toBe('gpt-4o-mini');
    await api.configure({ ...config, embedder: { ...config.embedder, modelUrl: '/other/model.json' } as WorkerConfig['embedder'] });
    expect(state.profile).toBeUndefined();
    expect(errorCode(await api.route('What is 2 + 2?', 0).catch((e: unknown) => e))).toBe('invalid-config');
    await api.loadEmbedder();
    expect(embedderLoads()).toBe(2);
  });

  it('prepareProfile reports progress per embedded batch, counted in prompts, ending at total', async () => {
    const dbName = `api-test-${db++}`;
    const first = setUp(fakeEngine(), dbName);
    const api = createWorkerApi(first.state);
    await api.configure(config);
    const seen: JobProgress[] = [];
    await api.prepareProfile(tiny, {}, (p) => seen.push(p));
    const n = tiny.prompts.length;
    const embedding = seen.filter((p) => p.text === 'embedding');
    // One event before the first batch, then one per batch (32 prompts each by default).
    expect(embedding.map((p) => p.done)).toEqual([0, 32, 40]);
    expect(embedding.length - 1).toBe(first.batches());
    expect(seen.every((p) => p.total === n)).toBe(true);
    seen.slice(1).forEach((p, i) => expect(p.done).toBeGreaterThanOrEqual(seen[i]!.done));
    expect(seen.at(-1)).toEqual({ done: n, total: n, text: 'ready' });

    // A returning page (same store, new worker): the cache answers, and progress still ends at total.
    const second = setUp(fakeEngine(), dbName);
    const api2 = createWorkerApi(second.state);
    await api2.configure(config);
    const again: JobProgress[] = [];
    const summary = await api2.prepareProfile(tiny, {}, (p) => again.push(p));
    expect(summary.source).toBe('hit');
    expect(second.batches()).toBe(0);
    expect(again).toEqual([
      { done: 0, total: n, text: 'cache' },
      { done: n, total: n, text: 'ready' },
    ]);
  });

  it('a generation that arrives while the background load is creating the engine shares that engine and its load', async () => {
    let created = 0;
    const engine = fakeEngine();
    const slowLoad = engine.load.bind(engine);
    engine.load = async () => {
      await new Promise((r) => setTimeout(r, 20));
      await slowLoad();
    };
    const state = createWorkerHostState({
      gpu: noGpu,
      context: { scriptUrl: 'https://site.test/assets/edgeroute.worker.js' },
      openStore: () => openKvStore(`api-test-${db++}`, 'profiles'),
      createLocalEngine: async () => {
        created++;
        await new Promise((r) => setTimeout(r, 10));
        return engine;
      },
    });
    const api = createWorkerApi(state);
    await api.configure(config);
    const [status, answer] = await Promise.all([api.loadLocal(), api.generate({ messages: [{ role: 'user', content: 'q' }] })]);
    expect(status.state).toBe('ready');
    expect(answer.completion.choices[0]!.message.content).toBe('4');
    expect(created).toBe(1);
  });

  it('generate answers with the log-prob confidence, or sample agreement when asked', async () => {
    const engine = fakeEngine();
    const { state } = setUp(engine);
    const api = createWorkerApi(state);
    await api.configure(config);
    const request: ChatCompletionRequest = { messages: [{ role: 'user', content: 'What is 2 + 2?' }] };
    const plain = await api.generate(request);
    expect(plain.confidence).toEqual({ score: Math.log(0.5), method: 'mean-logprob' });
    const sampled = await api.generate(request, { samples: 3 });
    expect(sampled.confidence).toMatchObject({ method: 'sample-agreement', samples: 3, score: 1 });
    expect(sampled.confidence.semanticEntropy).toBeCloseTo(0, 9);
    expect(engine.chats).toBe(1 + 1 + 3);
  });

  it('cancel(jobId) stops a running generation with aborted', async () => {
    const { state } = setUp(fakeEngine({ hold: true }));
    const api = createWorkerApi(state);
    await api.configure(config);
    const running = api.generate({ messages: [{ role: 'user', content: 'hi' }] }, { jobId: 'g1' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    api.cancel('g1');
    expect(errorCode(await running.catch((e: unknown) => e))).toBe('aborted');
    expect(state.jobs.size).toBe(0);
  });

  it('measureLocalModel grades the local model, records its confidences, and the route then carries its escalation rule', async () => {
    // The tiny set twice over (80 prompts, enough for the rule's cross-validation), without Llama.
    const set = validateValidationSet({
      ...tiny,
      models: tiny.models.filter((m) => m.id !== 'llama3.2-1b'),
      prompts: [...tiny.prompts, ...tiny.prompts.map((p) => ({ ...p, id: `${p.id}#2` }))].map(({ confidences: _c, ...p }) => {
        const { 'llama3.2-1b': _s, ...scores } = p.scores;
        return { ...p, scores };
      }),
    });
    const references = new Map(set.prompts.map((p, i) => [p.prompt, { reference: p.reference, right: i % 3 !== 0 }]));
    // Right on two prompts in three, and surer when right.
    const engine: LocalEngine & { chats: number } = {
      ...fakeEngine(),
      async chat(request) {
        engine.chats++;
        const { reference, right } = references.get(String(request.messages.at(-1)!.content))!;
        const letter = right ? reference! : 'ABCD'.replace(reference ?? 'A', '')[0]!;
        const token = { token: letter, logprob: right ? -0.05 : -1.8, bytes: null, top_logprobs: [] };
        return {
          id: 'c',
          object: 'chat.completion',
          created: 0,
          model: 'lm',
          choices: [{ index: 0, message: { role: 'assistant', content: letter }, finish_reason: 'stop', logprobs: { content: [token] } }],
        };
      },
    };
    const { state } = setUp(engine);
    const api = createWorkerApi(state);
    await api.configure(config);
    expect((await api.prepareProfile(set)).escalation).toEqual([]);
    const summary = await api.measureLocalModel({ id: 'on-device' });
    expect(summary.models.find((m) => m.id === 'on-device')).toMatchObject({ local: true, origin: 'added' });
    const [escalation] = summary.escalation;
    expect(escalation).toMatchObject({ localModelId: 'on-device', rule: { confidenceKind: 'mean-logprob', prompts: 78 } });
    // What to ship with the profile: the same scores and confidences, so the rule comes back on a later visit.
    expect(summary.measured).toMatchObject({ id: 'on-device', cost: 0, local: true, confidenceKind: 'mean-logprob' });
    expect(Object.keys(summary.measured.scores)).toHaveLength(78);
    expect(Object.values(summary.measured.confidences!).every((c) => c === -0.05 || c === -1.8)).toBe(true);
    const shipped = withCalibratedModel(set, summary.measured);
    const { state: later } = setUp(fakeEngine());
    const api2 = createWorkerApi(later);
    await api2.configure(config);
    expect((await api2.prepareProfile(shipped)).escalation).toEqual([escalation]);
    // The pool of the summary's rule (the local model and every cloud model); another pool gets its own fit.
    const route = await api.route(tiny.prompts[0]!.prompt, 0, ['on-device', 'gpt-4o-mini', 'gpt-4o']);
    expect(route.escalationRule).toMatchObject({ localModelId: 'on-device', confidenceKind: 'mean-logprob', name: escalation!.rule!.name });
  });
});
