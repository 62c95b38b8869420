import {
  prebuiltAppConfig,
  type ChatCompletion as WebLlmChatCompletion,
  type ChatCompletionChunk as WebLlmChatCompletionChunk,
  type ChatCompletionRequest as WebLlmChatRequest,
  type ChatCompletionTokenLogprob,
  type ChatOptions as WebLlmChatOptions,
  type InitProgressCallback,
  type MLCEngine,
  type MLCEngineConfig,
} from '@mlc-ai/web-llm';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { answerConfidence, meanLogProb } from '../../../src/core/confidence';
import { EdgeRouteError } from '../../../src/common/errors';
import { sampleAnswers, type LoadProgress } from '../../../src/worker/engines/local-engine';
import { mapWebLlmError, selectWebLlmModel, toLoadProgress, webLlmModelId, WebLlmEngine, type MLCEngineLike } from '../../../src/worker/engines/webllm-engine';
import type { ChatCompletionChunk, LocalChatRequest as ChatCompletionRequest } from '../../../src/common/openai';

const F16 = { shaderF16: true };
const F32 = { shaderF16: false };
const modelList = prebuiltAppConfig.model_list;

// ---------------------------------------------------------------------------------------------
// A fake MLCEngine that behaves like web-llm 0.2.86 where the adapter depends on it.

class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** web-llm's real message texts, for realistic error-mapping tests. */
const webLlmErrors = {
  webgpu: () => new NamedError('WebGPUNotAvailableError', 'WebGPU is not supported in your current environment, but it is necessary to run the WebLLM engine.'),
  deviceLost: () =>
    new NamedError('DeviceLostError', 'The WebGPU device was lost while loading the model. This issue often occurs due to running out of memory (OOM).'),
  shaderF16: () => new NamedError('ShaderF16SupportError', 'This model requires WebGPU extension shader-f16, which is not enabled in this browser.'),
  notFound: (id: string) => new NamedError('ModelNotFoundError', `Cannot find model record in appConfig for ${id}. Please check if the model ID is correct.`),
  context: () =>
    new NamedError('ContextWindowSizeExceededError', 'Prompt tokens exceed context window size: number of prompt tokens: 5000; context window size: 4096'),
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Deterministic realistic log-probs: mostly confident, one uncertain token. */
function tokenLogprob(token: string, i: number, topK: number): ChatCompletionTokenLogprob {
  const logprob = i === 2 ? -1.2 : -0.05 * (i + 1);
  const bytes = Array.from(new TextEncoder().encode(token));
  const alternatives = [
    { token, bytes, logprob },
    { token: ' the', bytes: [32, 116, 104, 101], logprob: logprob - 1.5 },
    { token: ' a', bytes: [32, 97], logprob: logprob - 2.5 },
    { token: '.', bytes: [46], logprob: logprob - 3 },
    { token: '\n', bytes: [10], logprob: logprob - 4 },
  ];
  return { token, bytes, logprob, top_logprobs: alternatives.slice(0, topK) };
}

interface FakeOptions {
  answers?: string[][];
  reloadError?: unknown;
  generateError?: unknown;
  /** reload() waits for this (or for unload(), which aborts it as web-llm does). */
  reloadGate?: Promise<void>;
  stepMs?: number;
}

class FakeMLCEngine implements MLCEngineLike {
  readonly requests: WebLlmChatRequest[] = [];
  readonly reloads: { modelId: string; chatOpts: WebLlmChatOptions | undefined }[] = [];
  unloadCalls = 0;
  interruptCalls = 0;
  loaded: string | undefined;
  progressCallback: InitProgressCallback | undefined;
  readonly chat = { completions: { create: (r: WebLlmChatRequest) => this.create(r) } };
  #interrupted = false;
  #answer = 0;
  #abortReload: (() => void) | undefined;
  #lock: Promise<void> = Promise.resolve();

  constructor(
    readonly config: MLCEngineConfig,
    private readonly opts: FakeOptions = {},
  ) {
    this.progressCallback = config.initProgressCallback;
  }

  setInitProgressCallback(callback: InitProgressCallback): void {
    this.progressCallback = callback;
  }

  async reload(modelId: string, chatOpts?: WebLlmChatOptions): Promise<void> {
    this.reloads.push({ modelId, chatOpts });
    const report = this.progressCallback ?? (() => undefined);
    report({ progress: 0, timeElapsed: 0, text: 'Start to fetch params' });
    report({
      progress: 0.5,
      timeElapsed: 3,
      text: 'Fetching param cache[11/22]: 440MB fetched. 50% completed, 3 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
    });
    if (this.opts.reloadGate) {
      const aborted = new Promise<'aborted'>((r) => (this.#abortReload = () => r('aborted')));
      if ((await Promise.race([this.opts.reloadGate, aborted])) === 'aborted') return; // web-llm: silent
    }
    if (this.opts.reloadError) throw this.opts.reloadError;
    this.loaded = modelId;
    report({ progress: 1, timeElapsed: 4, text: 'Finish loading on WebGPU - apple' });
  }

  async unload(): Promise<void> {
    this.unloadCalls++;
    this.loaded = undefined;
    this.#abortReload?.();
  }

  interruptGenerate(): void {
    this.interruptCalls++;
    this.#interrupted = true;
  }

  #nextAnswer(): string[] {
    const answers = this.opts.answers ?? [['Paris', ' is', ' the', ' capital', '.']];
    return answers[this.#answer++ % answers.length]!;
  }

  /** One choice, one token per step, stopping on interrupt (finish_reason 'abort'). */
  async #generate(request: WebLlmChatRequest) {
    const tokens = this.#nextAnswer();
    const out: string[] = [];
    const lps: ChatCompletionTokenLogprob[] = [];
    let finish: 'stop' | 'abort' = 'stop';
    for (const [i, t] of tokens.entries()) {
      if (this.opts.stepMs) await sleep(this.opts.stepMs);
      if (this.#interrupted) {
        finish = 'abort';
        break;
      }
      out.push(t);
      // web-llm records token log-probs only when top_logprobs > 0.
      if (request.logprobs && (request.top_logprobs ?? 0) > 0) lps.push(tokenLogprob(t, i, request.top_logprobs!));
    }
    return { text: out.join(''), lps, finish };
  }

  async create(request: WebLlmChatRequest): Promise<WebLlmChatCompletion | AsyncIterable<WebLlmChatCompletionChunk>> {
    this.requests.push(structuredClone(request));
    if (!this.loaded) throw new NamedError('ModelNotLoadedError', 'Model not loaded before trying to complete ChatCompletionRequest.');
    if (request.stream && (request.n ?? 1) > 1) throw new NamedError('StreamingCountError', 'When streaming, `n` cannot be > 1.');
    if (this.opts.generateError) throw this.opts.generateError;
    const model = this.loaded;
    if (request.stream) return this.#stream(request, model);
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((r) => (release = r));
    await previous;
    try {
      this.#interrupted = false; // web-llm: an interrupt applies to the request running when raised
      const choices: WebLlmChatCompletion.Choice[] = [];
      for (let i = 0; i < (request.n ?? 1); i++) {
        const g = await this.#generate(request);
        choices.push({
          index: i,
          finish_reason: g.finish,
          message: { role: 'assistant', content: g.text },
          logprobs: request.logprobs ? { content: g.lps } : null,
        });
      }
      const completion = choices.reduce((s, c) => s + (c.logprobs?.content?.length ?? 0), 0);
      return {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: 1_750_000_000,
        model,
        choices,
        usage: {
          prompt_tokens: 12,
          completion_tokens: completion,
          total_tokens: 12 + completion,
          extra: { e2e_latency_s: 0.4, prefill_tokens_per_s: 300, decode_tokens_per_s: 40, time_to_first_token_s: 0.04, time_per_output_token_s: 0.025 },
        },
      };
    } finally {
      release();
    }
  }

  async *#stream(request: WebLlmChatRequest, model: string): AsyncGenerator<WebLlmChatCompletionChunk> {
    this.#interrupted = false;
    const tokens = this.#nextAnswer();
    const base = { id: 'chatcmpl-fake-stream', object: 'chat.completion.chunk' as const, created: 1_750_000_000, model };
    let finish: 'stop' | 'abort' = 'stop';
    for (const [i, t] of tokens.entries()) {
      if (this.opts.stepMs) await sleep(this.opts.stepMs);
      if (this.#interrupted) {
        finish = 'abort';
        break;
      }
      yield {
        ...base,
        choices: [
          {
            index: 0,
            delta: { role: 'assistant', content: t },
            finish_reason: null,
            logprobs: request.logprobs ? { content: [tokenLogprob(t, i, request.top_logprobs ?? 0)] } : null,
          },
        ],
      };
    }
    yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] };
    yield {
      ...base,
      choices: [],
      usage: {
        prompt_tokens: 12,
        completion_tokens: tokens.length,
        total_tokens: 12 + tokens.length,
        extra: { e2e_latency_s: 0.4, prefill_tokens_per_s: 300, decode_tokens_per_s: 40, time_to_first_token_s: 0.04, time_per_output_token_s: 0.025 },
      },
    };
  }
}

function setup(model = 'Llama-3.2-1B-Instruct', gpu = F16, opts: FakeOptions = {}) {
  const created: { modelId: string; config: MLCEngineConfig }[] = [];
  let fake: FakeMLCEngine | undefined;
  const engine = new WebLlmEngine({
    model,
    gpu,
    appConfig: prebuiltAppConfig,
    createEngine: async (modelId, config) => {
      created.push({ modelId, config });
      fake = new FakeMLCEngine(config, opts);
      return fake;
    },
  });
  return { engine, created, fake: () => fake! };
}

async function loaded(model?: string, gpu?: { shaderF16: boolean }, opts?: FakeOptions) {
  const s = setup(model, gpu, opts);
  await s.engine.load();
  return { ...s, fake: s.fake() };
}

const ask = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  messages: [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content },
  ],
  ...extra,
});

async function rejection(p: Promise<unknown>): Promise<EdgeRouteError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EdgeRouteError);
    return e as EdgeRouteError;
  }
  throw new Error('expected a rejection');
}

// ---------------------------------------------------------------------------------------------

describe('web-llm types', () => {
  it("web-llm's MLCEngine satisfies MLCEngineLike", () => {
    expectTypeOf<MLCEngine>().toExtend<MLCEngineLike>();
  });
});

describe('model selection', () => {
  it('picks q4f16_1 with shader-f16 and q4f32_1 without, from the real prebuilt list', () => {
    expect(selectWebLlmModel('Llama-3.2-1B-Instruct', F16, modelList).model_id).toBe('Llama-3.2-1B-Instruct-q4f16_1-MLC');
    expect(selectWebLlmModel('Llama-3.2-1B-Instruct', F32, modelList).model_id).toBe('Llama-3.2-1B-Instruct-q4f32_1-MLC');
    expect(selectWebLlmModel('Qwen2.5-0.5B-Instruct', F16, modelList).model_id).toBe('Qwen2.5-0.5B-Instruct-q4f16_1-MLC');
    expect(selectWebLlmModel('SmolLM2-360M-Instruct', F32, modelList).model_id).toBe('SmolLM2-360M-Instruct-q4f32_1-MLC');
  });

  it('takes an exact model id as given, but refuses an f16 build without shader-f16', () => {
    expect(selectWebLlmModel('Phi-3.5-mini-instruct-q4f32_1-MLC-1k', F16, modelList).model_id).toBe('Phi-3.5-mini-instruct-q4f32_1-MLC-1k');
    expect(webLlmModelId('Llama-3.2-1B-Instruct-q4f32_1-MLC', F16)).toBe('Llama-3.2-1B-Instruct-q4f32_1-MLC');
    const e = (() => {
      try {
        webLlmModelId('Llama-3.2-1B-Instruct-q4f16_1-MLC', F32);
      } catch (err) {
        return err as EdgeRouteError;
      }
      throw new Error('expected a throw');
    })();
    expect(e.code).toBe('webgpu-unavailable');
    expect(e.message).toContain('Llama-3.2-1B-Instruct-q4f32_1-MLC');
  });

  it('names the builds that exist when the wanted one is missing', () => {
    // gemma3-1b-it has only a q4f16_1 build.
    expect(() => selectWebLlmModel('gemma3-1b-it', F32, modelList)).toThrow(/gemma3-1b-it-q4f16_1-MLC.*shader-f16/);
    expect(() => selectWebLlmModel('Nope-7B-Instruct', F16, modelList)).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringMatching(/prebuiltAppConfig\.model_list/) }),
    );
    expect(() => selectWebLlmModel('snowflake-arctic-embed-m-q0f32-MLC-b32', F16, modelList)).toThrow(/embedding model/);
  });

  it('the engine id names the exact build, and a bad family fails at construction', () => {
    expect(setup('Llama-3.2-1B-Instruct', F16).engine.id).toBe('web-llm:Llama-3.2-1B-Instruct-q4f16_1-MLC');
    expect(setup('Llama-3.2-1B-Instruct', F32).engine.modelId).toBe('Llama-3.2-1B-Instruct-q4f32_1-MLC');
    expect(() => setup('gemma3-1b-it', F32)).toThrow(EdgeRouteError);
  });
});

describe('loading', () => {
  it('creates the engine, reloads the chosen model and forwards progress', async () => {
    const { engine, created, fake } = setup('Qwen2.5-0.5B-Instruct', F32);
    const progress: LoadProgress[] = [];
    expect(engine.status().state).toBe('unloaded');
    await engine.load({ onProgress: (p) => progress.push(p) });
    expect(created).toHaveLength(1);
    expect(created[0]!.modelId).toBe('Qwen2.5-0.5B-Instruct-q4f32_1-MLC');
    expect(created[0]!.config.appConfig).toBe(prebuiltAppConfig);
    expect(fake().reloads).toEqual([{ modelId: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC', chatOpts: undefined }]);
    expect(progress.map((p) => p.progress)).toEqual([0, 0.5, 1]);
    expect(progress[1]!.loadedBytes).toBe(440 * 1024 * 1024);
    expect(progress[1]!.totalBytes).toBe(880 * 1024 * 1024);
    expect(progress[2]!.text).toMatch(/Finish loading/);
    const status = engine.status();
    expect(status).toMatchObject({ state: 'ready', modelId: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC', logprobs: true, multipleChoices: true, streaming: true });
    expect(status.progress?.progress).toBe(1);
    expect(structuredClone(status)).toEqual(status); // crosses the worker boundary
    await engine.load(); // already loaded: no second reload
    expect(fake().reloads).toHaveLength(1);
  });

  it("without appConfig, selects from web-llm's prebuiltAppConfig (lazy import)", async () => {
    const configs: MLCEngineConfig[] = [];
    const engine = new WebLlmEngine({
      model: 'SmolLM2-360M-Instruct',
      gpu: F16,
      createEngine: async (_id, config) => {
        configs.push(config);
        return new FakeMLCEngine(config);
      },
    });
    expect(engine.modelId).toBe('SmolLM2-360M-Instruct-q4f16_1-MLC');
    await engine.load();
    expect(configs[0]!.appConfig!.model_list.some((r) => r.model_id === engine.modelId)).toBe(true);
  });

  it('clamps odd progress values', () => {
    expect(toLoadProgress({ progress: 1.2, timeElapsed: 0, text: 'x' })).toEqual({ progress: 1, text: 'x' });
    expect(toLoadProgress({ progress: NaN, timeElapsed: 0, text: 'x' }).progress).toBe(0);
    expect(toLoadProgress({ progress: 0, timeElapsed: 0, text: 'Loading model from cache[1/22]: 20MB loaded. 0% completed' })).toEqual({
      progress: 0,
      text: 'Loading model from cache[1/22]: 20MB loaded. 0% completed',
      loadedBytes: 20 * 1024 * 1024,
    });
  });

  it('abort during load unloads (which cancels web-llm downloads) and rejects with aborted', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { engine, fake } = setup('Llama-3.2-1B-Instruct', F16, { reloadGate: gate });
    const controller = new AbortController();
    const loading = engine.load({ signal: controller.signal });
    await sleep(5);
    expect(engine.status().state).toBe('loading');
    controller.abort();
    const e = await rejection(loading);
    expect(e.code).toBe('aborted');
    expect(fake().unloadCalls).toBeGreaterThanOrEqual(1);
    expect(engine.status().state).toBe('unloaded');
    open();
    // A later load works and reuses the engine.
    await engine.load();
    expect(engine.status().state).toBe('ready');
    expect(fake().reloads).toHaveLength(2);
  });

  it('an already-aborted signal never starts a load', async () => {
    const { engine, created } = setup();
    const e = await rejection(engine.load({ signal: AbortSignal.abort() }));
    expect(e.code).toBe('aborted');
    expect(created).toHaveLength(0);
  });

  it('unload() during load cuts it off', async () => {
    const gate = new Promise<void>(() => undefined); // never opens
    const { engine } = setup('Llama-3.2-1B-Instruct', F16, { reloadGate: gate });
    const loading = engine.load();
    await sleep(5);
    await engine.unload();
    expect((await rejection(loading)).code).toBe('aborted');
    expect(engine.status().state).toBe('unloaded');
  });

  it.each([
    ['WebGPU unavailable', webLlmErrors.webgpu(), 'webgpu-unavailable', /WebGPU is unavailable.*cloud/],
    ['shader-f16 missing', webLlmErrors.shaderF16(), 'webgpu-unavailable', /gpu\.shaderF16/],
    ['device lost (OOM)', webLlmErrors.deviceLost(), 'local-engine-failed', /out of GPU memory.*smaller model/],
    ['model not in list', webLlmErrors.notFound('X-q4f16_1-MLC'), 'local-engine-failed', /prebuiltAppConfig\.model_list/],
    ['download failure', new TypeError('Failed to fetch'), 'local-engine-failed', /Could not download.*CORS/],
    ['quota', new DOMException('Quota exceeded', 'QuotaExceededError'), 'storage-quota', /storage quota/],
  ] as const)('maps a load failure: %s', async (_label, error, code, message) => {
    const { engine } = setup('Llama-3.2-1B-Instruct', F16, { reloadError: error });
    const e = await rejection(engine.load());
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.cause).toBe(error);
    expect(engine.status()).toMatchObject({ state: 'failed', error: { code } });
  });

  it('maps a failing engine factory (e.g. the web-llm chunk did not load)', async () => {
    const engine = new WebLlmEngine({
      model: 'Llama-3.2-1B-Instruct',
      gpu: F16,
      appConfig: prebuiltAppConfig,
      createEngine: () => Promise.reject(new Error('boom')),
    });
    const e = await rejection(engine.load());
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/boom/);
  });

  it('chat before load says to call load()', async () => {
    const { engine } = setup();
    const e = await rejection(engine.chat(ask('Capital of France?')));
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/call load\(\)/);
  });
});

describe('request shape', () => {
  it('always asks for log-probs, with top_logprobs coerced to ≥ 1', async () => {
    const { engine, fake } = await loaded();
    await engine.chat(ask('a?'));
    await engine.chat(ask('b?', { logprobs: true, top_logprobs: 0 }));
    await engine.chat(ask('c?', { logprobs: true, top_logprobs: 3, temperature: 0.2, max_tokens: 64, seed: 7, stop: ['\n\n'], model: 'gpt-4o' }));
    expect(fake.requests.map((r) => [r.logprobs, r.top_logprobs])).toEqual([
      [true, 1],
      [true, 1],
      [true, 3],
    ]);
    expect(fake.requests[2]).toEqual({
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'c?' },
      ],
      logprobs: true,
      top_logprobs: 3,
      temperature: 0.2,
      max_tokens: 64,
      seed: 7,
      stop: ['\n\n'],
      stream: false,
    }); // `model` is not forwarded: web-llm rejects a model it has not loaded
  });

  it('rejects top_logprobs above web-llm’s 5', async () => {
    const { engine, fake } = await loaded();
    const e = await rejection(engine.chat(ask('a?', { logprobs: true, top_logprobs: 8 })));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toMatch(/≤ 5/);
    expect(fake.requests).toHaveLength(0);
  });

  it('sends n > 1 without streaming and returns n choices', async () => {
    const { engine, fake } = await loaded('Llama-3.2-1B-Instruct', F16, {
      answers: [
        ['Paris', '.'],
        ['Lyon', '.'],
        ['Paris', '!'],
      ],
    });
    const c = await engine.chat(ask('Capital of France?', { n: 3, temperature: 0.8 }));
    expect(fake.requests[0]).toMatchObject({ n: 3, stream: false, temperature: 0.8 });
    expect(c.choices.map((ch) => ch.message.content)).toEqual(['Paris.', 'Lyon.', 'Paris!']);
    expect(c.choices.map((ch) => ch.index)).toEqual([0, 1, 2]);
  });

  it('rejects streaming with n > 1, and chat() with stream: true, before calling web-llm', async () => {
    const { engine, fake } = await loaded();
    const e1 = await rejection(engine.chat(ask('a?', { n: 2, stream: true })));
    expect(e1.code).toBe('invalid-input');
    expect(e1.message).toMatch(/streams one choice.*n = 2.*without stream/);
    const e2 = await rejection(
      (async () => {
        for await (const _ of engine.chatStream(ask('a?', { n: 2 }))) void _;
      })(),
    );
    expect(e2.message).toMatch(/n = 2 cannot be streamed/);
    const e3 = await rejection(engine.chat(ask('a?', { stream: true })));
    expect(e3.message).toMatch(/chatStream/);
    expect(fake.requests).toHaveLength(0);
  });

  it('validates the request (invalid-input) before calling web-llm', async () => {
    const { engine, fake } = await loaded();
    const e = await rejection(engine.chat({ messages: [{ role: 'assistant', content: 'hi' }] }));
    expect(e.code).toBe('invalid-input');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('log-probs', () => {
  it('passes TokenLogprob arrays through, and answerConfidence scores them', async () => {
    const { engine } = await loaded();
    const c = await engine.chat(ask('Capital of France?'));
    expect(c).toMatchObject({ object: 'chat.completion', model: 'Llama-3.2-1B-Instruct-q4f16_1-MLC', id: 'chatcmpl-fake' });
    expect(c.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 }); // web-llm's `extra` dropped
    const choice = c.choices[0]!;
    expect(choice.message).toEqual({ role: 'assistant', content: 'Paris is the capital.' });
    expect(choice.finish_reason).toBe('stop');
    const tokens = choice.logprobs!.content!;
    expect(tokens.map((t) => t.token)).toEqual(['Paris', ' is', ' the', ' capital', '.']);
    expect(tokens.every((t) => t.top_logprobs.length >= 1)).toBe(true);
    const expected = (-0.05 - 0.1 - 1.2 - 0.2 - 0.25) / 5;
    expect(answerConfidence(tokens)).toBeCloseTo(expected, 12);
    expect(meanLogProb(tokens)).toBeCloseTo(expected, 12);
    expect(answerConfidence(tokens, { method: 'min-logprob' })).toBeCloseTo(-1.2, 12);
    expect(Number.isFinite(answerConfidence(tokens, { method: 'neg-entropy' }))).toBe(true);
    expect(structuredClone(c)).toEqual(c);
  });

  it('each of n choices carries its own log-probs', async () => {
    const { engine } = await loaded('Llama-3.2-1B-Instruct', F16, { answers: [['Yes'], ['No', '.']] });
    const c = await engine.chat(ask('Is it?', { n: 2 }));
    expect(c.choices.map((ch) => ch.logprobs!.content!.map((t) => t.token))).toEqual([['Yes'], ['No', '.']]);
  });

  it('treats an answer without log-probs as an engine failure (the LocalEngine contract)', async () => {
    const { engine, fake } = await loaded();
    const create = fake.chat.completions.create;
    // Simulate a web-llm that ignored our top_logprobs (as 0 would): content [] for a non-empty answer.
    fake.chat.completions.create = (r) => create({ ...r, top_logprobs: 0 });
    const e = await rejection(engine.chat(ask('a?')));
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/no token log-probabilities/);
  });

  it('sampleAnswers uses one n-choice call with a sampling temperature', async () => {
    const { engine, fake } = await loaded('Llama-3.2-1B-Instruct', F16, { answers: [['Paris'], ['Paris'], ['Lyon']] });
    const answers = await sampleAnswers(engine, ask('Capital of France?', { temperature: 0 }), 3);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ n: 3, temperature: 0.7, stream: false, logprobs: true, top_logprobs: 1 });
    expect(answers.map((a) => [a.index, a.message.content])).toEqual([
      [0, 'Paris'],
      [1, 'Paris'],
      [2, 'Lyon'],
    ]);
  });
});

describe('streaming', () => {
  it('streams OpenAI chunks with per-token log-probs and a usage chunk', async () => {
    const { engine, fake } = await loaded();
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of engine.chatStream(ask('Capital of France?'))) chunks.push(c);
    expect(fake.requests[0]).toMatchObject({ stream: true, stream_options: { include_usage: true }, logprobs: true, top_logprobs: 1 });
    expect(fake.requests[0]!.n).toBeUndefined();
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Paris is the capital.');
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks[0]!.choices[0]!.logprobs?.content?.[0]?.token).toBe('Paris');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
  });
});

describe('abort', () => {
  it('abort during generation calls interruptGenerate and rejects with aborted; the next request runs', async () => {
    const long = Array.from({ length: 40 }, (_, i) => ` t${i}`);
    const { engine, fake } = await loaded('Llama-3.2-1B-Instruct', F16, { answers: [long, ['Done']], stepMs: 2 });
    const controller = new AbortController();
    const pending = engine.chat(ask('Write a lot.'), { signal: controller.signal });
    await sleep(10);
    controller.abort();
    const e = await rejection(pending);
    expect(e.code).toBe('aborted');
    expect(fake.interruptCalls).toBe(1);
    const next = await engine.chat(ask('Short?'));
    expect(next.choices[0]!.message.content).toBe('Done');
    expect(next.choices[0]!.finish_reason).toBe('stop');
  });

  it('an already-aborted signal never reaches web-llm', async () => {
    const { engine, fake } = await loaded();
    const e = await rejection(engine.chat(ask('a?'), { signal: AbortSignal.abort() }));
    expect(e.code).toBe('aborted');
    expect(fake.requests).toHaveLength(0);
    expect(fake.interruptCalls).toBe(0);
  });

  it('aborting a queued request does not interrupt the one running', async () => {
    const { engine, fake } = await loaded('Llama-3.2-1B-Instruct', F16, { stepMs: 3 });
    const first = engine.chat(ask('first?'));
    const controller = new AbortController();
    const second = engine.chat(ask('second?'), { signal: controller.signal });
    await sleep(4);
    controller.abort();
    expect((await rejection(second)).code).toBe('aborted');
    const c = await first;
    expect(c.choices[0]!.finish_reason).toBe('stop');
    expect(fake.interruptCalls).toBe(0);
    expect(fake.requests).toHaveLength(1);
  });

  it('abort while streaming interrupts and throws aborted from the iteration', async () => {
    const long = Array.from({ length: 40 }, (_, i) => ` t${i}`);
    const { engine, fake } = await loaded('Llama-3.2-1B-Instruct', F16, { answers: [long], stepMs: 2 });
    const controller = new AbortController();
    let received = 0;
    const e = await rejection(
      (async () => {
        for await (const _ of engine.chatStream(ask('Write a lot.'), { signal: controller.signal })) {
          if (++received === 3) controller.abort();
        }
      })(),
    );
    expect(e.code).toBe('aborted');
    expect(received).toBe(3);
    expect(fake.interruptCalls).toBe(1);
    // The queue slot was released.
    await expect(engine.chat(ask('again?'))).resolves.toBeDefined();
  });
});

describe('generation errors', () => {
  it('maps a too-long prompt and keeps the engine ready', async () => {
    const { engine } = await loaded('Llama-3.2-1B-Instruct', F16, { generateError: webLlmErrors.context() });
    const e = await rejection(engine.chat(ask('long…')));
    expect(e.code).toBe('local-engine-failed');
    expect(e.message).toMatch(/context window.*cloud model/);
    expect(engine.status().state).toBe('ready');
  });

  it('a lost device marks the engine failed until it is loaded again', async () => {
    const { engine } = await loaded('Llama-3.2-1B-Instruct', F16, { generateError: new Error('GPUDevice lost: out of memory') });
    const e = await rejection(engine.chat(ask('a?')));
    expect(e.code).toBe('local-engine-failed');
    expect(engine.status()).toMatchObject({ state: 'failed', error: { code: 'local-engine-failed' } });
  });

  it('maps web-llm request errors to invalid-input', () => {
    const e = mapWebLlmError(new NamedError('SystemMessageOrderError', 'System prompt should always be the first message in `messages`.'), 'm', 'generating');
    expect(e.code).toBe('invalid-input');
    expect(mapWebLlmError(new NamedError('RangeError', 'Make sure 0 < top_p <= 1.'), 'm', 'generating').code).toBe('invalid-input');
    expect(mapWebLlmError(new DOMException('x', 'AbortError'), 'm', 'loading').code).toBe('aborted');
    expect(mapWebLlmError('weird', 'm', 'generating').message).toMatch(/web-llm failed while generating m: weird/);
  });
});

describe('unload', () => {
  it('interrupts, unloads web-llm and can load again', async () => {
    const { engine, fake } = await loaded();
    await engine.unload();
    expect(fake.interruptCalls).toBe(1);
    expect(fake.unloadCalls).toBe(1);
    expect(engine.status().state).toBe('unloaded');
    expect((await rejection(engine.chat(ask('a?')))).message).toMatch(/call load\(\)/);
    await engine.load();
    expect(engine.status().state).toBe('ready');
    expect((await engine.chat(ask('a?'))).choices).toHaveLength(1);
  });

  it('unload before any load is a no-op', async () => {
    const { engine } = setup();
    await expect(engine.unload()).resolves.toBeUndefined();
  });
});
