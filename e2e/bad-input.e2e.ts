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
import { expect, shortestRecordedPrompts, test, TINY_WASM_ENGINES } from './fixtures';

const recorded = shortestRecordedPrompts[0]!;

const CONFIG = {
  ...TINY_WASM_ENGINES,
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
  profile: '/fixtures/tiny-validation.json',
  mode: 'hybrid',
};

const LONG = `Here is a long passage. ${'The committee met again and nothing was decided. '.repeat(2_100)}Question: what is 2 + 2?`;

test('bad input is a typed error or a documented safe behaviour, and the router keeps answering', async ({ page, site }) => {
  test.setTimeout(90_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The provider for the prompt the replay cloud never recorded: it sees the whole prompt.
  const longBodies: number[] = [];
  await page.route('**/api/llm/v1/chat/completions', async (route) => {
    const body = route.request().postDataJSON() as { model: string; messages: { content: string }[] };
    const content = body.messages.at(-1)!.content;
    if (content.length < 50_000) return route.fallback();
    longBodies.push(content.length);
    return route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({
        id: 'chatcmpl-long', object: 'chat.completion', created: 0, model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: '4' }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 25_000, completion_tokens: 1, total_tokens: 25_001 },
      }),
    });
  });
  await page.goto(`${site.url}/iife.html`);
  await page.evaluate(() => new Promise<void>((ok) => { const r = indexedDB.deleteDatabase('edgeroute'); r.onsuccess = r.onerror = r.onblocked = () => ok(); }));

  const result = await page.evaluate(async ({ config, recorded, long }) => {
    const { createRouter, EdgeRouteError } = window.EdgeRoute;
    const unhandled: string[] = [];
    window.addEventListener('unhandledrejection', (e) => unhandled.push(String(e.reason)));
    const outcome = async (work: () => Promise<unknown>) => {
      try {
        await work();
        return { ok: true };
      } catch (error) {
        return {
          ok: false, typed: error instanceof EdgeRouteError, code: (error as { code?: string }).code,
          message: error instanceof Error ? error.message : `a bare ${typeof error}`,
        };
      }
    };
    const router = await createRouter(config as never);
    const ask = (content: string, extra: Record<string, unknown> = {}) => router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 2, temperature: 0, ...extra } as never);

    // Malformed requests, each followed by a good one.
    const bad: [string, unknown][] = [
      ['empty prompt', { messages: [{ role: 'user', content: '' }] }],
      ['whitespace prompt', { messages: [{ role: 'user', content: ' \n\t  ' }] }],
      ['no messages', { messages: [] }],
      ['messages not an array', { messages: 'hello' }],
      ['unknown role', { messages: [{ role: 'robot', content: 'hi' }] }],
      ['content parts', { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }],
      ['system message last-but-one', { messages: [{ role: 'user', content: 'a' }, { role: 'system', content: 'b' }, { role: 'user', content: 'c' }] }],
      ['assistant message last', { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }],
      ['NaN temperature', { messages: [{ role: 'user', content: 'hi' }], temperature: Number.NaN }],
      ['negative max_tokens', { messages: [{ role: 'user', content: 'hi' }], max_tokens: -5 }],
      ['stream not a boolean', { messages: [{ role: 'user', content: 'hi' }], stream: 'yes' }],
      ['null request', null],
    ];
    const requests = [];
    for (const [name, request] of bad) {
      const error = await outcome(() => router.chat.completions.create(request as never));
      const next = await outcome(() => ask(recorded));
      requests.push({ name, error, nextOk: next.ok });
    }

    // 100k characters: routed on its head and tail, answered by the cloud (too long for the local model).
    const huge = await ask(long);
    // cascade (the local model first, always): too long for its context, so the cloud answers.
    const cascade = await createRouter({ ...config, mode: 'cascade' } as never);
    const hugeCascade = await cascade.chat.completions.create({ messages: [{ role: 'user', content: long }], max_tokens: 2 });
    cascade.close();
    // local-only: the local model cannot take it; a typed error, and the next prompt is answered.
    const localOnly = await createRouter({ ...config, mode: 'local-only' } as never);
    const hugeLocal = await outcome(() => localOnly.chat.completions.create({ messages: [{ role: 'user', content: long }], max_tokens: 2 }));
    const afterHugeLocal = (await localOnly.chat.completions.create({ messages: [{ role: 'user', content: recorded }], max_tokens: 2 })).edgeroute.model;
    localOnly.close();

    // Configuration mistakes: refused before any worker starts.
    const cloud0 = (config as { cloud: Record<string, unknown>[] }).cloud[0]!;
    const configs: [string, unknown][] = [
      ['NaN price', { ...config, cloud: [{ ...cloud0, usdPerMTokIn: Number.NaN }] }],
      ['negative price', { ...config, cloud: [{ ...cloud0, usdPerMTokOut: -2 }] }],
      ['infinite price', { ...config, cloud: [{ ...cloud0, usdPerMTokIn: Infinity }] }],
      ['unknown cloud model id', { ...config, cloud: [{ ...cloud0, id: 'gpt-9' }] }],
      ['unknown local model id', { ...config, local: { ...(config as { local: object }).local, profileId: 'phi-9' } }],
      ['profile that is not a validation set', { ...config, profile: { name: 'x' } }],
      ['profile URL that does not exist', { ...config, profile: '/fixtures/missing.json' }],
    ];
    const configErrors = [];
    for (const [name, c] of configs) configErrors.push({ name, error: await outcome(() => createRouter(c as never)) });

    // A cached profile of the wrong dimension (64-d where the embedder gives 128-d): rebuilt.
    const store = window.EdgeRoute.openKvStore('edgeroute', 'profiles');
    const key = router.profile.cacheKey;
    const entry = (await window.EdgeRoute.kvGet<Record<string, unknown>>(store, key))!;
    const unit64 = (i: number) => { const v = new Float32Array(64); v[i % 64] = 1; return v; };
    const { validationEmbeddings: _dropped, ...rest } = entry;
    await window.EdgeRoute.kvSet(store, key, { ...rest, dimension: 64, centroids: (entry.centroids as Float32Array[]).map((_, i) => unit64(i)) });
    const wrongDim = await createRouter(config as never);
    const wrongDimAnswer = (await wrongDim.chat.completions.create({ messages: [{ role: 'user', content: recorded }], max_tokens: 2 })).edgeroute.model;
    const wrongDimProfile = { source: wrongDim.profile.source, rebuilds: wrongDim.profile.counters.cacheRebuilds, dimension: wrongDim.profile.dimension };
    wrongDim.close();

    // The same profile stored by another embedder (its id in the key and the entry): not used, replaced.
    const good = (await window.EdgeRoute.kvGet<Record<string, unknown>>(store, key))!;
    const otherId = 'transformers:some-other-embedder@fp32';
    const otherKey = key.replace(String(good.embedderId), otherId);
    await window.EdgeRoute.kvSet(store, otherKey, { ...good, embedderId: otherId });
    await window.EdgeRoute.kvDelete(store, key);
    const other = await createRouter(config as never);
    const otherProfile = { source: other.profile.source, rebuilds: other.profile.counters.cacheRebuilds, embedderId: other.profile.embedderId };
    const keysAfter = await window.EdgeRoute.kvKeys(store);
    other.close();

    const last = await ask(recorded);
    router.close();
    return {
      requests, configErrors, unhandled,
      huge: { model: huge.edgeroute.model, text: huge.choices[0]!.message.content, truncated: huge.edgeroute.truncated, notes: huge.edgeroute.notes, routedTo: huge.edgeroute.routedTo },
      hugeCascade: { model: hugeCascade.edgeroute.model, escalated: hugeCascade.edgeroute.escalated, truncated: hugeCascade.edgeroute.truncated, notes: hugeCascade.edgeroute.notes },
      hugeLocal, afterHugeLocal, wrongDimProfile, wrongDimAnswer, otherProfile, otherKey, key, keysAfter,
      last: last.edgeroute.model,
    };
  }, { config: CONFIG, recorded, long: LONG });

  console.log(`malformed requests: ${result.requests.map((r) => `${r.name} → ${r.error.code}`).join('; ')}`);
  console.log(`100k prompt: ${JSON.stringify(result.huge)}; cascade: ${JSON.stringify(result.hugeCascade)}; local-only: ${JSON.stringify(result.hugeLocal)}`);
  console.log(`config errors: ${result.configErrors.map((c) => `${c.name} → ${c.error.code}`).join('; ')}`);
  console.log(`wrong-dimension cache: ${JSON.stringify(result.wrongDimProfile)}; other-embedder cache: ${JSON.stringify(result.otherProfile)}`);

  expect(result.requests).toHaveLength(12);
  for (const r of result.requests) {
    expect(r.error, r.name).toMatchObject({ ok: false, typed: true, code: 'invalid-input' });
    expect(r.nextOk, `answered after ${r.name}`).toBe(true);
  }

  expect(result.huge).toMatchObject({ model: 'gpt-4o', text: '4', truncated: true });
  expect(result.huge.notes[0]).toMatch(/^The prompt \(\d{6} characters\) is longer than the embedder's window: only \d{3} characters of it, its head and tail, were embedded/);
  expect(result.hugeCascade).toMatchObject({ model: 'gpt-4o', escalated: true, truncated: true });
  expect(result.hugeCascade.notes).toEqual([
    result.huge.notes[0],
    expect.stringMatching(/^The local model failed \(local-engine-failed: The prompt is \d+ tokens, but edgeroute-tiny-gsm8k-lm's context is 512.*\); gpt-4o answered instead\.$/),
  ]);
  expect(longBodies).toEqual([LONG.length, LONG.length]);
  expect(result.hugeLocal).toMatchObject({ ok: false, typed: true, code: 'local-engine-failed', message: expect.stringMatching(/context is 512; shorten it or send it to the cloud model/) });
  expect(result.afterHugeLocal).toBe('llama3.2-1b');

  expect(result.configErrors).toHaveLength(7);
  for (const c of result.configErrors) expect(c.error, c.name).toMatchObject({ ok: false, typed: true, code: 'invalid-config' });

  expect(result.wrongDimProfile).toEqual({ source: 'computed', rebuilds: { stale: 0, corrupt: 1, otherEmbedder: 0 }, dimension: 128 });
  expect(result.wrongDimAnswer).toBeTruthy();
  expect(result.otherProfile).toMatchObject({ source: 'computed', rebuilds: { stale: 0, corrupt: 0, otherEmbedder: 1 } });
  expect(result.otherProfile.embedderId).not.toContain('some-other-embedder');
  expect(result.keysAfter).toEqual([result.key]);
  expect(result.last).toBeTruthy();
  expect(result.unhandled).toEqual([]);
  expect(pageErrors).toEqual([]);
});
