import { test, expect } from './fixtures';

test('the worker starts through comlink, sees a WebGPU adapter and runs a compute pass', async ({ page, site }) => {
  await page.goto(`${site.url}/iife.html`);
  const probe = await page.evaluate(async () => {
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      const result = await worker.api.probeGpu();
      // The probe destroys its own device; that must not count as a lost GPU: with no local model
      // configured, generate() must say so, not 'device-lost'.
      await worker.api.configure({ embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/' } });
      const after = await worker.api.generate({ messages: [{ role: 'user', content: 'hi' }] }).then(() => 'answered', (e: { code?: string }) => e.code);
      return { ...result, after };
    } finally {
      worker.terminate();
    }
  });
  console.log(`WebGPU adapter: ${JSON.stringify(probe.adapter)}; shader-f16=${probe.shaderF16}; compute ${probe.compute?.millis.toFixed(1)} ms`);
  expect(probe.available, probe.reason).toBe(true);
  expect(probe.adapter?.vendor || probe.adapter?.architecture || probe.adapter?.description).toBeTruthy();
  expect(probe.compute?.ok).toBe(true);
  expect(probe.compute?.output.slice(0, 4)).toEqual([-31, -29, -27, -25]);
  expect(probe.after).toBe('invalid-config');
});

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
