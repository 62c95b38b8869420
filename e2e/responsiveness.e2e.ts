/** The page stays responsive while the worker embeds 500 prompts: main-thread long tasks measured. */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

test.describe('the main thread stays responsive while the worker embeds 500 prompts', () => {
  // One measurement shared by the tests.
  let result: Awaited<ReturnType<typeof embedWithHeartbeat>>;
  let longTotal: number;

  test.beforeAll(async ({ browser, site }) => {
    test.setTimeout(180_000);
    const page = await browser.newPage();
    try {
      await page.goto(`${site.url}/iife.html`);
      result = await embedWithHeartbeat(page);
    } finally {
      await page.close();
    }
    longTotal = result.longTasks.reduce((a, b) => a + b, 0);
    console.log(
      `embedded ${result.count} prompts in ${result.millis.toFixed(0)} ms; heartbeat max gap ${result.maxGap.toFixed(1)} ms over ${result.beats} beats; `
        + `main-thread long tasks: ${result.longTasks.length} (${longTotal.toFixed(0)} ms in total, longest ${Math.max(0, ...result.longTasks).toFixed(0)} ms)`,
    );
  });

  test('the worker embeds all 500 prompts (128-d)', () => {
    expect(result.count).toBe(500);
    expect(result.dimension).toBe(128);
  });

  test('a 10 ms heartbeat on the page is never held up 100 ms or more', () => {
    expect(result.maxGap).toBeLessThan(100);
  });

  test('main-thread long tasks take under a tenth of the embedding time', () => {
    expect(longTotal).toBeLessThan(0.1 * result.millis);
  });
});

/** Embeds 500 prompts in a fresh worker while a heartbeat and a long-task observer watch the page. */
function embedWithHeartbeat(page: Page) {
  return page.evaluate(async () => {
    const worker = await window.EdgeRoute.startEdgeWorker();
    try {
      await worker.api.configure({ embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' } });
      await worker.api.loadEmbedder();
      const set = (await (await fetch('/fixtures/tiny-validation.json')).json()) as { prompts: { prompt: string }[] };
      const texts = Array.from({ length: 500 }, (_, i) => `${set.prompts[i % set.prompts.length]!.prompt} (${i})`);
      const longTasks: number[] = [];
      const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) longTasks.push(e.duration);
      });
      observer.observe({ type: 'longtask', buffered: false });
      // A heartbeat every 10 ms: its largest gap is how long the page could not react.
      let last = performance.now();
      let maxGap = 0;
      let beats = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        beats++;
      }, 10);
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
}
