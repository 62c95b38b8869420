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
