/**
 * UniRoute state in IndexedDB, across real page loads: the second load computes nothing
 * (asserted by the worker's counters), and a corrupted entry or one from another embedder is
 * detected and rebuilt, never used.
 */
import type { Page } from '@playwright/test';
import type { EmbedderConfig } from '../src/index';
import { deleteEdgeRouteDatabase, expect, test } from './fixtures';

const TINY_EMBEDDER: EmbedderConfig = { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' };
const USE_EMBEDDER: EmbedderConfig = { kind: 'use', modelUrl: '/use-lite/model.json', vocabUrl: '/use-lite/vocab.json' };

interface Prepared {
  source: string;
  embedderId: string;
  k: number;
  counters: {
    validationPromptsEmbedded: number;
    profilesComputed: number;
    cacheHits: number;
    cacheRebuilds: { stale: number; corrupt: number; otherEmbedder: number };
  };
}

async function prepare(page: Page, embedder: EmbedderConfig): Promise<Prepared> {
  return page.evaluate(async (embedder) => {
    const set = await (await fetch('/fixtures/tiny-validation.json')).json();
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      await worker.api.configure({ embedder });
      const s = await worker.api.prepareProfile(set);
      return { source: s.source, embedderId: s.embedderId, k: s.k, counters: s.counters };
    } finally {
      worker.terminate();
    }
  }, embedder);
}

// Each step starts from the IndexedDB the one before left, so they run in order on one page and
// a failure skips the rest.
test.describe('feature vectors survive a reload; corrupt and other-embedder entries are rebuilt', () => {
  test.describe.configure({ mode: 'serial' });
  let page: Page;
  let first: Prepared;

  test.beforeAll(async ({ browser, site }) => {
    page = await browser.newPage();
    await page.goto(`${site.url}/iife.html`);
    await deleteEdgeRouteDatabase(page);
  });

  test.afterAll(async () => {
    await page?.close();
  });

  test('the first load embeds the 40 validation prompts and computes the profile', async () => {
    test.setTimeout(60_000);
    first = await prepare(page, TINY_EMBEDDER);
    expect(first.source).toBe('computed');
    expect(first.counters.validationPromptsEmbedded).toBe(40);
    expect(first.counters.profilesComputed).toBe(1);
  });

  test('after a reload the profile comes from IndexedDB and nothing is computed', async () => {
    test.setTimeout(60_000);
    await page.reload();
    const second = await prepare(page, TINY_EMBEDDER);
    console.log(`second load: ${JSON.stringify(second.counters)}`);
    expect(second.source).toBe('hit');
    expect(second.counters).toMatchObject({ validationPromptsEmbedded: 0, profilesComputed: 0, cacheHits: 1 });
  });

  test('a corrupted entry is detected and rebuilt, never used, and the rebuilt one is reused', async () => {
    test.setTimeout(60_000);
    // Damage the stored entry as a broken write or a buggy extension could.
    const damaged = await page.evaluate(async () => {
      const store = window.EdgeRoute.openKvStore('edgeroute', 'profiles');
      const keys = await window.EdgeRoute.kvKeys(store);
      const key = keys.find((k) => k.startsWith('uniroute:'))!;
      const entry = await window.EdgeRoute.kvGet<Record<string, unknown>>(store, key);
      await window.EdgeRoute.kvSet(store, key, { ...entry, featureVectors: [new Float64Array([Number.NaN])] });
      return key;
    });
    expect(damaged).toContain(first.embedderId);
    await page.reload();
    const rebuilt = await prepare(page, TINY_EMBEDDER);
    expect(rebuilt.source).toBe('computed');
    expect(rebuilt.counters.cacheRebuilds.corrupt).toBe(1);
    expect(rebuilt.counters.validationPromptsEmbedded).toBe(40);
    expect((await prepare(page, TINY_EMBEDDER)).source).toBe('hit');
  });

  test("another embedder (USE lite, 512-d) does not use the tiny embedder's centroids", async () => {
    test.setTimeout(120_000);
    const other = await prepare(page, USE_EMBEDDER);
    console.log(`USE embedder: ${other.embedderId}, ${JSON.stringify(other.counters)}`);
    expect(other.embedderId).toContain('use-lite');
    expect(other.source).toBe('computed');
    expect(other.counters.cacheRebuilds.otherEmbedder).toBe(1);
    expect((await prepare(page, USE_EMBEDDER)).source).toBe('hit');
  });
});
