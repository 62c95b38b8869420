import { describe, expect, it } from 'vitest';
import { agreementConfidence } from '../../../src/core/confidence';
import { EdgeRouteError } from '../../../src/common/errors';
import { sampleAnswers, type LoadProgress } from '../../../src/worker/engines/local-engine';
import {
  isPromptApiAvailable,
  promptApiAvailability,
  PromptApiEngine,
  type LanguageModelCreateOptions,
  type LanguageModelMonitor,
  type LanguageModelParams,
  type LanguageModelSession,
  type LanguageModelStatic,
  type PromptApiAvailability,
} from '../../../src/worker/engines/prompt-api-engine';
import type { ChatCompletionChunk, LocalChatRequest as ChatCompletionRequest } from '../../../src/common/openai';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const abortError = () => new DOMException('The operation was aborted.', 'AbortError');

/** Splits text into stream pieces of `size` characters. */
const pieces = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

/** A fake of Chrome's LanguageModel global, recording what edgeroute asks of it. */
class FakeLanguageModel implements LanguageModelStatic {
  availabilityResult: PromptApiAvailability = 'downloadable';
  createError: unknown;
  readonly creates: Omit<LanguageModelCreateOptions, 'monitor' | 'signal'>[] = [];
  readonly prompts: string[] = [];
  destroyed = 0;
  #answer = 0;

  constructor(
    private readonly answers: string[] = ['Paris is the capital of France.'],
    private readonly opts: { promptMs?: number; streamPieces?: string[] } = {},
  ) {}

  async availability(): Promise<PromptApiAvailability> {
    return this.availabilityResult;
  }

  async params(): Promise<LanguageModelParams> {
    return { defaultTopK: 3, maxTopK: 128, defaultTemperature: 1, maxTemperature: 2 };
  }

  async create(options: LanguageModelCreateOptions = {}): Promise<LanguageModelSession> {
    const { monitor, signal, ...rest } = options;
    this.creates.push(rest);
    if (signal?.aborted) throw abortError();
    if (this.createError) throw this.createError;
    if (monitor && this.availabilityResult !== 'available') {
      const target = new EventTarget();
      monitor(target as unknown as LanguageModelMonitor);
      for (const loaded of [0, 0.5, 1]) target.dispatchEvent(Object.assign(new Event('downloadprogress'), { loaded, total: 1 }));
    }
    const fake = this;
    return {
      async prompt(input, o) {
        fake.prompts.push(input);
        const answer = fake.answers[fake.#answer++ % fake.answers.length]!;
        if (!fake.opts.promptMs) return answer;
        return new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => resolve(answer), fake.opts.promptMs);
          o?.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(abortError());
          });
        });
      },
      promptStreaming(input, o) {
        fake.prompts.push(input);
        const parts = fake.opts.streamPieces ?? pieces(fake.answers[0]!, 4);
        let i = 0;
        return new ReadableStream<string>({
          async pull(controller) {
            if (fake.opts.promptMs) await sleep(fake.opts.promptMs);
            if (o?.signal?.aborted) return controller.error(abortError());
            if (i < parts.length) controller.enqueue(parts[i++]!);
            else controller.close();
          },
        });
      },
      destroy() {
        fake.destroyed++;
      },
    };
  }
}

async function loadedEngine(fake = new FakeLanguageModel()) {
  const engine = new PromptApiEngine({ languageModel: fake });
  await engine.load();
  return { engine, fake };
}

async function rejection(p: Promise<unknown>): Promise<EdgeRouteError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EdgeRouteError);
    return e as EdgeRouteError;
  }
  throw new Error('expected a rejection');
}

const history: ChatCompletionRequest = {
  messages: [
    { role: 'system', content: 'Answer in one sentence.' },
    { role: 'user', content: 'Capital of Spain?' },
    { role: 'assistant', content: 'Madrid.' },
    { role: 'user', content: 'And of France?' },
  ],
};

describe('feature detection', () => {
  it('is false without the LanguageModel global (Node, our test Chromium)', async () => {
    expect(isPromptApiAvailable()).toBe(false);
    expect(isPromptApiAvailable({})).toBe(false);
    expect(isPromptApiAvailable({ LanguageModel: {} })).toBe(false);
    expect(await promptApiAvailability({})).toBe('unavailable');
  });

  it('is true with a LanguageModel global, and reports its availability', async () => {
    const scope = { LanguageModel: new FakeLanguageModel() };
    expect(isPromptApiAvailable(scope)).toBe(true);
    expect(await promptApiAvailability(scope)).toBe('downloadable');
    const broken = { LanguageModel: { availability: () => Promise.reject(new Error('x')), create: () => Promise.reject(new Error('x')) } };
    expect(await promptApiAvailability(broken)).toBe('unavailable');
  });

  it('an engine without the API fails to load with an actionable error', async () => {
    const e = await rejection(new PromptApiEngine().load());
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/LanguageModel global.*web-llm engine or the cloud model/);
  });
});

describe('loading', () => {
  it('forwards download progress and reports no log-probs', async () => {
    const fake = new FakeLanguageModel();
    const engine = new PromptApiEngine({ languageModel: fake, languages: ['en', 'es'] });
    const progress: LoadProgress[] = [];
    await engine.load({ onProgress: (p) => progress.push(p) });
    expect(progress.map((p) => p.progress)).toEqual([0, 0.5, 1]);
    expect(progress[1]!.text).toMatch(/50%/);
    expect(fake.creates[0]).toEqual({
      expectedInputs: [{ type: 'text', languages: ['en', 'es'] }],
      expectedOutputs: [{ type: 'text', languages: ['en', 'es'] }],
    });
    expect(engine.id).toBe('prompt-api:built-in');
    expect(engine.status()).toMatchObject({ state: 'ready', logprobs: false, multipleChoices: false, streaming: true });
  });

  it('an unavailable model fails with a pointer to chrome://on-device-internals', async () => {
    const fake = new FakeLanguageModel();
    fake.availabilityResult = 'unavailable';
    const engine = new PromptApiEngine({ languageModel: fake });
    const e = await rejection(engine.load());
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/on-device-internals/);
    expect(engine.status()).toMatchObject({ state: 'failed', error: { code: 'local-engine-failed' } });
  });

  it('a download without user activation says to load from a click', async () => {
    const fake = new FakeLanguageModel();
    fake.createError = new DOMException('Requires user activation', 'NotAllowedError');
    const e = await rejection(new PromptApiEngine({ languageModel: fake }).load());
    expect(e.message).toMatch(/user gesture.*click handler/);
  });

  it('an aborted load rejects with aborted and leaves the engine unloaded', async () => {
    const engine = new PromptApiEngine({ languageModel: new FakeLanguageModel() });
    const e = await rejection(engine.load({ signal: AbortSignal.abort() }));
    expect(e.code).toBe('aborted');
    expect(engine.status().state).toBe('unloaded');
  });
});

describe('chat', () => {
  it('answers in a fresh session seeded with the conversation, without log-probs', async () => {
    const { engine, fake } = await loadedEngine();
    const c = await engine.chat(history);
    expect(fake.creates[1]!.initialPrompts).toEqual(history.messages.slice(0, 3));
    expect(fake.prompts).toEqual(['And of France?']);
    expect(c).toMatchObject({ object: 'chat.completion', model: 'built-in' });
    expect(c.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Paris is the capital of France.' }, finish_reason: 'stop', logprobs: null },
    ]);
    expect(fake.destroyed).toBe(1); // the per-request session, not the base one
    expect(structuredClone(c)).toEqual(c);
  });

  it('maps temperature to session sampling parameters (topK 1 for greedy)', async () => {
    const { engine, fake } = await loadedEngine();
    await engine.chat({ ...history, temperature: 0 });
    await engine.chat({ ...history, temperature: 0.7 });
    await engine.chat(history);
    expect(fake.creates.slice(1).map((c) => [c.temperature, c.topK])).toEqual([
      [0, 1],
      [0.7, 3],
      [undefined, undefined],
    ]);
  });

  it('applies stop sequences itself', async () => {
    const { engine } = await loadedEngine(new FakeLanguageModel(['Paris.\n\nAlso: Lyon is big.']));
    const c = await engine.chat({ ...history, stop: '\n\n' });
    expect(c.choices[0]!.message.content).toBe('Paris.');
  });

  it('rejects n > 1 (one answer per call) and chat before load', async () => {
    const { engine } = await loadedEngine();
    const e = await rejection(engine.chat({ ...history, n: 3 }));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toMatch(/sampleAnswers/);
    const cold = new PromptApiEngine({ languageModel: new FakeLanguageModel() });
    expect((await rejection(cold.chat(history))).message).toMatch(/call load\(\)/);
  });

  it('confidence comes from agreement among sequential samples', async () => {
    const { engine, fake } = await loadedEngine(new FakeLanguageModel(['Paris.', 'Paris.', 'Lyon.']));
    const answers = await sampleAnswers(engine, history, 3);
    expect(fake.creates.slice(1).map((c) => [c.temperature, c.topK])).toEqual([
      [0.7, 3],
      [0.7, 3],
      [0.7, 3],
    ]);
    expect(answers.map((a) => [a.index, a.message.content, a.logprobs])).toEqual([
      [0, 'Paris.', null],
      [1, 'Paris.', null],
      [2, 'Lyon.', null],
    ]);
    // Stand-in embeddings: one axis per distinct answer text.
    const embed = (t: string | null) => Float32Array.from([t === 'Paris.' ? 1 : 0, t === 'Lyon.' ? 1 : 0]);
    const confidence = agreementConfidence(
      answers.map((a) => ({ embedding: embed(a.message.content) })),
      { similarityThreshold: 0.9 },
    );
    expect(confidence).toBeCloseTo(2 / 3, 12);
  });

  it('abort rejects with aborted and frees the session', async () => {
    const { engine, fake } = await loadedEngine(new FakeLanguageModel(['slow'], { promptMs: 50 }));
    const controller = new AbortController();
    const pending = engine.chat(history, { signal: controller.signal });
    await sleep(5);
    controller.abort();
    expect((await rejection(pending)).code).toBe('aborted');
    expect(fake.destroyed).toBe(1);
  });

  it('maps a too-long prompt', async () => {
    const fake = new FakeLanguageModel();
    const { engine } = await loadedEngine(fake);
    fake.createError = new DOMException('The input is too large.', 'QuotaExceededError');
    const e = await rejection(engine.chat(history));
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/too long.*cloud model/);
  });
});

describe('chatStream', () => {
  async function collect(it: AsyncIterable<ChatCompletionChunk>) {
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of it) chunks.push(c);
    return chunks;
  }
  const text = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

  it('streams deltas as OpenAI chunks', async () => {
    const { engine } = await loadedEngine();
    const chunks = await collect(engine.chatStream(history));
    expect(text(chunks)).toBe('Paris is the capital of France.');
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-1)!.choices[0]).toMatchObject({ finish_reason: 'stop', delta: {} });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('cuts at a stop sequence split across pieces, without leaking its start', async () => {
    const fake = new FakeLanguageModel(['unused'], { streamPieces: ['The answer', ' is 42\n', '\nMore text', ' here'] });
    const { engine } = await loadedEngine(fake);
    const chunks = await collect(engine.chatStream({ ...history, stop: ['\n\n'] }));
    expect(text(chunks)).toBe('The answer is 42');
    expect(chunks.every((c) => !(c.choices[0]?.delta.content ?? '').includes('\n'))).toBe(true);
    expect(fake.destroyed).toBe(1);
  });

  it('abort while streaming throws aborted from the iteration', async () => {
    const { engine } = await loadedEngine(new FakeLanguageModel(['a long answer that streams slowly'], { promptMs: 3 }));
    const controller = new AbortController();
    let n = 0;
    const e = await rejection(
      (async () => {
        for await (const _ of engine.chatStream(history, { signal: controller.signal })) if (++n === 2) controller.abort();
      })(),
    );
    expect(e.code).toBe('aborted');
  });
});

describe('unload', () => {
  it('destroys the base session', async () => {
    const { engine, fake } = await loadedEngine();
    await engine.unload();
    expect(fake.destroyed).toBe(1);
    expect(engine.status().state).toBe('unloaded');
  });
});
