/**
 * The worker dies, or loses its GPU, while the local model is generating. The request in flight
 * gets the cloud's answer (hybrid/cascade) or a typed error (local-only), never a hang; the next
 * request runs on a fresh worker, set up again with the profile from IndexedDB.
 *
 * The local model is asked for up to 400 tokens, which takes seconds (~11 ms a token on WASM,
 * ~0.2 s on WebGPU/SwiftShader), so it is still generating half a second after the request
 * starts; WebGPU is used only where a GPU device is needed. The worker is loaded through
 * e2e/pages/fault-worker.js?fault=capture-gpu, which keeps each GPUDevice it creates so the test
 * can destroy it; the worker itself is edgeroute's, unchanged.
 */
import type { Page, Worker } from '@playwright/test';
import type { RouterConfig, RouterMode } from '../src/index';
import { expect, shortestRecordedPrompts, test } from './fixtures';

const prompt = shortestRecordedPrompts[0]!;

const config = (mode: RouterMode, device: 'wasm' | 'webgpu'): RouterConfig => ({
  embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
  local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', device, profileId: 'llama3.2-1b' },
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
  profile: '/fixtures/tiny-validation.json',
  worker: { workerUrl: '/fault-worker.js?fault=capture-gpu' },
  runtimeBaseUrl: '/dist/',
  mode,
});

interface Outcome {
  ok: boolean;
  text?: string;
  model?: string;
  escalated?: boolean;
  notes?: string[];
  code?: string;
  typed?: boolean;
  message?: string;
  ms: number;
}

/** Creates a router in the page as window.router, with one short local answer so the model is loaded. */
async function startRouter(page: Page, mode: RouterMode, device: 'wasm' | 'webgpu'): Promise<void> {
  await page.evaluate(
    async (cfg) => {
      const w = window as unknown as { router: Awaited<ReturnType<typeof window.EdgeRoute.createRouter>>; unhandled: string[] };
      w.unhandled = [];
      window.addEventListener('unhandledrejection', (e) => w.unhandled.push(String(e.reason)));
      w.router = await window.EdgeRoute.createRouter(cfg);
      await w.router.chat.completions.create({ messages: [{ role: 'user', content: 'Tom has 3 apples.' }], max_tokens: 2, temperature: 0 });
    },
    config(mode, device),
  );
}

/** Starts a long local generation; resolves with how it ended. */
function ask(page: Page, maxTokens: number): Promise<Outcome> {
  return page.evaluate(
    async ({ prompt, maxTokens }) => {
      const router = (window as unknown as { router: Awaited<ReturnType<typeof window.EdgeRoute.createRouter>> }).router;
      const started = performance.now();
      try {
        const a = await router.chat.completions.create({ messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0 });
        return {
          ok: true,
          text: a.choices[0]!.message.content ?? '',
          model: a.edgeroute.model,
          escalated: a.edgeroute.escalated,
          notes: [...a.edgeroute.notes],
          ms: performance.now() - started,
        };
      } catch (error) {
        const e = error as { code?: string; message?: string };
        return { ok: false, code: e.code, message: e.message, typed: error instanceof window.EdgeRoute.EdgeRouteError, ms: performance.now() - started };
      }
    },
    { prompt, maxTokens },
  );
}

const state = (page: Page) =>
  page.evaluate(() => {
    const r = window as unknown as { router: Awaited<ReturnType<typeof window.EdgeRoute.createRouter>>; unhandled: string[] };
    return { restarts: r.router.workerRestarts, source: r.router.profile.source, alive: r.router.worker.alive, unhandled: r.unhandled };
  });

const loadLocal = (page: Page) =>
  page.evaluate(async () => (await (window as unknown as { router: Awaited<ReturnType<typeof window.EdgeRoute.createRouter>> }).router.loadLocal()).state);

function edgeWorker(page: Page): Worker {
  const workers = page.workers().filter((w) => w.url().includes('fault-worker.js'));
  expect(workers.length).toBeGreaterThan(0);
  return workers[workers.length - 1]!;
}

test.describe.configure({ mode: 'serial' });

test('the worker closing itself mid-generation: the cloud answers, the next request runs on a new worker', async ({ page, site }) => {
  test.setTimeout(60_000);
  await page.goto(`${site.url}/iife.html`);
  await startRouter(page, 'cascade', 'wasm');
  const doomed = edgeWorker(page);
  const inFlight = ask(page, 400);
  await page.waitForTimeout(500);
  // As a crash would: the worker's global goes away with the generation half done.
  void doomed.evaluate(() => setTimeout(() => self.close(), 0)).catch(() => undefined);
  const during = await inFlight;
  console.log(`in flight when the worker closed: ${JSON.stringify(during)}`);
  expect(during.ok).toBe(true);
  expect(during.model).toBe('gpt-4o');
  expect(during.escalated).toBe(true);
  expect(during.notes).toEqual([expect.stringMatching(/^The local model failed \(worker-failed: .*stopped.*\); gpt-4o answered instead\.$/)]);
  expect(during.text).toMatch(/^[ABCD]/);

  // The new worker loads the local model again; meanwhile (progressive start) the cloud answers
  // and says why, and once it is loaded the local model answers again, on the new worker.
  const next = await ask(page, 2);
  console.log(`next request: ${JSON.stringify(next)}; ${JSON.stringify(await state(page))}`);
  expect(next.ok).toBe(true);
  if (next.model !== 'llama3.2-1b') {
    expect(next.model).toBe('gpt-4o');
    expect(next.notes?.join(' ')).toMatch(/The local model is still loading \(\d+%\); gpt-4o answered meanwhile\./);
  }
  expect(await loadLocal(page)).toBe('ready');
  const after = await ask(page, 2);
  expect(after.ok).toBe(true);
  expect(after.model).toBe('llama3.2-1b');
  expect(await state(page)).toEqual({ restarts: 1, source: 'hit', alive: true, unhandled: [] });
});

test('terminate() mid-generation in local-only mode: a typed error, then the next request is answered locally', async ({ page, site }) => {
  test.setTimeout(60_000);
  await page.goto(`${site.url}/iife.html`);
  await startRouter(page, 'local-only', 'wasm');
  // First an abort mid-generation: it must end the request promptly, not after 400 tokens
  // (the WASM token loop yields to the worker's event loop, so the cancel message gets in).
  const aborted = await page.evaluate(async (prompt) => {
    const router = (window as unknown as { router: Awaited<ReturnType<typeof window.EdgeRoute.createRouter>> }).router;
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 300);
    const code = await router.chat.completions
      .create({ messages: [{ role: 'user', content: prompt }], max_tokens: 400, temperature: 0 }, { signal: controller.signal })
      .then(
        () => 'answered',
        (e: { code?: string }) => e.code,
      );
    const ms = performance.now() - started;
    // The worker is free at once: a short request right after is answered.
    const after = await router.chat.completions.create({ messages: [{ role: 'user', content: prompt }], max_tokens: 2, temperature: 0 });
    return { code, ms, next: after.edgeroute.model };
  }, prompt);
  console.log(`abort at 300 ms: ${JSON.stringify(aborted)}`);
  expect(aborted).toMatchObject({ code: 'aborted', next: 'llama3.2-1b' });
  expect(aborted.ms).toBeLessThan(1_000);
  const inFlight = ask(page, 400);
  await page.waitForTimeout(500);
  await page.evaluate(() => (window as unknown as { router: { worker: { terminate(): void } } }).router.worker.terminate());
  const during = await inFlight;
  console.log(`in flight at terminate(): ${JSON.stringify(during)}`);
  expect(during).toMatchObject({ ok: false, typed: true, code: 'worker-failed' });
  expect(during.ms).toBeLessThan(5_000);

  const next = await ask(page, 2);
  expect(next).toMatchObject({ ok: true, model: 'llama3.2-1b' });
  expect(await state(page)).toEqual({ restarts: 1, source: 'hit', alive: true, unhandled: [] });
});

test('the GPU device lost mid-generation: the cloud answers, and a new worker gets a new device', async ({ page, site }) => {
  test.setTimeout(60_000);
  await page.goto(`${site.url}/iife.html`);
  await startRouter(page, 'cascade', 'webgpu');
  const first = edgeWorker(page);
  expect(await first.evaluate(() => (self as unknown as { edgerouteTestDevices: unknown[] }).edgerouteTestDevices.length)).toBeGreaterThan(0);
  const inFlight = ask(page, 400);
  await page.waitForTimeout(600);
  // GPUDevice.destroy() from outside the engines: its `lost` promise settles as in a real loss.
  await first.evaluate(() => {
    for (const device of (self as unknown as { edgerouteTestDevices: GPUDevice[] }).edgerouteTestDevices) device.destroy();
  });
  const during = await inFlight;
  console.log(`in flight at device loss: ${JSON.stringify(during)}`);
  expect(during).toMatchObject({ ok: true, model: 'gpt-4o', escalated: true });
  expect(during.notes).toEqual([expect.stringMatching(/^The local model failed \(device-lost: The GPU device was lost \(destroyed: .*\) while generating/)]);

  const next = await ask(page, 2);
  console.log(`next request: ${JSON.stringify(next)}`);
  expect(next.ok).toBe(true);
  expect(next.notes).toContainEqual(expect.stringMatching(/The worker had stopped \(its GPU device was lost\); a new one was started/));
  if (next.model !== 'llama3.2-1b') {
    // The new worker's local model still loading: the cloud answered meanwhile (progressive start).
    expect(next.model).toBe('gpt-4o');
    expect(next.notes?.join(' ')).toMatch(/The local model is still loading \(\d+%\); gpt-4o answered meanwhile\./);
  }
  expect(await loadLocal(page)).toBe('ready');
  expect(await ask(page, 2)).toMatchObject({ ok: true, model: 'llama3.2-1b' });
  expect(await state(page)).toEqual({ restarts: 1, source: 'hit', alive: true, unhandled: [] });
  const second = edgeWorker(page);
  expect(second).not.toBe(first);
  expect(await second.evaluate(() => (self as unknown as { edgerouteTestDevices: GPUDevice[] }).edgerouteTestDevices.length)).toBeGreaterThan(0);
});
