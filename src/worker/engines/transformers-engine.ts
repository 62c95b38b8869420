/**
 * LocalEngine over a transformers.js causal LM (AutoTokenizer + AutoModelForCausalLM, ONNX on
 * WebGPU / WASM, or onnxruntime-node's CPU backend under Node). transformers.js is imported
 * lazily on load() and is injectable for tests.
 *
 * Why our own decoding loop instead of model.generate(): generate() in transformers.js 4.3.1
 * returns token ids only (its `scores` output is a TODO; return_dict_in_generate gives ids and
 * the cache), its sampler draws from Math.random (no seed), and it has no stop strings or
 * abort. So chat() calls model.forward() once per token with the KV cache (transformers.js's
 * DynamicCache, which also frees replaced GPU buffers), and from the logits of each step takes
 *   log p(token) = logit[token] − logsumexp(logits)
 * in float64, for the chosen token and the top-k alternatives. These are the model's own
 * (temperature 1, unfiltered) probabilities, whatever temperature / top_p the sampler used, so
 * confidence scores mean the same for greedy and sampled answers (OpenAI reports them this way).
 *
 * Prompt: the tokenizer's chat template when it has one; otherwise `formatPrompt` (default
 * answerPrompt: the last user message + "\nAnswer:", the format edgeroute-tiny-gsm8k-lm was
 * trained on). n > 1 runs the n choices as one batch of identical rows, each with its own
 * seeded random stream.
 */
import type { DataType } from '@huggingface/transformers';
import { createRng, type Rng } from '../../core/random';
import { abortedError, EdgeRouteError, messageOf, type EdgeRouteErrorCode } from '../../common/errors';
import { yieldToEventLoop } from './yield';
import {
  validateLocalChatRequest as validateChatRequest,
  type ChatCompletion,
  type ChatCompletionChoice,
  type ChatCompletionChunk,
  type LocalChatRequest as ChatCompletionRequest,
  type ChatMessage,
  type FinishReason,
  type TokenLogprob,
  type TopLogprob,
} from '../../common/openai';
import { EngineLifecycle, type LoadRun } from './engine-lifecycle';
import type { ChatOptions, LoadOptions, LocalEngine, LocalEngineStatus } from './local-engine';
import {
  configureTransformersEnv,
  createProgressAggregator,
  describeLoadFailure,
  planBackends,
  type GpuLike,
  type TransformersBackend,
  type TransformersDevice,
  type TransformersEnvLike,
  type TransformersEnvOptions,
  type TransformersLibrary,
  type TransformersProgressEvent,
} from './transformers-env';

/** Turns the conversation into the model's prompt text (used when there is no chat template). */
export type PromptFormatter = (messages: readonly ChatMessage[]) => string;

/**
 * The plain format of edgeroute-tiny-gsm8k-lm ("<problem>\nAnswer:", as in its training
 * documents "<prompt>\nAnswer: <response>"): only the last user message is used.
 */
export const answerPrompt: PromptFormatter = (messages) => {
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return `${last?.content ?? ''}\nAnswer:`;
};

export interface TransformersEngineOptions {
  /** Hub id ('onnx-community/Qwen2.5-0.5B-Instruct') or a folder under env.localModelPath ('edgeroute-tiny-gsm8k-lm'). */
  readonly model: string;
  /** Default 'auto' (WebGPU when an adapter exists and the model loads on it, else WASM). */
  readonly device?: TransformersDevice;
  /** Weights variant; default the model config's "transformers.js_config".dtype or the backend's default. */
  readonly dtype?: DataType;
  readonly revision?: string;
  readonly env?: TransformersEnvOptions;
  /**
   * Prompt text for models without a chat template (default answerPrompt). With
   * `useChatTemplate: false` it is used even when the tokenizer has a template.
   */
  readonly formatPrompt?: PromptFormatter;
  /** Default true: a tokenizer's chat template wins over formatPrompt. */
  readonly useChatTemplate?: boolean;
  /** max_tokens when the request leaves it out (default 256; always capped by the context). */
  readonly defaultMaxTokens?: number;
  /** Default: `import('@huggingface/transformers')`. */
  readonly loadLibrary?: () => Promise<TransformersLibrary>;
  /** Stand-in for navigator.gpu; null = no WebGPU. */
  readonly gpu?: GpuLike | null;
}

// ---------------------------------------------------------------------------------------------
// The parts of transformers.js used here (its own classes satisfy these structurally).

interface TensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: ArrayLike<number>;
  to?(type: string): TensorLike;
}

interface TokenizerLike {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  readonly chat_template?: unknown;
  apply_chat_template(messages: { role: string; content: string }[], options: { tokenize: false; add_generation_prompt: boolean }): unknown;
  readonly eos_token_id?: number | null;
}

interface CausalLmLike {
  forward(inputs: Record<string, unknown>): Promise<Record<string, TensorLike>>;
  dispose(): Promise<unknown>;
  readonly config: Record<string, unknown>;
  readonly generation_config?: Record<string, unknown> | null;
  readonly sessions?: Record<string, { readonly config?: { readonly dtype?: unknown } } | undefined>;
}

interface CacheLike {
  update(entries: Record<string, unknown>): void;
  dispose(): Promise<void>;
}

interface Loaded {
  readonly lib: TransformersLibrary;
  readonly tokenizer: TokenizerLike;
  readonly model: CausalLmLike;
  readonly backend: TransformersBackend;
  readonly dtype: string;
  readonly eos: ReadonlySet<number>;
  readonly contextLength: number;
}

const DEFAULT_MAX_TOKENS = 256;
/** Used when the config names no context size. */
const FALLBACK_CONTEXT = 2048;

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)

/** log-softmax of `logits` at every index, in float64 (stable: shifted by the max). */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}

/** Indices of the k largest values, largest first (ties: lower index first). One pass, insertion into k slots. */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const want = Math.min(k, values.length);
  const picked: number[] = [];
  if (want <= 0) return picked;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (picked.length === want && !(v > values[picked[want - 1]])) continue;
    if (picked.length < want) picked.push(i);
    else picked[want - 1] = i;
    // Bubble up past strictly smaller values only, so equal values keep index order.
    for (let j = picked.length - 1; j > 0 && values[picked[j - 1]] < v; j--) {
      const t = picked[j - 1];
      picked[j - 1] = picked[j];
      picked[j] = t;
    }
  }
  return picked;
}

/**
 * Draws a token from softmax(logprobs / temperature) restricted to the nucleus (smallest set
 * of most likely tokens with mass ≥ topP).
 */
export function sampleToken(logprobs: Float64Array, temperature: number, topP: number, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < logprobs.length; i++) if (logprobs[i] > max) max = logprobs[i];
  // Tokens below e^-40 of the best cannot matter for any draw; skipping them keeps the sort short.
  const order: number[] = [];
  for (let i = 0; i < logprobs.length; i++) if ((logprobs[i] - max) / temperature > -40) order.push(i);
  order.sort((a, b) => logprobs[b] - logprobs[a] || a - b);
  const weights = order.map((i) => Math.exp((logprobs[i] - max) / temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  let keep = order.length;
  if (topP < 1) {
    let mass = 0;
    for (let j = 0; j < order.length; j++) {
      mass += weights[j] / total;
      if (mass >= topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const kept = weights.slice(0, keep).reduce((s, w) => s + w, 0);
  let u = rng.next() * kept;
  for (let j = 0; j < keep; j++) {
    u -= weights[j];
    if (u < 0) return order[j];
  }
  return order[keep - 1];
}

/** Seed of choice `index`'s random stream (distinct per choice, reproducible per seed). */
export function choiceSeed(seed: number, index: number): number {
  return ((Math.trunc(seed) >>> 0) + Math.imul(index, 0x9e3779b9)) >>> 0;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function heldBackLength(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let len = Math.min(s.length - 1, text.length); len > hold; len--) {
      if (text.endsWith(s.slice(0, len))) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

const encoder = new TextEncoder();

function tokenBytes(text: string): number[] | null {
  // A byte-level BPE token can be part of a UTF-8 character; its decoded text is then U+FFFD.
  return text.includes('\uFFFD') ? null : Array.from(encoder.encode(text));
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

// ---------------------------------------------------------------------------------------------
// One choice being generated

class ChoiceState {
  readonly ids: number[] = [];
  readonly logprobs: TokenLogprob[] = [];
  /** Text length before each kept token (maps stop positions back to tokens). */
  readonly offsets: number[] = [];
  text = '';
  finish: FinishReason | null = null;
  sampled = 0;
  /** Streaming: characters / tokens already sent. */
  sentChars = 0;
  sentTokens = 0;

  constructor(readonly rng: Rng | null) {}

  /** Text that is final: not a possible start of a stop string, not an incomplete character. */
  safeEnd(stops: readonly string[]): number {
    if (this.finish) return this.text.length;
    let end = this.text.length - heldBackLength(this.text, stops);
    while (end > 0 && this.text[end - 1] === '\uFFFD') end--;
    return end;
  }
}

// ---------------------------------------------------------------------------------------------

export class TransformersEngine implements LocalEngine {
  readonly kind = 'transformers' as const;
  readonly #options: TransformersEngineOptions;
  #loaded: Loaded | undefined;
  /** unload() bumps its epoch: work started before it stops at its next token. */
  readonly #lifecycle = new EngineLifecycle({ logprobs: true, multipleChoices: true, streaming: true });
  #backend: TransformersBackend | undefined;
  #fallbackReason: string | undefined;

  constructor(options: TransformersEngineOptions) {
    if (typeof options.model !== 'string' || options.model.trim() === '') {
      throw new EdgeRouteError('invalid-config', 'TransformersEngine needs a model id or folder name.');
    }
    const maxTokens = options.defaultMaxTokens;
    if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
      throw new EdgeRouteError('invalid-config', `defaultMaxTokens must be a positive integer, got ${maxTokens}.`);
    }
    this.#options = options;
  }

  /** The model and its revision, as given. */
  get modelId(): string {
    const { model, revision } = this.#options;
    return revision && revision !== 'main' ? `${model}#${revision}` : model;
  }

  /**
   * 'transformers:<model>@<dtype>'. Before load() without an explicit dtype the dtype part is
   * 'auto'; pass `dtype` for an id that is final before loading.
   */
  get id(): string {
    return `transformers:${this.modelId}@${this.#loaded?.dtype ?? this.#options.dtype ?? 'auto'}`;
  }

  /** Backend of the loaded model ('webgpu' | 'wasm' | 'cpu'). */
  get backend(): TransformersBackend | undefined {
    return this.#backend;
  }

  /** For device 'auto' without WebGPU (none, a software fallback adapter, or loading failed): why. */
  get fallbackReason(): string | undefined {
    return this.#fallbackReason;
  }

  status(): LocalEngineStatus {
    return {
      ...this.#lifecycle.status(this.modelId),
      ...(this.#backend ? { backend: this.#backend } : {}),
      ...(this.#fallbackReason ? { fallbackReason: this.#fallbackReason } : {}),
    };
  }

  load(options: LoadOptions = {}): Promise<void> {
    const what = `Loading ${this.modelId}`;
    // The library's env as the load left it, to explain a failure with the paths it used.
    const failedEnv: { env?: TransformersEnvLike } = {};
    return this.#lifecycle.load(
      options,
      what,
      (run) => this.#load(run, options.signal, what, failedEnv),
      (error) =>
        error instanceof EdgeRouteError
          ? error
          : new EdgeRouteError(
              'local-engine-failed',
              failedEnv.env
                ? describeLoadFailure(error, this.#options.model, failedEnv.env).message
                : `could not load @huggingface/transformers: ${messageOf(error)}`,
              { cause: error },
            ),
    );
  }

  async #load(run: LoadRun, signal: AbortSignal | undefined, what: string, failedEnv: { env?: TransformersEnvLike }): Promise<void> {
    const progress = createProgressAggregator(this.modelId, run.report);
    const callback = (e: unknown): void => progress.callback(e as TransformersProgressEvent);
    let env: TransformersEnvLike | undefined;
    let model: CausalLmLike | undefined;
    try {
      if (signal?.aborted) throw abortedError(what, signal);
      const lib = await (this.#options.loadLibrary ?? (() => import('@huggingface/transformers')))();
      env = lib.env as unknown as TransformersEnvLike;
      failedEnv.env = env;
      if (this.#options.env) {
        try {
          configureTransformersEnv(env, this.#options.env);
        } catch (error) {
          throw new EdgeRouteError('invalid-config', messageOf(error), { cause: error });
        }
      }
      const plan = await planBackends(this.#options.device ?? 'auto', this.#options.gpu === undefined ? {} : { gpu: this.#options.gpu });
      const common = {
        progress_callback: callback,
        ...(this.#options.revision !== undefined ? { revision: this.#options.revision } : {}),
      };
      const tokenizerPromise = lib.AutoTokenizer.from_pretrained(this.#options.model, common);
      tokenizerPromise.catch(() => undefined); // reported below, after the model's error if both fail
      let fallbackReason = plan.reason;
      let backend: TransformersBackend | undefined;
      const failures: string[] = [];
      for (const candidate of plan.candidates) {
        if (signal?.aborted) throw abortedError(what, signal);
        try {
          model = (await lib.AutoModelForCausalLM.from_pretrained(this.#options.model, {
            ...common,
            device: candidate,
            ...(this.#options.dtype !== undefined ? { dtype: this.#options.dtype } : {}),
          })) as unknown as CausalLmLike;
          backend = candidate;
          break;
        } catch (error) {
          const failure = describeLoadFailure(error, this.#options.model, env);
          if (failure.kind === 'not-found' || candidate === plan.candidates[plan.candidates.length - 1]) {
            const code: EdgeRouteErrorCode = failure.kind === 'backend' && candidate === 'webgpu' ? 'webgpu-unavailable' : 'local-engine-failed';
            const prior = failures.length ? ` (earlier: ${failures.join('; ')})` : '';
            throw new EdgeRouteError(code, failure.message + prior, { cause: error });
          }
          failures.push(`${candidate}: ${messageOf(error)}`);
          fallbackReason = `loading on WebGPU failed (${messageOf(error)}); using ${plan.candidates[plan.candidates.length - 1]}`;
          progress.note(`${this.modelId}: WebGPU failed, retrying on WASM`);
        }
      }
      if (!model || !backend) throw new EdgeRouteError('local-engine-failed', `no backend could load ${this.modelId}.`);
      let tokenizer: TokenizerLike;
      try {
        tokenizer = (await tokenizerPromise) as unknown as TokenizerLike;
      } catch (error) {
        throw new EdgeRouteError('local-engine-failed', describeLoadFailure(error, this.#options.model, env).message, { cause: error });
      }
      if (signal?.aborted) throw abortedError(what, signal);
      if (!this.#lifecycle.isCurrent(run.epoch)) throw new EdgeRouteError('aborted', `${what} was cut off by unload().`);

      const gen = model.generation_config ?? {};
      const eos = new Set<number>();
      for (const source of [gen['eos_token_id'], model.config['eos_token_id'], tokenizer.eos_token_id]) {
        for (const v of Array.isArray(source) ? source : [source]) if (typeof v === 'number') eos.add(v);
      }
      const sessionDtype = model.sessions?.['model']?.config?.dtype;
      const jsConfig = model.config['transformers.js_config'] as { dtype?: unknown } | undefined;
      const dtype = typeof sessionDtype === 'string' ? sessionDtype : (this.#options.dtype ?? (typeof jsConfig?.dtype === 'string' ? jsConfig.dtype : 'auto'));
      const contextLength = numberOr(model.config['max_position_embeddings'] ?? model.config['n_positions'] ?? model.config['n_ctx'], FALLBACK_CONTEXT);
      this.#loaded = { lib, tokenizer, model, backend, dtype, eos, contextLength };
      this.#backend = backend;
      this.#fallbackReason = fallbackReason;
      progress.finish(`${this.modelId} ready on ${backend}`);
    } catch (error) {
      await model?.dispose().catch(() => undefined);
      throw error;
    }
  }

  async unload(): Promise<void> {
    this.#lifecycle.unload();
    const loaded = this.#loaded;
    this.#loaded = undefined;
    this.#backend = undefined;
    this.#fallbackReason = undefined;
    if (loaded) await loaded.model.dispose();
  }

  /** The prompt text for `messages` (chat template, else formatPrompt) and whether it came from the template. */
  formatPrompt(messages: readonly ChatMessage[]): { text: string; chatTemplate: boolean } {
    const loaded = this.#requireReady();
    const tok = loaded.tokenizer;
    if (this.#options.useChatTemplate !== false && tok.chat_template) {
      const text = tok.apply_chat_template(
        messages.map((m) => ({ role: m.role, content: m.content })),
        { tokenize: false, add_generation_prompt: true },
      );
      if (typeof text === 'string') return { text, chatTemplate: true };
    }
    return { text: (this.#options.formatPrompt ?? answerPrompt)(messages), chatTemplate: false };
  }

  async chat(request: ChatCompletionRequest, options: ChatOptions = {}): Promise<ChatCompletion> {
    validateChatRequest(request);
    if (request.stream === true) {
      throw new EdgeRouteError('invalid-input', 'chat() returns a whole completion; use chatStream() for stream: true.');
    }
    const run = this.#start(request, options.signal);
    for (;;) {
      const step = await run.step();
      if (step) break;
    }
    return run.completion();
  }

  async *chatStream(request: ChatCompletionRequest, options: ChatOptions = {}): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    validateChatRequest(request);
    if ((request.n ?? 1) > 1) {
      throw new EdgeRouteError('invalid-input', `chatStream() streams one choice; n = ${request.n} needs chat() (or sampleAnswers()).`);
    }
    const run = this.#start(request, options.signal);
    const base = { id: run.id, object: 'chat.completion.chunk' as const, created: run.created, model: this.modelId };
    try {
      yield { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
      for (;;) {
        const done = await run.step();
        const delta = run.takeDelta(0);
        if (delta.content !== '' || delta.logprobs.length > 0) {
          yield {
            ...base,
            choices: [{ index: 0, delta: { content: delta.content }, finish_reason: null, logprobs: { content: delta.logprobs } }],
          };
        }
        if (done) break;
      }
    } finally {
      await run.dispose(); // frees the KV cache when the consumer stops early
    }
    const final = run.completion();
    yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: final.choices[0]?.finish_reason ?? 'stop' }] };
    if (final.usage) yield { ...base, choices: [], usage: final.usage };
  }

  #requireReady(): Loaded {
    this.#lifecycle.requireReady(this.id);
    return this.#loaded!;
  }

  /** Sets up one generation; step() runs one forward pass for all choices. */
  #start(request: ChatCompletionRequest, signal: AbortSignal | undefined) {
    const what = `Generation by ${this.modelId}`;
    if (signal?.aborted) throw abortedError(what, signal);
    const loaded = this.#requireReady();
    const epoch = this.#lifecycle.epoch;
    const { lib, tokenizer, model, eos, contextLength } = loaded;

    let promptIds: number[];
    try {
      const prompt = this.formatPrompt(request.messages);
      // A chat template writes its own special tokens; a plain prompt gets the tokenizer's (if any).
      promptIds = tokenizer.encode(prompt.text, { add_special_tokens: !prompt.chatTemplate });
    } catch (error) {
      throw new EdgeRouteError(
        'invalid-input',
        `${this.modelId} could not turn the messages into a prompt (chat template or formatPrompt failed): ${messageOf(error)}`,
        { cause: error },
      );
    }
    if (promptIds.length === 0) throw new EdgeRouteError('invalid-input', 'The prompt encodes to no tokens.');
    const room = contextLength - promptIds.length;
    if (room < 1) {
      throw new EdgeRouteError(
        'local-engine-failed',
        `The prompt is ${promptIds.length} tokens, but ${this.modelId}'s context is ${contextLength}; shorten it or send it to the cloud model.`,
      );
    }
    const maxTokens = Math.min(request.max_tokens ?? this.#options.defaultMaxTokens ?? DEFAULT_MAX_TOKENS, room);

    // Temperature unset: the model's generation_config decides (greedy unless do_sample).
    const gen = model.generation_config ?? {};
    const temperature = request.temperature ?? (gen['do_sample'] === true ? numberOr(gen['temperature'], 1) : 0);
    const topP = request.top_p ?? (gen['do_sample'] === true ? numberOr(gen['top_p'], 1) : 1);
    const greedy = temperature === 0;
    const topLogprobs = Math.max(1, request.top_logprobs ?? 0);
    const stops = request.stop === undefined ? [] : typeof request.stop === 'string' ? [request.stop] : [...request.stop];
    const n = request.n ?? 1;
    const seed = request.seed ?? Math.floor(Math.random() * 2 ** 32);
    const choices = Array.from({ length: n }, (_, i) => new ChoiceState(greedy ? null : createRng(choiceSeed(seed, i))));

    const cache = new lib.DynamicCache() as unknown as CacheLike;
    const tensor = (ids: readonly number[], rows: number): unknown =>
      new lib.Tensor(
        'int64',
        BigInt64Array.from(ids, (x) => BigInt(x)),
        [rows, ids.length / rows],
      );
    let inputIds: number[] = Array.from({ length: n }, () => promptIds).flat();
    const filler = eos.values().next().value ?? promptIds[promptIds.length - 1];
    let total = promptIds.length;
    let finished = false;
    const id = `chatcmpl-${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);

    const fail = (error: unknown): EdgeRouteError => {
      if (signal?.aborted) return error instanceof EdgeRouteError && error.code === 'aborted' ? error : abortedError(what, signal);
      if (!this.#lifecycle.isCurrent(epoch)) return new EdgeRouteError('aborted', `${what} was cut off by unload().`, { cause: error });
      if (error instanceof EdgeRouteError) return error;
      return new EdgeRouteError('local-engine-failed', `${what} failed: ${messageOf(error)}`, { cause: error });
    };

    const finish = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      await cache.dispose().catch(() => undefined);
    };

    /** One forward pass; true when every choice has finished. */
    const step = async (): Promise<boolean> => {
      if (finished) return true;
      try {
        // A turn for the event loop first, so a cancel (or any other message) is seen between tokens.
        await yieldToEventLoop();
        if (signal?.aborted) throw abortedError(what, signal);
        if (!this.#lifecycle.isCurrent(epoch)) throw new EdgeRouteError('aborted', `${what} was cut off by unload().`);
        const attention = new Array<number>(n * total).fill(1);
        const out = await model.forward({
          input_ids: tensor(inputIds, n),
          attention_mask: tensor(attention, n),
          past_key_values: cache,
          // Only the last position's logits are needed (ignored by models without this input).
          num_logits_to_keep: new lib.Tensor('int64', BigInt64Array.from([1n]), []),
        });
        if (signal?.aborted) throw abortedError(what, signal);
        if (!this.#lifecycle.isCurrent(epoch)) throw new EdgeRouteError('aborted', `${what} was cut off by unload().`);
        const presents: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(out)) {
          if (name.startsWith('present')) presents[name.replace('present', 'past_key_values')] = value;
        }
        cache.update(presents);

        let logits = out['logits'];
        if (!logits) throw new EdgeRouteError('local-engine-failed', `${this.modelId} returned no logits.`);
        if (logits.type !== 'float32' && logits.to) logits = logits.to('float32');
        const [rows, seq, vocab] = logits.dims;
        if (rows !== n || !seq || !vocab) {
          throw new EdgeRouteError('local-engine-failed', `${this.modelId} returned logits of shape [${logits.dims.join(', ')}] for a batch of ${n}.`);
        }
        const data = logits.data as Float32Array;
        const next: number[] = [];
        choices.forEach((c, row) => {
          if (c.finish) {
            next.push(filler); // a finished row still needs an input; its output is ignored
            return;
          }
          const start = (row * seq + seq - 1) * vocab;
          const lp = logSoftmax(data.subarray(start, start + vocab));
          const top = topK(lp, topLogprobs);
          const token = c.rng ? sampleToken(lp, temperature, topP, c.rng) : top[0];
          c.sampled++;
          next.push(token);
          if (eos.has(token)) {
            c.finish = 'stop';
            return;
          }
          const tokenText = tokenizer.decode([token], { skip_special_tokens: false });
          const alternatives: TopLogprob[] = top.map((t) => {
            const text = tokenizer.decode([t], { skip_special_tokens: false });
            return { token: text, logprob: lp[t], bytes: tokenBytes(text) };
          });
          c.offsets.push(c.text.length);
          c.ids.push(token);
          c.logprobs.push({ token: tokenText, logprob: lp[token], bytes: tokenBytes(tokenText), top_logprobs: alternatives });
          c.text = tokenizer.decode(c.ids, { skip_special_tokens: true });
          if (stops.length > 0) {
            let at = -1;
            for (const s of stops) {
              const k = c.text.indexOf(s);
              if (k >= 0 && (at < 0 || k < at)) at = k;
            }
            if (at >= 0) {
              // The stop string is not part of the answer, nor are the tokens that only spell it.
              c.text = c.text.slice(0, at);
              let keep = c.offsets.length;
              while (keep > 0 && c.offsets[keep - 1] >= at) keep--;
              c.ids.length = keep;
              c.logprobs.length = keep;
              c.offsets.length = keep;
              c.finish = 'stop';
              return;
            }
          }
          if (c.sampled >= maxTokens) c.finish = 'length';
        });
        inputIds = next;
        total += 1;
        if (choices.every((c) => c.finish)) {
          await finish();
          return true;
        }
        return false;
      } catch (error) {
        await finish();
        throw fail(error);
      }
    };

    const completion = (): ChatCompletion => {
      const completionTokens = choices.reduce((s, c) => s + c.sampled, 0);
      return {
        id,
        object: 'chat.completion',
        created,
        model: this.modelId,
        choices: choices.map(
          (c, index): ChatCompletionChoice => ({
            index,
            message: { role: 'assistant', content: c.text },
            finish_reason: c.finish ?? 'length',
            logprobs: { content: c.logprobs },
          }),
        ),
        usage: { prompt_tokens: promptIds.length, completion_tokens: completionTokens, total_tokens: promptIds.length + completionTokens },
      };
    };

    /** Streaming: the new final text of choice `index` and the log-probs of its tokens. */
    const takeDelta = (index: number): { content: string; logprobs: TokenLogprob[] } => {
      const c = choices[index];
      if (!c) return { content: '', logprobs: [] };
      const end = c.safeEnd(stops);
      const content = end > c.sentChars ? c.text.slice(c.sentChars, end) : '';
      c.sentChars = Math.max(c.sentChars, end);
      let upto = c.sentTokens;
      while (upto < c.offsets.length && (c.finish || c.offsets[upto] < end)) upto++;
      const logprobs = c.logprobs.slice(c.sentTokens, upto);
      c.sentTokens = upto;
      return { content, logprobs };
    };

    return { id, created, step, completion, takeDelta, dispose: finish };
  }
}
