/**
 * UniRoute state in IndexedDB, across real page loads: the second load computes nothing
 * (asserted by the worker's counters), and a corrupted entry or one from another embedder is
 * detected and rebuilt, never used.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

const TINY_EMBEDDER = { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' } as const;
const USE_EMBEDDER = { kind: 'use', modelUrl: '/use-lite/model.json', vocabUrl: '/use-lite/vocab.json' } as const;

interface Prepared {
  source: string;
  embedderId: string;
  k: number;
  counters: { validationPromptsEmbedded: number; profilesComputed: number; cacheHits: number; cacheRebuilds: { stale: number; corrupt: number; otherEmbedder: number } };
}

async function prepare(page: Page, embedder: unknown): Promise<Prepared> {
  return page.evaluate(async (embedderConfig) => {
    const set = await (await fetch('/fixtures/tiny-validation.json')).json();
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      await worker.api.configure({ embedder: embedderConfig } as never);
      const s = await worker.api.prepareProfile(set);
      return { source: s.source, embedderId: s.embedderId, k: s.k, counters: s.counters };
    } finally {
      worker.terminate();
    }
  }, embedder);
}

test('feature vectors survive a reload; corrupt and other-embedder entries are rebuilt', async ({ page, site }) => {
  test.setTimeout(180_000);
  await page.goto(`${site.url}/iife.html`);
  await page.evaluate(() => new Promise<void>((ok) => { const r = indexedDB.deleteDatabase('edgeroute'); r.onsuccess = r.onerror = r.onblocked = () => ok(); }));

  const first = await prepare(page, TINY_EMBEDDER);
  expect(first.source).toBe('computed');
  expect(first.counters.validationPromptsEmbedded).toBe(40);
  expect(first.counters.profilesComputed).toBe(1);

  await page.reload();
  const second = await prepare(page, TINY_EMBEDDER);
  console.log(`second load: ${JSON.stringify(second.counters)}`);
  expect(second.source).toBe('hit');
  expect(second.counters).toMatchObject({ validationPromptsEmbedded: 0, profilesComputed: 0, cacheHits: 1 });

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

  // Another embedder (USE lite, 512-d) must not use the tiny embedder's centroids.
  const other = await prepare(page, USE_EMBEDDER);
  console.log(`USE embedder: ${other.embedderId}, ${JSON.stringify(other.counters)}`);
  expect(other.embedderId).toContain('use-lite');
  expect(other.source).toBe('computed');
  expect(other.counters.cacheRebuilds.otherEmbedder).toBe(1);
  expect((await prepare(page, USE_EMBEDDER)).source).toBe('hit');
});
