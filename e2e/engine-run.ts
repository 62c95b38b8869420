/**
 * The in-browser engine end to end: the worker loads the committed tiny models offline
 * (transformers.js on WebGPU/SwiftShader, and again with WebGPU disabled to prove the WASM
 * fallback), embeds, assigns clusters, generates with per-token log-probabilities, and measures
 * a confidence.
 */
import type { Page } from '@playwright/test';
import type { WorkerConfig } from '../src/advanced';
import { expect, test } from './fixtures';

type Device = 'auto' | 'webgpu' | 'wasm';

/** The committed tiny models on `device` (default 'auto'). */
const tiny = (device: Device): WorkerConfig => ({
  embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device },
  local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', device },
});

export interface EngineRun {
  embedder: { id: string; backend: string; fallbackReason?: string; dimension: number };
  local: { state: string; logprobs: boolean };
  profile: { k: number; clusters: number; prompts: number };
  route: { chosenModel: string; clusterProbabilities: number[]; predictedErrors: Record<string, number> };
  answer: { text: string; tokens: { token: string; logprob: number; top: number }[]; confidence: number; method: string };
  math: number[];
  law: number[];
  sampled: { method: string; samples?: number; score: number; semanticEntropy?: number };
}

/**
 * `confidencePrompts`: how many GSM8K and law prompts to answer for the confidence gap;
 * `device`: the transformers.js device of both models ('auto' never picks a software adapter).
 */
export async function runEngine(page: Page, siteUrl: string, confidencePrompts: number, device: Device = 'auto'): Promise<EngineRun> {
  await page.goto(`${siteUrl}/iife.html`);
  return page.evaluate(
    async ({ config, confidencePrompts }) => {
      const [validation, math, law] = await Promise.all(
        ['/fixtures/tiny-validation.json', '/fixtures/gsm8k-heldout.json', '/fixtures/law-questions.json'].map((u) => fetch(u).then((r) => r.json())),
      );
      const worker = await window.EdgeRoute.startEdgeWorker();
      const w = worker.api;
      try {
        await w.configure(config);
        const embedder = await w.loadEmbedder();
        const local = await w.loadLocal();
        const profile = await w.prepareProfile(validation);
        const route = await w.route('A train travels 60 miles per hour for 3 hours. How far does it go?', 0);
        const ask = (content: string) => w.generate({ messages: [{ role: 'user', content }], max_tokens: 16, temperature: 0 });
        type Items = { items: { prompt?: string; question?: string }[] };
        const texts = (set: unknown) => (set as Items).items.map((it) => it.prompt ?? it.question ?? '');
        const first = await ask(texts(math)[0]!);
        const confidences = async (prompts: string[]) => {
          const out: number[] = [];
          for (const p of prompts.slice(0, confidencePrompts)) out.push((await ask(p)).confidence.score);
          return out;
        };
        const tokens = first.completion.choices[0]!.logprobs!.content!;
        // Agreement among sampled answers, grouped by the embedder (the engine-agnostic confidence).
        const sampled = await w.generate({ messages: [{ role: 'user', content: texts(math)[1]! }], max_tokens: 8, temperature: 0.8, seed: 7 }, { samples: 3 });
        return {
          embedder,
          local: { state: local.state, logprobs: local.logprobs },
          profile: { k: profile.k, clusters: profile.clusters, prompts: profile.prompts },
          route: { chosenModel: route.chosenModel, clusterProbabilities: route.clusterProbabilities, predictedErrors: route.predictedErrors },
          answer: {
            text: first.completion.choices[0]!.message.content ?? '',
            tokens: tokens.map((t) => ({ token: t.token, logprob: t.logprob, top: t.top_logprobs[0]!.logprob })),
            confidence: first.confidence.score,
            method: first.confidence.method,
          },
          math: await confidences(texts(math)),
          law: await confidences(texts(law)),
          sampled: sampled.confidence,
        };
      } finally {
        worker.terminate();
      }
    },
    { config: tiny(device), confidencePrompts },
  );
}

/** How one engine run is checked: the backend it must use, and how it is driven. */
export interface EngineRunOptions {
  readonly label: string;
  /** The transformers.js device asked for (default 'auto'). */
  readonly device?: Device;
  /** Where the embedder must run. */
  readonly backend: 'webgpu' | 'wasm';
  /** GSM8K and law prompts answered each for the confidence gap. */
  readonly confidencePrompts: number;
  /** The mean-confidence gap GSM8K − law must exceed this. */
  readonly minGap: number;
  readonly timeoutMs: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * One engine run (minutes on the CPU) shared by a named test per behaviour: call inside a
 * test.describe. A failed test restarts the Playwright worker, which runs the engine again for
 * the tests after it, so each test stands on its own.
 */
export function engineRunTests(options: EngineRunOptions): void {
  let run: EngineRun;
  test.beforeAll(async ({ browser, site }) => {
    test.setTimeout(options.timeoutMs);
    const page = await browser.newPage();
    try {
      run = await runEngine(page, site.url, options.confidencePrompts, options.device);
    } finally {
      await page.close();
    }
    console.log(
      `[${options.label}] embedder ${run.embedder.id} on ${run.embedder.backend}${run.embedder.fallbackReason ? ` (fallback: ${run.embedder.fallbackReason})` : ''}; `
        + `K=${run.profile.k}; routed to ${run.route.chosenModel}; answer ${JSON.stringify(run.answer.text)} `
        + `(${run.answer.tokens.length} tokens, confidence ${run.answer.confidence.toFixed(3)}); `
        + `mean confidence GSM8K ${mean(run.math).toFixed(3)} vs MMLU law ${mean(run.law).toFixed(3)}: gap ${(mean(run.math) - mean(run.law)).toFixed(3)}; `
        + `3 samples: majority share ${run.sampled.score.toFixed(2)}, semantic entropy ${run.sampled.semanticEntropy?.toFixed(2)}`,
    );
  });

  test(`the embedder runs on ${options.backend}`, () => {
    expect(run.embedder.backend).toBe(options.backend);
    // Without WebGPU the worker says why it fell back.
    if (options.backend === 'wasm') expect(run.embedder.fallbackReason).toBeTruthy();
  });

  test('the tiny embedder (128-d) and the local model load offline, the model with log-probs', () => {
    expect(run.embedder.dimension).toBe(128);
    expect(run.local).toEqual({ state: 'ready', logprobs: true });
  });

  test('the profile covers the 40 validation prompts and a route gives P(k|x) over its clusters for every model', () => {
    expect(run.profile.prompts).toBe(40);
    expect(run.route.clusterProbabilities).toHaveLength(run.profile.clusters);
    expect(run.route.clusterProbabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Object.keys(run.route.predictedErrors).sort()).toEqual(['gpt-4o', 'gpt-4o-mini', 'llama3.2-1b']);
  });

  test('greedy generation reports per-token log-probs, each the top-1, and their mean as the confidence', () => {
    expect(run.answer.tokens.length).toBeGreaterThan(0);
    for (const t of run.answer.tokens) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.logprob).toBeCloseTo(t.top, 6); // greedy: the chosen token is the top-1
    }
    expect(run.answer.method).toBe('mean-logprob');
    expect(run.answer.confidence).toBeCloseTo(mean(run.answer.tokens.map((t) => t.logprob)), 6);
  });

  test(`the mean confidence on GSM8K exceeds that on law questions by more than ${options.minGap}`, () => {
    expect(mean(run.math) - mean(run.law)).toBeGreaterThan(options.minGap);
  });

  test('three sampled answers give an agreement share in [1/3, 1] and a semantic entropy ≥ 0', () => {
    expect(run.sampled.method).toBe('sample-agreement');
    expect(run.sampled.samples).toBe(3);
    expect(run.sampled.score).toBeGreaterThanOrEqual(1 / 3);
    expect(run.sampled.score).toBeLessThanOrEqual(1);
    expect(run.sampled.semanticEntropy).toBeGreaterThanOrEqual(0);
  });
}
