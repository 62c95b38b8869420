/**
 * Fault injection through the public API: 500 requests against a replay cloud that answers a
 * third of them with a fault of every kind (timeout, 429 with Retry-After, 500, malformed JSON,
 * an SSE stream cut mid-way, a reset connection). Every request must end in an answer or a
 * typed error, none may hang past its time bound, and nothing may reject unhandled.
 */
import { resolve } from 'node:path';
import { startReplayCloud } from '../dev/replay-cloud';
import { startStaticServer } from '../dev/static-server';
import { expect, recordedPrompts, siteMounts, test } from './fixtures';

const root = resolve(import.meta.dirname, '..');
const prompts = recordedPrompts;

test('500 requests with every fault type mixed in: each ends in an answer or a typed error', async ({ page }) => {
  test.setTimeout(300_000);
  const cloud = await startReplayCloud({
    data: resolve(root, 'test/fixtures/replay-sample.jsonl'), port: 0, seed: 11,
    faultRate: 0.35, faults: ['timeout', '429', '500', 'malformed-json', 'cut-stream', 'reset'],
    retryAfterSeconds: 0, hangMs: 3000,
  });
  const site = await startStaticServer({
    mounts: siteMounts(),
    proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }],
  });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  try {
    await page.goto(`${site.url}/iife.html`);
    const result = await page.evaluate(async ({ prompts }) => {
      const unhandled: string[] = [];
      window.addEventListener('unhandledrejection', (e) => unhandled.push(String(e.reason)));
      const router = await window.EdgeRoute.createRouter({
        embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
        cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10, timeoutMs: 1000, maxRetries: 2 }],
        profile: '/profiles/default-validation.json',
        mode: 'cloud-only',
      } as never);
      const outcomes: { kind: string; code?: string; name?: string; ms: number; stream: boolean }[] = [];
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
          outcomes.push({ kind: 'error', ms: performance.now() - started, stream, ...(e.name ? { name: e.name } : {}), ...(e.code ? { code: e.code } : {}) });
        }
      };
      // 25 callers at a time, 500 requests in all.
      await Promise.all(Array.from({ length: 25 }, async () => { while (next < 500) await one(next++); }));
      await new Promise((r) => setTimeout(r, 200));
      router.close();
      return { outcomes, unhandled };
    }, { prompts });
    const counts: Record<string, number> = {};
    for (const o of result.outcomes) counts[o.kind === 'error' ? `error:${o.code}` : o.kind] = (counts[o.kind === 'error' ? `error:${o.code}` : o.kind] ?? 0) + 1;
    const slowest = Math.max(...result.outcomes.map((o) => o.ms));
    console.log(`500 requests: ${JSON.stringify(counts)}; slowest ${slowest.toFixed(0)} ms; server saw ${cloud.stats.requests} requests, faults ${JSON.stringify(cloud.stats.faults)}`);
    expect(result.outcomes).toHaveLength(500);
    for (const o of result.outcomes) {
      expect(o.kind).not.toBe('empty');
      if (o.kind === 'error') {
        expect(o.name).toBe('EdgeRouteError');
        expect(o.code).toMatch(/^cloud-/);
      }
    }
    // 3 attempts × 1 s timeout + backoff (≤ 0.5 s + 1 s) + waiting behind 24 others for the embedder.
    expect(slowest).toBeLessThan(15_000);
    expect(result.unhandled).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(counts['answer'] ?? 0).toBeGreaterThan(250);
  } finally {
    await site.close();
    await cloud.close();
  }
});
