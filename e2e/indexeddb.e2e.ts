/**
 * IndexedDB going wrong under a running router, in Chromium: a full disk (every put throws
 * QuotaExceededError), an upgrade blocked by another tab holding an older version open, the
 * database deleted mid-session, and two tabs at once. In every case the router keeps answering;
 * the profile lives in memory when it cannot be stored and is computed again when it is gone.
 */
import type { Page } from '@playwright/test';
import type { RouterConfig } from '../src/index';
import { expect, shortestRecordedPrompts, test, TINY_WASM_ENGINES } from './fixtures';

const prompts = shortestRecordedPrompts.slice(0, 40);

const CONFIG: RouterConfig = {
  ...TINY_WASM_ENGINES,
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
  profile: '/fixtures/tiny-validation.json',
  mode: 'hybrid',
};

interface Made {
  ms: number;
  source: string;
  counters: { profilesComputed: number; cacheHits: number; cacheWrites: number; storageFailures: number };
  lastStorageError?: string;
}

type R = Awaited<ReturnType<typeof window.EdgeRoute.createRouter>>;

/** createRouter in `page` as window.router (extra config merged in); what it did with the profile. */
function makeRouter(page: Page, extra: Partial<RouterConfig> = {}): Promise<Made> {
  return page.evaluate(
    async (config) => {
      const started = performance.now();
      const router = await window.EdgeRoute.createRouter(config);
      (window as unknown as { router: R }).router = router;
      const p = router.profile;
      return {
        ms: performance.now() - started,
        source: p.source,
        counters: p.counters,
        ...(p.lastStorageError ? { lastStorageError: p.lastStorageError } : {}),
      };
    },
    { ...CONFIG, ...extra },
  );
}

/** Sends `prompts` at once through window.router; the models that answered (or error codes). */
function askAll(page: Page, list: readonly string[]): Promise<string[]> {
  return page.evaluate((list) => {
    const router = (window as unknown as { router: R }).router;
    return Promise.all(
      list.map((content) =>
        router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 2, temperature: 0 }).then(
          (a) => a.edgeroute.model,
          (e: { code?: string }) => `error:${e.code}`,
        ),
      ),
    );
  }, list);
}

const profileKeys = (page: Page) =>
  page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes('edgeroute')) return [];
    return window.EdgeRoute.kvKeys(window.EdgeRoute.openKvStore('edgeroute', 'profiles'));
  });

const answeredAll = (models: string[]) => {
  for (const m of models) expect(['llama3.2-1b', 'gpt-4o']).toContain(m);
};

test('a full disk (every put throws QuotaExceededError): the profile lives in memory, every request is answered', async ({ page, site }) => {
  test.setTimeout(60_000);
  await page.goto(`${site.url}/iife.html`);
  const made = await makeRouter(page, { worker: { workerUrl: '/fault-worker.js?fault=quota' }, runtimeBaseUrl: '/dist/' });
  console.log(`quota: ${JSON.stringify(made)}`);
  expect(made).toMatchObject({ source: 'computed', counters: { profilesComputed: 1, cacheWrites: 0, storageFailures: 1 } });
  expect(made.lastStorageError).toMatch(/storage quota|quota exceeded/i);
  answeredAll(await askAll(page, prompts.slice(0, 20)));
  expect(await profileKeys(page)).toEqual([]);
});

test('an upgrade blocked by another tab holding an older version open: the router starts within the timeout and answers', async ({ page, site, context }) => {
  test.setTimeout(60_000);
  // The other tab made the database first (without our store) and never lets go of it.
  const other = await context.newPage();
  await other.goto(`${site.url}/iife.html`);
  await other.evaluate(
    () =>
      new Promise<void>((ok, fail) => {
        const request = indexedDB.open('edgeroute', 1);
        request.onupgradeneeded = () => request.result.createObjectStore('cache');
        request.onsuccess = () => {
          const db = request.result;
          db.onversionchange = () => undefined; // an old page that ignores upgrades
          (window as unknown as { held: IDBDatabase }).held = db;
          ok();
        };
        request.onerror = () => fail(request.error);
      }),
  );
  await page.goto(`${site.url}/iife.html`);
  const blocked = await makeRouter(page);
  console.log(`blocked: ${JSON.stringify(blocked)}`);
  expect(blocked).toMatchObject({ source: 'computed', counters: { profilesComputed: 1, cacheWrites: 0 } });
  expect(blocked.counters.storageFailures).toBeGreaterThanOrEqual(1);
  expect(blocked.lastStorageError).toMatch(/blocked for 3000 ms by another connection holding an older version open; close other tabs/);
  expect(blocked.ms).toBeLessThan(15_000);
  answeredAll(await askAll(page, prompts.slice(0, 20)));

  // The other tab goes away: the upgrade goes through, a new router stores its profile, the next one reads it.
  await other.evaluate(() => (window as unknown as { held: IDBDatabase }).held.close());
  await other.close();
  await page.reload();
  const stored = await makeRouter(page);
  expect(stored).toMatchObject({ source: 'computed', counters: { cacheWrites: 1, storageFailures: 0 } });
  await page.reload();
  expect(await makeRouter(page)).toMatchObject({ source: 'hit', counters: { profilesComputed: 0, cacheHits: 1 } });
});

test('the database deleted mid-session: nothing blocks the delete, requests keep being answered, a restarted worker computes the profile again', async ({
  page,
  site,
}) => {
  test.setTimeout(60_000);
  await page.goto(`${site.url}/iife.html`);
  expect(await makeRouter(page)).toMatchObject({ source: 'computed', counters: { cacheWrites: 1 } });
  expect(await profileKeys(page)).toHaveLength(1);
  const run = await page.evaluate(
    async (list) => {
      const router = (window as unknown as { router: R }).router;
      let answered = 0;
      let startedAt = -1;
      const deletion = new Promise<string[]>((resolve) => {
        const events: string[] = [];
        const go = (): void => {
          startedAt = answered;
          const request = indexedDB.deleteDatabase('edgeroute');
          request.onblocked = () => events.push('blocked');
          request.onsuccess = () => resolve([...events, 'deleted']);
          request.onerror = () => resolve([...events, 'error']);
        };
        const poll = setInterval(() => {
          if (answered >= 5) {
            clearInterval(poll);
            go();
          }
        }, 5);
      });
      const models = await Promise.all(
        list.map((content) =>
          router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 2, temperature: 0 }).then(
            (a) => {
              answered++;
              return a.edgeroute.model;
            },
            (e: { code?: string }) => `error:${e.code}`,
          ),
        ),
      );
      return { models, deletion: await deletion, startedAt };
    },
    [...prompts, ...prompts],
  );
  console.log(`delete mid-session: ${JSON.stringify(run.deletion)}, started after ${run.startedAt} of ${run.models.length} answers`);
  answeredAll(run.models);
  expect(run.models).toHaveLength(80);
  // idb-keyval's connection in the worker used to hold the delete back ('blocked') for as long as the worker lived.
  expect(run.deletion).toEqual(['deleted']);
  expect(run.startedAt).toBeLessThan(80);
  expect(await profileKeys(page)).toEqual([]);

  // A new worker (after a crash, here terminate()) finds no cached profile: it computes and stores it again.
  const after = await page.evaluate(async (content) => {
    const router = (window as unknown as { router: R }).router;
    router.worker.terminate();
    const answer = await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 2, temperature: 0 });
    return { model: answer.edgeroute.model, restarts: router.workerRestarts, source: router.profile.source, counters: router.profile.counters };
  }, prompts[0]!);
  console.log(`after the restart: ${JSON.stringify(after)}`);
  expect(after).toMatchObject({ restarts: 1, source: 'computed', counters: { profilesComputed: 1, cacheWrites: 1 } });
  expect(await profileKeys(page)).toHaveLength(1);
});

test('two tabs at once: both routers start and answer, one profile entry is shared', async ({ page, site, context }) => {
  test.setTimeout(60_000);
  const second = await context.newPage();
  await Promise.all([page.goto(`${site.url}/iife.html`), second.goto(`${site.url}/iife.html`)]);
  const [a, b] = await Promise.all([makeRouter(page), makeRouter(second)]);
  console.log(`two tabs: ${JSON.stringify(a)} / ${JSON.stringify(b)}`);
  for (const made of [a, b]) expect(made.counters.storageFailures).toBe(0);
  const [ma, mb] = await Promise.all([askAll(page, prompts.slice(0, 20)), askAll(second, prompts.slice(20, 40))]);
  answeredAll([...ma, ...mb]);
  expect(ma).toHaveLength(20);
  expect(mb).toHaveLength(20);
  expect(await profileKeys(page)).toHaveLength(1);
  await second.reload();
  expect(await makeRouter(second)).toMatchObject({ source: 'hit', counters: { profilesComputed: 0 } });
  await second.close();
});
