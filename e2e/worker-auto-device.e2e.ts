/**
 * device 'auto' on a software WebGPU adapter: the test browser's only adapter is SwiftShader
 * (a CPU emulation, where start-up took 492–515 s against 12 s on WASM), so 'auto' must load
 * the embedder and the local model on WASM and say why; an explicit 'webgpu' still uses it
 * (engine.e2e.ts).
 */
import { expect, test } from './fixtures';

test("device 'auto' skips the SwiftShader adapter: WASM for the embedder and the local model, with the reason", async ({ page, site }) => {
  test.setTimeout(120_000);
  await page.goto(`${site.url}/iife.html`);
  const result = await page.evaluate(async () => {
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      const probe = await worker.api.probeGpu();
      await worker.api.configure({
        embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'auto' },
        local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', device: 'auto' },
      });
      const embedder = await worker.api.loadEmbedder();
      const local = await worker.api.loadLocal();
      return { adapter: probe.adapter, embedder, local };
    } finally {
      worker.terminate();
    }
  });
  console.log(
    `adapter ${JSON.stringify(result.adapter)}; embedder on ${result.embedder.backend} (${result.embedder.fallbackReason}); local on ${result.local.backend} (${result.local.fallbackReason})`,
  );
  // The premise: the adapter is a software one, by its flag or its name.
  const named = [result.adapter?.vendor, result.adapter?.architecture, result.adapter?.description].join(' ');
  expect(result.adapter?.isFallbackAdapter === true || /swiftshader/i.test(named)).toBe(true);
  expect(result.embedder.backend).toBe('wasm');
  expect(result.embedder.fallbackReason).toMatch(/software fallback adapter|SwiftShader/);
  expect(result.local).toMatchObject({ state: 'ready', backend: 'wasm' });
  expect(result.local.fallbackReason).toMatch(/software fallback adapter|SwiftShader/);
});
