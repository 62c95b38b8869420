/** The page stays responsive while the worker embeds 500 prompts: main-thread long tasks measured. */
import { expect, test } from './fixtures';

test('the main thread stays responsive while the worker embeds 500 prompts', async ({ page, site }) => {
  test.setTimeout(180_000);
  await page.goto(`${site.url}/iife.html`);
  const result = await page.evaluate(async () => {
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      await worker.api.configure({ embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' } } as never);
      await worker.api.loadEmbedder();
      const set = await (await fetch('/fixtures/tiny-validation.json')).json() as { prompts: { prompt: string }[] };
      const texts = Array.from({ length: 500 }, (_, i) => `${set.prompts[i % set.prompts.length]!.prompt} (${i})`);
      const longTasks: number[] = [];
      const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push(e.duration); });
      observer.observe({ type: 'longtask', buffered: false });
      // A heartbeat every 10 ms: its largest gap is how long the page could not react.
      let last = performance.now();
      let maxGap = 0;
      let beats = 0;
      const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; beats++; }, 10);
      const started = performance.now();
      const { embeddings } = await worker.api.embed(texts);
      const millis = performance.now() - started;
      clearInterval(timer);
      observer.disconnect();
      return { count: embeddings.length, dimension: embeddings[0]!.length, millis, maxGap, beats, longTasks };
    } finally {
      worker.terminate();
    }
  });
  const longTotal = result.longTasks.reduce((a, b) => a + b, 0);
  console.log(`embedded ${result.count} prompts in ${result.millis.toFixed(0)} ms; heartbeat max gap ${result.maxGap.toFixed(1)} ms over ${result.beats} beats; ` +
    `main-thread long tasks: ${result.longTasks.length} (${longTotal.toFixed(0)} ms in total, longest ${Math.max(0, ...result.longTasks).toFixed(0)} ms)`);
  expect(result.count).toBe(500);
  expect(result.dimension).toBe(128);
  expect(result.maxGap).toBeLessThan(100);
  expect(longTotal).toBeLessThan(0.1 * result.millis);
});
