import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, requireChromium } from './e2e/browser';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.e2e.ts',
  outputDir: 'test-results',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: requireChromium(), args: CHROMIUM_ARGS },
  },
});
