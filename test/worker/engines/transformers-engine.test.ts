/**
 * TransformersEngine on the committed tiny causal LM (public/models/edgeroute-tiny-gsm8k-lm),
 * offline: env.localModelPath = public/models/, remote models off, onnxruntime-node CPU.
 * Held-out GSM8K problems and MMLU law questions come from test/fixtures (see its README).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, Tensor, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerConfidence } from '../../../src/core/confidence';
import { EdgeRouteError } from '../../../src/common/errors';
import { sampleAnswers, type LoadProgress } from '../../../src/worker/engines/local-engine';
import { createRng } from '../../../src/core/random';
import { answerPrompt, choiceSeed, logSoftmax, sampleToken, topK, TransformersEngine } from '../../../src/worker/engines/transformers-engine';
import type { LocalChatRequest as ChatCompletionRequest, TokenLogprob } from '../../../src/common/openai';

const root = resolve(import.meta.dirname, '..', '..', '..');
const modelsDir = join(root, 'public', 'models');
const MODEL = 'edgeroute-tiny-gsm8k-lm';
const env = { localModelPath: `${modelsDir}/`, allowRemoteModels: false };

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const gsm = readJson<{ items: { id: string; prompt: string }[] }>(join(root, 'test', 'fixtures', 'gsm8k-heldout.json')).items;
const law = readJson<{ items: { id: string; question: string }[] }>(join(root, 'test', 'fixtures', 'law-questions.json')).items;
const heldOut = new Set(readJson<{ 'routellm-gsm8k': string[] }>(join(modelsDir, MODEL, 'heldout.json'))['routellm-gsm8k']);

const ask = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  messages: [{ role: 'user', content }],
  ...extra,
});
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A signal that reads as aborted from its `after`-th check on (the engine checks it around every token). */
function abortsAfter(after: number): AbortSignal {
  let reads = 0;
  return {
    get aborted() {
      return ++reads > after;
    },
    reason: new Error('test abort'),
  } as unknown as AbortSignal;
}

describe('decoding helpers', () => {
  it('logSoftmax normalises and topK orders (ties by index)', () => {
    const lp = logSoftmax([1, 3, 2, 3, -1000]);
    expect(Array.from(lp).reduce((s, x) => s + Math.exp(x), 0)).toBeCloseTo(1, 12);
    expect(topK(lp, 3)).toEqual([1, 3, 2]);
    expect(topK([5, 1, 5, 7], 2)).toEqual([3, 0]);
    expect(topK([1, 2], 5)).toEqual([1, 0]);
    expect(topK([0.5], 0)).toEqual([]);
  });
  it('sampleToken follows the distribution, and top_p cuts the tail', () => {
    const lp = logSoftmax([Math.log(0.6), Math.log(0.3), Math.log(0.1)]);
    const rng = createRng(7);
    const counts = [0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[sampleToken(lp, 1, 1, rng)]++;
    expect(counts[0] / 4000).toBeCloseTo(0.6, 1);
    expect(counts[2] / 4000).toBeCloseTo(0.1, 1);
    for (let i = 0; i < 500; i++) expect(sampleToken(lp, 1, 0.85, rng)).not.toBe(2);
    for (let i = 0; i < 200; i++) expect(sampleToken(lp, 0.01, 1, rng)).toBe(0); // near-greedy
    expect(new Set([0, 1, 2].map((i) => choiceSeed(5, i))).size).toBe(3);
  });
});

describe(`TransformersEngine (${MODEL}, offline)`, () => {
  const engine = new TransformersEngine({ model: MODEL, env, defaultMaxTokens: 24 });
  const progress: LoadProgress[] = [];
  // An independent copy of the model, for recomputing log-probs from one full forward pass.
  let tok: PreTrainedTokenizer;
  let lm: PreTrainedModel;

  beforeAll(async () => {
    expect(engine.status().state).toBe('unloaded');
    await engine.load({ onProgress: (p) => progress.push(p) });
    tok = await AutoTokenizer.from_pretrained(MODEL);
    lm = await AutoModelForCausalLM.from_pretrained(MODEL, { dtype: 'fp32' });
  }, 60_000);

  afterAll(async () => {
    await engine.unload();
    await lm?.dispose();
  });

  it('loads, with progress, and says what it can do', () => {
    const s = engine.status();
    expect(s).toMatchObject({ state: 'ready', modelId: MODEL, logprobs: true, multipleChoices: true, streaming: true });
    expect(engine.kind).toBe('transformers');
    expect(engine.id).toBe(`transformers:${MODEL}@fp32`);
    expect(engine.backend).toBe('cpu');
    expect(progress.at(-1)?.progress).toBe(1);
    expect(progress.some((p) => /model\.onnx/.test(p.text))).toBe(true);
  });

  it('formats a prompt as "<last user message>\\nAnswer:" (the tiny LM has no chat template)', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'A pen costs $2. How much do 7 pens cost?' },
    ] as const;
    expect(engine.formatPrompt(messages)).toEqual({ text: 'A pen costs $2. How much do 7 pens cost?\nAnswer:', chatTemplate: false });
    expect(answerPrompt(messages)).toBe('A pen costs $2. How much do 7 pens cost?\nAnswer:');
  });

  it('answers a held-out GSM8K problem greedily with one log-prob per token, top-k sorted, chosen = top-1', async () => {
    expect(heldOut.has(gsm[0].id)).toBe(true);
    const res = await engine.chat(ask(gsm[0].prompt, { temperature: 0, max_tokens: 16, logprobs: true, top_logprobs: 3 }));
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe(MODEL);
    const [choice] = res.choices;
    const content = choice.logprobs?.content ?? [];
    console.log(`[${engine.id}] greedy: ${JSON.stringify(choice.message.content)}`);
    expect((choice.message.content ?? '').trim().length).toBeGreaterThan(0);
    expect(choice.finish_reason).toBe('length');
    expect(content.length).toBe(16);
    expect(content.map((t) => t.token).join('')).toBe(choice.message.content);
    expect(res.usage).toEqual({
      prompt_tokens: tok.encode(`${gsm[0].prompt}\nAnswer:`).length,
      completion_tokens: 16,
      total_tokens: res.usage!.prompt_tokens + 16,
    });
    for (const t of content) {
      expect(t.top_logprobs.length).toBe(3);
      for (let i = 1; i < t.top_logprobs.length; i++) expect(t.top_logprobs[i].logprob).toBeLessThanOrEqual(t.top_logprobs[i - 1].logprob);
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.token).toBe(t.top_logprobs[0].token);
      expect(t.logprob).toBe(t.top_logprobs[0].logprob);
    }
  });

  it('returns log-probs equal to an independent full-sequence recomputation (within 1e-3)', async () => {
    const prompt = `${gsm[1].prompt}\nAnswer:`;
    const res = await engine.chat(ask(gsm[1].prompt, { temperature: 0, max_tokens: 20 }));
    const content = res.choices[0].logprobs?.content ?? [];
    const promptIds = tok.encode(prompt, { add_special_tokens: false });
    const allIds = tok.encode(prompt + (res.choices[0].message.content ?? ''), { add_special_tokens: false });
    // The generated tokens re-tokenize to themselves here (GPT-2 pre-tokenization splits at the prompt's end).
    expect(allIds.slice(0, promptIds.length)).toEqual(promptIds);
    const genIds = allIds.slice(promptIds.length);
    expect(genIds.map((id) => tok.decode([id]))).toEqual(content.map((t) => t.token));

    const input_ids = new Tensor('int64', BigInt64Array.from(allIds.map(BigInt)), [1, allIds.length]);
    const attention_mask = new Tensor('int64', BigInt64Array.from(allIds.map(() => 1n)), [1, allIds.length]);
    const { logits } = (await lm({ input_ids, attention_mask })) as { logits: Tensor };
    const vocab = logits.dims[2];
    const data = logits.data as Float32Array;
    let maxDiff = 0;
    genIds.forEach((id, j) => {
      const row = data.subarray((promptIds.length - 1 + j) * vocab, (promptIds.length + j) * vocab);
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let sum = 0;
      for (const x of row) sum += Math.exp(x - max);
      const lp = row[id] - max - Math.log(sum);
      maxDiff = Math.max(maxDiff, Math.abs(lp - content[j].logprob));
    });
    console.log(`[${engine.id}] max |logprob(KV-cache loop) − logprob(full pass)| over ${genIds.length} tokens: ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('is more confident (mean token log-prob) on held-out GSM8K problems than on MMLU law questions', async () => {
    expect(gsm.length).toBe(20);
    expect(law.length).toBe(20);
    expect(gsm.every((g) => heldOut.has(g.id))).toBe(true);
    const confidence = async (q: string): Promise<number> => {
      const res = await engine.chat(ask(q, { temperature: 0, max_tokens: 16 }));
      return answerConfidence(res.choices[0].logprobs?.content ?? []);
    };
    const cg: number[] = [];
    for (const g of gsm) cg.push(await confidence(g.prompt));
    const cl: number[] = [];
    for (const l of law) cl.push(await confidence(l.question));
    const gap = mean(cg) - mean(cl);
    console.log(
      `[${engine.id}] answerConfidence (mean-logprob, greedy, 16 tokens): held-out gsm8k ${mean(cg).toFixed(3)} (n=20), mmlu law ${mean(cl).toFixed(3)} (n=20), gap ${gap.toFixed(3)}`,
    );
    expect(cg.every(Number.isFinite) && cl.every(Number.isFinite)).toBe(true);
    expect(gap).toBeGreaterThan(0.2);
  }, 30_000);

  it('samples n = 3 choices in one call, reproducibly for a seed', async () => {
    const req = ask(gsm[2].prompt, { n: 3, temperature: 1, top_p: 0.95, seed: 1234, max_tokens: 12, logprobs: true, top_logprobs: 2 });
    const a = await engine.chat(req);
    const b = await engine.chat(req);
    expect(a.choices.length).toBe(3);
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(b.choices.map((c) => c.message.content)).toEqual(a.choices.map((c) => c.message.content));
    expect(b.choices.map((c) => c.logprobs)).toEqual(a.choices.map((c) => c.logprobs));
    expect(new Set(a.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    for (const c of a.choices) {
      const content = c.logprobs?.content ?? [];
      expect(content.length).toBeGreaterThan(0);
      for (const t of content) {
        expect(t.top_logprobs.length).toBe(2);
        expect(t.logprob).toBeLessThanOrEqual(t.top_logprobs[0].logprob); // sampled ≤ the most likely
      }
    }
    expect(a.usage?.completion_tokens).toBeGreaterThanOrEqual(3);
    const other = await engine.chat({ ...req, seed: 99 });
    expect(other.choices.map((c) => c.message.content)).not.toEqual(a.choices.map((c) => c.message.content));
    // sampleAnswers uses the single n-choice call.
    const answers = await sampleAnswers(engine, ask(gsm[2].prompt, { seed: 1234, max_tokens: 12 }), 3, { temperature: 1 });
    expect(answers.length).toBe(3);
  });

  it('respects max_tokens', async () => {
    const res = await engine.chat(ask(gsm[3].prompt, { max_tokens: 5 }));
    expect(res.choices[0].finish_reason).toBe('length');
    expect(res.choices[0].logprobs?.content?.length).toBe(5);
    expect(res.usage?.completion_tokens).toBe(5);
  });

  it('ends at a stop sequence, which is left out of text and log-probs', async () => {
    const free = await engine.chat(ask(gsm[4].prompt, { max_tokens: 16 }));
    const text = free.choices[0].message.content ?? '';
    const tokens = free.choices[0].logprobs?.content ?? [];
    // Stop at the 4th token's text: the answer is the first 3 tokens.
    const stop = tokens[3].token;
    const at = text.indexOf(stop);
    expect(at).toBeGreaterThan(0);
    const res = await engine.chat(ask(gsm[4].prompt, { max_tokens: 16, stop: ['@@never@@', stop] }));
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.choices[0].message.content).toBe(text.slice(0, at));
    const kept = res.choices[0].logprobs?.content ?? [];
    expect(kept).toEqual(tokens.slice(0, kept.length));
    expect(kept.map((t) => t.token).join('')).toBe(text.slice(0, at));
  });

  it('streams the same answer and log-probs as chat()', async () => {
    const req = ask(gsm[5].prompt, { max_tokens: 12, stop: '\n\n' });
    const whole = await engine.chat(req);
    let text = '';
    const lps: TokenLogprob[] = [];
    let finish: string | null = null;
    for await (const chunk of engine.chatStream(req)) {
      const c = chunk.choices[0];
      if (!c) continue;
      text += c.delta.content ?? '';
      lps.push(...(c.logprobs?.content ?? []));
      finish = c.finish_reason ?? finish;
    }
    expect(text).toBe(whole.choices[0].message.content);
    expect(lps).toEqual(whole.choices[0].logprobs?.content);
    expect(finish).toBe(whole.choices[0].finish_reason);
  });

  it('aborts mid-generation with EdgeRouteError("aborted"), and keeps working afterwards', async () => {
    const err = await engine.chat(ask(gsm[6].prompt, { max_tokens: 50 }), { signal: abortsAfter(6) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeRouteError);
    expect((err as EdgeRouteError).code).toBe('aborted');

    const controller = new AbortController();
    let chunks = 0;
    const streamed = (async () => {
      for await (const _ of engine.chatStream(ask(gsm[6].prompt, { max_tokens: 50 }), { signal: controller.signal })) {
        if (++chunks === 3) controller.abort();
      }
    })();
    await expect(streamed).rejects.toMatchObject({ code: 'aborted' });
    expect(chunks).toBe(3);

    const pre = new AbortController();
    pre.abort();
    await expect(engine.chat(ask(gsm[6].prompt), { signal: pre.signal })).rejects.toMatchObject({ code: 'aborted' });
    const ok = await engine.chat(ask(gsm[6].prompt, { max_tokens: 3 }));
    expect(ok.choices[0].logprobs?.content?.length).toBe(3);
  });

  it('rejects invalid requests', async () => {
    await expect(engine.chat({ messages: [] })).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(engine.chat(ask('x', { stream: true }))).rejects.toMatchObject({ code: 'invalid-input' });
    const longPrompt = 'apples and pears '.repeat(400);
    await expect(engine.chat(ask(longPrompt))).rejects.toThrow(/context is 512/);
  });
});

describe('TransformersEngine load failures', () => {
  it('names the missing folder and that remote models are off', async () => {
    const engine = new TransformersEngine({ model: 'no-such-lm', env });
    const err = await engine.load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgeRouteError);
    expect((err as EdgeRouteError).code).toBe('local-engine-failed');
    expect((err as Error).message).toContain(join(modelsDir, 'no-such-lm', 'config.json'));
    expect((err as Error).message).toContain('env.allowRemoteModels is false');
    expect(engine.status()).toMatchObject({ state: 'failed', error: { code: 'local-engine-failed' } });
    await expect(engine.chat(ask('x'))).rejects.toThrow(/not loaded/);
  });

  it('unload() makes the engine unloaded; load() works again', async () => {
    const engine = new TransformersEngine({ model: MODEL, env, dtype: 'fp32' });
    expect(engine.id).toBe(`transformers:${MODEL}@fp32`);
    await engine.load();
    await engine.unload();
    expect(engine.status().state).toBe('unloaded');
    await expect(engine.chat(ask('x'))).rejects.toMatchObject({ code: 'local-engine-failed' });
    await engine.load();
    expect((await engine.chat(ask('A pen costs $2. How much do 7 pens cost?', { max_tokens: 2 }))).choices[0].logprobs?.content?.length).toBe(2);
    await engine.unload();
  }, 30_000);
});
