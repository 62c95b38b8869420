/**
 * Fault injection through the public API: 500 requests against a replay cloud that answers a
 * third of them with a fault of every kind (timeout, 429 with Retry-After, 500, malformed JSON,
 * an SSE stream cut mid-way, a reset connection). Every request must end in an answer or a
 * typed error, none may hang past its time bound, and nothing may reject unhandled.
 */
import { resolve } from 'node:path';
import { type ReplayCloud, startReplayCloud } from '../dev/replay-cloud';
import { type StaticServer, startStaticServer } from '../dev/static-server';
import type { RouterConfig } from '../src/index';
import { expect, recordedPrompts, siteMounts, test } from './fixtures';

const root = resolve(import.meta.dirname, '..');
const prompts = recordedPrompts;

const CONFIG: RouterConfig = {
  embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10, timeoutMs: 1000, maxRetries: 2 }],
  profile: '/profiles/default-validation.json',
  mode: 'cloud-only',
};

interface Outcome {
  kind: 'answer' | 'empty' | 'error';
  code?: string;
  name?: string;
  ms: number;
  stream: boolean;
}

test.describe('500 requests with every fault type mixed in: each ends in an answer or a typed error', () => {
  // One run of the 500 requests shared by the tests (a failed test restarts the Playwright
  // worker, which runs them again for the tests after it).
  let cloud: ReplayCloud | undefined;
  let site: StaticServer | undefined;
  let result: { outcomes: Outcome[]; unhandled: string[] };
  const pageErrors: string[] = [];

  test.beforeAll(async ({ browser }) => {
    test.setTimeout(300_000);
    cloud = await startReplayCloud({
      data: resolve(root, 'test/fixtures/replay-sample.jsonl'),
      port: 0,
      seed: 11,
      faultRate: 0.35,
      faults: ['timeout', '429', '500', 'malformed-json', 'cut-stream', 'reset'],
      retryAfterSeconds: 0,
      hangMs: 3000,
    });
    site = await startStaticServer({ mounts: siteMounts(), proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }] });
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await page.goto(`${site.url}/iife.html`);
      result = await page.evaluate(
        async ({ config, prompts }) => {
          const unhandled: string[] = [];
          window.addEventListener('unhandledrejection', (e) => unhandled.push(String(e.reason)));
          const router = await window.EdgeRoute.createRouter(config);
          const outcomes: Outcome[] = [];
          let next = 0;
          const one = async (i: number): Promise<void> => {
            const stream = i % 4 === 0; // a quarter streamed, so cut streams are exercised
            const request = { messages: [{ role: 'user' as const, content: prompts[i % prompts.length]! }], max_tokens: 4 };
            const started = performance.now();
            try {
              if (stream) {
                let text = '';
                for await (const chunk of await router.chat.completions.create({ ...request, stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
                outcomes.push({ kind: text ? 'answer' : 'empty', ms: performance.now() - started, stream });
              } else {
                const answer = await router.chat.completions.create(request);
                outcomes.push({ kind: answer.choices[0]?.message.content ? 'answer' : 'empty', ms: performance.now() - started, stream });
              }
            } catch (error) {
              const e = error as { name?: string; code?: string };
              outcomes.push({
                kind: 'error',
                ms: performance.now() - started,
                stream,
                ...(e.name ? { name: e.name } : {}),
                ...(e.code ? { code: e.code } : {}),
              });
            }
          };
          // 25 callers at a time, 500 requests in all.
          await Promise.all(
            Array.from({ length: 25 }, async () => {
              while (next < 500) await one(next++);
            }),
          );
          await new Promise((r) => setTimeout(r, 200));
          router.close();
          return { outcomes, unhandled };
        },
        { config: CONFIG, prompts },
      );
    } finally {
      await page.close();
    }
    const slowest = Math.max(...result.outcomes.map((o) => o.ms));
    console.log(
      `500 requests: ${JSON.stringify(counts())}; slowest ${slowest.toFixed(0)} ms; server saw ${cloud.stats.requests} requests, faults ${JSON.stringify(cloud.stats.faults)}`,
    );
  });

  test.afterAll(async () => {
    await site?.close();
    await cloud?.close();
  });

  const counts = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const o of result.outcomes) {
      const key = o.kind === 'error' ? `error:${o.code}` : o.kind;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  };

  test('every request ends in a non-empty answer or a typed cloud-* EdgeRouteError', () => {
    expect(result.outcomes).toHaveLength(500);
    for (const o of result.outcomes) {
      expect(o.kind).not.toBe('empty');
      if (o.kind === 'error') {
        expect(o.name).toBe('EdgeRouteError');
        expect(o.code).toMatch(/^cloud-/);
      }
    }
  });

  test('no request outlives its time bound', () => {
    // 3 attempts × 1 s timeout + backoff (≤ 0.5 s + 1 s) + waiting behind 24 others for the embedder.
    expect(Math.max(...result.outcomes.map((o) => o.ms))).toBeLessThan(15_000);
  });

  test('nothing rejects unhandled and the page throws nothing', () => {
    expect(result.unhandled).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  test('more than half of the requests are answered despite a 35% fault rate', () => {
    expect(counts()['answer'] ?? 0).toBeGreaterThan(250);
  });
});
