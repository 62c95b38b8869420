/**
 * Bad input through createRouter in Chromium: each is a typed EdgeRouteError or a documented
 * safe behaviour, never a bare value thrown, and the router answers the next request.
 * - empty / whitespace prompts, malformed message arrays and parameters → 'invalid-input';
 * - a 100,000-character prompt → routed on its head and tail (the embedder's window), the report
 *   says `truncated` with a note, and the model is sent the whole prompt; too long for the local
 *   model's context, it is answered by the cloud (hybrid) or refused with a typed error (local-only);
 * - NaN / negative / infinite prices, unknown model ids → 'invalid-config' before anything starts;
 * - a cached profile of the wrong dimension, or of another embedder → rebuilt, never used.
 * The replay cloud knows only recorded prompts, so the one novel (100k) prompt is answered by a
 * Playwright route that stands in for the provider.
 */
import type { JSHandle, Page } from '@playwright/test';
import type { ChatCompletionRequest, Router, RouterConfig } from '../src/index';
import { deleteEdgeRouteDatabase, expect, shortestRecordedPrompts, test, TINY_WASM_ENGINES } from './fixtures';

const recorded = shortestRecordedPrompts[0]!;

const CONFIG: RouterConfig = {
  ...TINY_WASM_ENGINES,
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
  profile: '/fixtures/tiny-validation.json',
  mode: 'hybrid',
};

const LONG = `Here is a long passage. ${'The committee met again and nothing was decided. '.repeat(2_100)}Question: what is 2 + 2?`;

/** The note a router adds when the prompt is longer than the embedder's window. */
const TRUNCATED_NOTE = /^The prompt \(\d{6} characters\) is longer than the embedder's window: only \d{3} characters of it, its head and tail, were embedded/;

/** An outcome the page can send back: a typed error keeps its class, code and message. */
interface Outcome {
  ok: boolean;
  typed?: boolean;
  code?: string | undefined;
  message?: string;
}

test.describe('bad input is a typed error or a documented safe behaviour, and the router keeps answering', () => {
  // One page and one hybrid router (worker, tiny models, profile) shared by the tests; each test
  // leaves the router answering and the profile cache valid, so none depends on another's order.
  let page: Page;
  let router: JSHandle<Router>;
  let unhandled: JSHandle<string[]>;
  const pageErrors: string[] = [];
  /** Lengths of the prompts the stand-in provider was sent (the replay cloud never saw a 100k prompt). */
  const longBodies: number[] = [];

  test.beforeAll(async ({ browser, site }) => {
    test.setTimeout(90_000);
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The provider for the prompt the replay cloud never recorded: it sees the whole prompt.
    await page.route('**/api/llm/v1/chat/completions', async (route) => {
      const body = route.request().postDataJSON() as { model: string; messages: { content: string }[] };
      const content = body.messages.at(-1)!.content;
      if (content.length < 50_000) return route.fallback();
      longBodies.push(content.length);
      return route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          id: 'chatcmpl-long',
          object: 'chat.completion',
          created: 0,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: '4' }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 25_000, completion_tokens: 1, total_tokens: 25_001 },
        }),
      });
    });
    await page.goto(`${site.url}/iife.html`);
    await deleteEdgeRouteDatabase(page);
    unhandled = await page.evaluateHandle(() => {
      const reasons: string[] = [];
      window.addEventListener('unhandledrejection', (e) => reasons.push(String(e.reason)));
      return reasons;
    });
    router = await page.evaluateHandle((config) => window.EdgeRoute.createRouter(config), CONFIG);
  });

  test.afterEach(async () => {
    // Never a bare value thrown, never a rejection nobody handles.
    expect(await unhandled.jsonValue()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  test.afterAll(async () => {
    await router?.evaluate((r) => r.close());
    await page?.close();
  });

  test('malformed requests are invalid-input errors, and the next request is answered each time', async () => {
    const requests = await router.evaluate(async (router, recorded) => {
      const outcome = async (work: () => Promise<unknown>): Promise<Outcome> => {
        try {
          await work();
          return { ok: true };
        } catch (error) {
          return {
            ok: false,
            typed: error instanceof window.EdgeRoute.EdgeRouteError,
            code: (error as { code?: string }).code,
            message: error instanceof Error ? error.message : `a bare ${typeof error}`,
          };
        }
      };
      const bad: [string, unknown][] = [
        ['empty prompt', { messages: [{ role: 'user', content: '' }] }],
        ['whitespace prompt', { messages: [{ role: 'user', content: ' \n\t  ' }] }],
        ['no messages', { messages: [] }],
        ['messages not an array', { messages: 'hello' }],
        ['unknown role', { messages: [{ role: 'robot', content: 'hi' }] }],
        // Text parts are OpenAI's and accepted; an image part is not something edgeroute takes.
        ['image content part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }],
        [
          'system message last-but-one',
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'system', content: 'b' },
              { role: 'user', content: 'c' },
            ],
          },
        ],
        [
          'assistant message last',
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: 'b' },
            ],
          },
        ],
        ['NaN temperature', { messages: [{ role: 'user', content: 'hi' }], temperature: Number.NaN }],
        ['negative max_tokens', { messages: [{ role: 'user', content: 'hi' }], max_tokens: -5 }],
        ['stream not a boolean', { messages: [{ role: 'user', content: 'hi' }], stream: 'yes' }],
        ['null request', null],
      ];
      const out = [];
      for (const [name, request] of bad) {
        // Wrong on purpose, so not a ChatCompletionRequest whatever its type says.
        const error = await outcome(() => router.chat.completions.create(request as ChatCompletionRequest & { stream?: false }));
        const next = await outcome(() => router.chat.completions.create({ messages: [{ role: 'user', content: recorded }], max_tokens: 2, temperature: 0 }));
        out.push({ name, error, nextOk: next.ok });
      }
      return out;
    }, recorded);
    console.log(`malformed requests: ${requests.map((r) => `${r.name} → ${r.error.code}`).join('; ')}`);
    expect(requests).toHaveLength(12);
    for (const r of requests) {
      expect(r.error, r.name).toMatchObject({ ok: false, typed: true, code: 'invalid-input' });
      expect(r.nextOk, `answered after ${r.name}`).toBe(true);
    }
  });

  test('hybrid: a 100,000-character prompt is routed on its head and tail and answered by the cloud with the whole prompt', async () => {
    const sent = longBodies.length;
    const huge = await router.evaluate(async (router, long) => {
      const a = await router.chat.completions.create({ messages: [{ role: 'user', content: long }], max_tokens: 2, temperature: 0 });
      return {
        model: a.edgeroute.model,
        text: a.choices[0]!.message.content,
        truncated: a.edgeroute.truncated,
        notes: a.edgeroute.notes,
        routedTo: a.edgeroute.routedTo,
      };
    }, LONG);
    console.log(`100k prompt: ${JSON.stringify(huge)}`);
    expect(huge).toMatchObject({ model: 'gpt-4o', text: '4', truncated: true });
    expect(huge.notes[0]).toMatch(TRUNCATED_NOTE);
    expect(longBodies.slice(sent)).toEqual([LONG.length]);
  });

  test('cascade: a prompt too long for the local context is escalated to the cloud, with both notes', async () => {
    const sent = longBodies.length;
    const hugeCascade = await page.evaluate(
      async ({ config, long }) => {
        const cascade = await window.EdgeRoute.createRouter({ ...config, mode: 'cascade' });
        try {
          const a = await cascade.chat.completions.create({ messages: [{ role: 'user', content: long }], max_tokens: 2 });
          return { model: a.edgeroute.model, escalated: a.edgeroute.escalated, truncated: a.edgeroute.truncated, notes: a.edgeroute.notes };
        } finally {
          cascade.close();
        }
      },
      { config: CONFIG, long: LONG },
    );
    console.log(`100k prompt, cascade: ${JSON.stringify(hugeCascade)}`);
    expect(hugeCascade).toMatchObject({ model: 'gpt-4o', escalated: true, truncated: true });
    expect(hugeCascade.notes).toEqual([
      expect.stringMatching(TRUNCATED_NOTE),
      expect.stringMatching(
        /^The local model failed \(local-engine-failed: The prompt is \d+ tokens, but edgeroute-tiny-gsm8k-lm's context is 512.*\); gpt-4o answered instead\.$/,
      ),
    ]);
    expect(longBodies.slice(sent)).toEqual([LONG.length]);
  });

  test('local-only: a prompt too long for the local context is a typed local-engine-failed error, and the next prompt is answered', async () => {
    const result = await page.evaluate(
      async ({ config, long, recorded }) => {
        const localOnly = await window.EdgeRoute.createRouter({ ...config, mode: 'local-only' });
        try {
          let hugeLocal: Outcome;
          try {
            await localOnly.chat.completions.create({ messages: [{ role: 'user', content: long }], max_tokens: 2 });
            hugeLocal = { ok: true };
          } catch (error) {
            hugeLocal = {
              ok: false,
              typed: error instanceof window.EdgeRoute.EdgeRouteError,
              code: (error as { code?: string }).code,
              message: error instanceof Error ? error.message : `a bare ${typeof error}`,
            };
          }
          const after = (await localOnly.chat.completions.create({ messages: [{ role: 'user', content: recorded }], max_tokens: 2 })).edgeroute.model;
          return { hugeLocal, after };
        } finally {
          localOnly.close();
        }
      },
      { config: CONFIG, long: LONG, recorded },
    );
    console.log(`100k prompt, local-only: ${JSON.stringify(result.hugeLocal)}`);
    expect(result.hugeLocal).toMatchObject({
      ok: false,
      typed: true,
      code: 'local-engine-failed',
      message: expect.stringMatching(/context is 512; shorten it or send it to the cloud model/),
    });
    expect(result.after).toBe('llama3.2-1b');
  });

  test('configuration mistakes are invalid-config errors before anything starts', async () => {
    const configErrors = await page.evaluate(async (config) => {
      const cloud0 = config.cloud[0]!;
      const configs: [string, unknown][] = [
        ['NaN price', { ...config, cloud: [{ ...cloud0, usdPerMTokIn: Number.NaN }] }],
        ['negative price', { ...config, cloud: [{ ...cloud0, usdPerMTokOut: -2 }] }],
        ['infinite price', { ...config, cloud: [{ ...cloud0, usdPerMTokIn: Infinity }] }],
        ['unknown cloud model id', { ...config, cloud: [{ ...cloud0, id: 'gpt-9' }] }],
        ['unknown local model id', { ...config, local: { ...config.local!, profileId: 'phi-9' } }],
        ['profile that is not a validation set', { ...config, profile: { name: 'x' } }],
        ['profile URL that does not exist', { ...config, profile: '/fixtures/missing.json' }],
      ];
      const out: { name: string; error: Outcome }[] = [];
      for (const [name, c] of configs) {
        try {
          // Wrong on purpose (some only at run time, some in type too).
          const router = await window.EdgeRoute.createRouter(c as RouterConfig);
          router.close();
          out.push({ name, error: { ok: true } });
        } catch (error) {
          out.push({ name, error: { ok: false, typed: error instanceof window.EdgeRoute.EdgeRouteError, code: (error as { code?: string }).code } });
        }
      }
      return out;
    }, CONFIG);
    console.log(`config errors: ${configErrors.map((c) => `${c.name} → ${c.error.code}`).join('; ')}`);
    expect(configErrors).toHaveLength(7);
    for (const c of configErrors) expect(c.error, c.name).toMatchObject({ ok: false, typed: true, code: 'invalid-config' });
  });

  test('a cached profile of the wrong dimension is rebuilt, never used', async () => {
    const key = await router.evaluate((r) => r.profile.cacheKey);
    const result = await page.evaluate(
      async ({ config, key, recorded }) => {
        // A cached profile of the wrong dimension (64-d where the embedder gives 128-d).
        const { openKvStore, kvGet, kvSet } = window.EdgeRoute;
        const store = openKvStore('edgeroute', 'profiles');
        const entry = (await kvGet<Record<string, unknown>>(store, key))!;
        const unit64 = (i: number) => {
          const v = new Float32Array(64);
          v[i % 64] = 1;
          return v;
        };
        const { validationEmbeddings: _dropped, ...rest } = entry;
        await kvSet(store, key, { ...rest, dimension: 64, centroids: (entry.centroids as Float32Array[]).map((_, i) => unit64(i)) });
        const wrongDim = await window.EdgeRoute.createRouter(config);
        try {
          const answer = (await wrongDim.chat.completions.create({ messages: [{ role: 'user', content: recorded }], max_tokens: 2 })).edgeroute.model;
          return {
            answer,
            profile: { source: wrongDim.profile.source, rebuilds: wrongDim.profile.counters.cacheRebuilds, dimension: wrongDim.profile.dimension },
          };
        } finally {
          wrongDim.close();
        }
      },
      { config: CONFIG, key, recorded },
    );
    console.log(`wrong-dimension cache: ${JSON.stringify(result.profile)}`);
    expect(result.profile).toEqual({ source: 'computed', rebuilds: { stale: 0, corrupt: 1, otherEmbedder: 0 }, dimension: 128 });
    expect(result.answer).toBeTruthy();
  });

  test('a profile cached by another embedder is not used, and is replaced', async () => {
    const key = await router.evaluate((r) => r.profile.cacheKey);
    const result = await page.evaluate(
      async ({ config, key }) => {
        // The same profile stored by another embedder (its id in the key and the entry).
        const { openKvStore, kvGet, kvSet, kvDelete, kvKeys } = window.EdgeRoute;
        const store = openKvStore('edgeroute', 'profiles');
        const good = (await kvGet<Record<string, unknown>>(store, key))!;
        const otherId = 'transformers:some-other-embedder@fp32';
        await kvSet(store, key.replace(String(good.embedderId), otherId), { ...good, embedderId: otherId });
        await kvDelete(store, key);
        const other = await window.EdgeRoute.createRouter(config);
        try {
          return {
            profile: { source: other.profile.source, rebuilds: other.profile.counters.cacheRebuilds, embedderId: other.profile.embedderId },
            keysAfter: await kvKeys(store),
          };
        } finally {
          other.close();
        }
      },
      { config: CONFIG, key },
    );
    console.log(`other-embedder cache: ${JSON.stringify(result.profile)}`);
    expect(result.profile).toMatchObject({ source: 'computed', rebuilds: { stale: 0, corrupt: 0, otherEmbedder: 1 } });
    expect(result.profile.embedderId).not.toContain('some-other-embedder');
    expect(result.keysAfter).toEqual([key]);
  });

  test('after all of the above the shared router still answers', async () => {
    const last = await router.evaluate(
      async (router, recorded) =>
        (await router.chat.completions.create({ messages: [{ role: 'user', content: recorded }], max_tokens: 2, temperature: 0 })).edgeroute.model,
      recorded,
    );
    expect(last).toBeTruthy();
  });
});
