import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

test.describe('the worker starts through comlink, sees a WebGPU adapter and runs a compute pass', () => {
  // One probe shared by the tests (seconds: the page, the worker and one GPU device).
  let probe: Awaited<ReturnType<typeof probeInWorker>>;

  test.beforeAll(async ({ browser, site }) => {
    const page = await browser.newPage();
    try {
      await page.goto(`${site.url}/iife.html`);
      probe = await probeInWorker(page);
    } finally {
      await page.close();
    }
    console.log(`WebGPU adapter: ${JSON.stringify(probe.adapter)}; shader-f16=${probe.shaderF16}; compute ${probe.compute?.millis.toFixed(1)} ms`);
  });

  test('the worker sees a WebGPU adapter and names it', () => {
    expect(probe.available, probe.reason).toBe(true);
    expect(probe.adapter?.vendor || probe.adapter?.architecture || probe.adapter?.description).toBeTruthy();
  });

  test('a compute pass on the device gives the expected output', () => {
    expect(probe.compute?.ok).toBe(true);
    expect(probe.compute?.output.slice(0, 4)).toEqual([-31, -29, -27, -25]);
  });

  test('the probe destroying its own device is not a lost GPU: generate() with no local model says invalid-config, not device-lost', () => {
    expect(probe.after).toBe('invalid-config');
  });
});

/** Probes WebGPU in a fresh worker, then asks it to generate with no local model configured. */
function probeInWorker(page: Page) {
  return page.evaluate(async () => {
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      const result = await worker.api.probeGpu();
      // The probe destroys its own device; that must not count as a lost GPU: with no local model
      // configured, generate() must say so, not 'device-lost'.
      await worker.api.configure({ embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/' } });
      const after = await worker.api.generate({ messages: [{ role: 'user', content: 'hi' }] }).then(
        () => 'answered',
        (e: { code?: string }) => e.code,
      );
      return { ...result, after };
    } finally {
      worker.terminate();
    }
  });
}

test('a worker URL that does not exist fails with a typed, actionable error', async ({ page, site }) => {
  await page.goto(`${site.url}/iife.html`);
  const failure = await page.evaluate(async () => {
    try {
      await window.EdgeRoute.startEdgeWorker({ workerUrl: '/dist/missing.worker.js' });
      return null;
    } catch (error) {
      const e = error as { name: string; code: string; message: string };
      return { name: e.name, code: e.code, message: e.message };
    }
  });
  expect(failure).toMatchObject({ name: 'EdgeRouteError', code: 'worker-failed' });
  expect(failure?.message).toContain('edgeroute.worker.js');
});
