/** The same engine run with WebGPU disabled: everything must fall back to WASM. */
import { CHROMIUM_ARGS_NO_WEBGPU, requireChromium } from './browser';
import { checkRun, runEngine } from './engine-run';
import { expect, test } from './fixtures';

test.use({ launchOptions: { executablePath: requireChromium(), args: CHROMIUM_ARGS_NO_WEBGPU } });

test('worker without WebGPU falls back to WASM for the embedder and the local model', async ({ page, site }) => {
  test.setTimeout(240_000);
  const run = await runEngine(page, site.url, 20);
  checkRun(run, 'wasm', 0.2);
  expect(run.embedder.backend).toBe('wasm');
  expect(run.embedder.fallbackReason).toBeTruthy();
});
