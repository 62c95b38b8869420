/**
 * Progressive start and offline routing in Chromium, through createRouter with the repo's tiny
 * models: while the local model is still loading the cloud answers the prompts routed to it (the
 * report says why); once it is loaded it answers them; with the browser offline
 * (navigator.onLine false) the local model answers even what UniRoute sends to the cloud.
 */
import type { RouterConfig } from '../src/index';
import { expect, shortestRecordedPrompts, test, TINY_WASM_ENGINES } from './fixtures';

const { progressiveStart: _pinned, ...engines } = TINY_WASM_ENGINES;
const base = {
  ...engines,
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
  profile: '/profiles/default-validation.json',
  mode: 'route',
} satisfies RouterConfig;
const prompt = shortestRecordedPrompts[0]!;

test.describe('progressive start', () => {
  test('the cloud answers local-routed prompts while the local model loads, the local model once it is ready', async ({ page, site }) => {
    test.setTimeout(120_000);
    await page.goto(`${site.url}/iife.html`);
    const result = await page.evaluate(
      async ({ config, content }) => {
        // λ huge: UniRoute sends every prompt to the free local model.
        const router = await window.EdgeRoute.createRouter({ ...config, lambda: 1e6 });
        const before = router.localReadiness();
        const first = await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 4 });
        const loaded = await router.loadLocal();
        const after = router.localReadiness();
        const second = await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 4 });
        router.close();
        return { before, first: first.edgeroute, loaded: loaded.state, after, second: second.edgeroute };
      },
      { config: base, content: prompt },
    );
    console.log(
      `progressive start: ${JSON.stringify({ before: result.before, first: [result.first.routedTo, result.first.model, result.first.notes], after: result.after, second: result.second.model })}`,
    );
    expect(result.first.routedTo).toBe('llama3.2-1b');
    if (result.before.state === 'loading') {
      // Asked at once: the model was still loading, so the cloud answered and said why.
      expect(result.first.model).toBe('gpt-4o');
      expect(result.first.notes.join(' ')).toMatch(/The local model is still loading \(\d+%\); gpt-4o answered meanwhile\./);
    }
    expect(result.loaded).toBe('ready');
    expect(result.after).toEqual({ state: 'ready' });
    expect(result.second.model).toBe('llama3.2-1b');
    expect(result.second.notes).toEqual([]);
  });

  test('offline, the local model answers what UniRoute sends to the cloud, without escalating', async ({ page, site }) => {
    test.setTimeout(120_000);
    await page.goto(`${site.url}/iife.html`);
    await page.evaluate(async (config) => {
      // λ = 0: quality first, so UniRoute prefers gpt-4o for the prompt.
      const router = await window.EdgeRoute.createRouter({ ...config, lambda: 0, mode: 'hybrid' });
      await router.loadLocal();
      (window as unknown as { router: typeof router }).router = router;
    }, base);
    await page.context().setOffline(true);
    const report = await page.evaluate(async (content) => {
      const router = (window as unknown as { router: Awaited<ReturnType<typeof window.EdgeRoute.createRouter>> }).router;
      const answer = await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 4 });
      return { online: navigator.onLine, ...answer.edgeroute };
    }, prompt);
    await page.context().setOffline(false);
    console.log(`offline: ${JSON.stringify({ online: report.online, routedTo: report.routedTo, model: report.model, notes: report.notes })}`);
    expect(report.online).toBe(false);
    expect(report.routedTo).toBe('gpt-4o');
    expect(report.model).toBe('llama3.2-1b');
    expect(report.escalated).toBe(false);
    expect(report.notes.join(' ')).toMatch(/offline: the local model answered instead of gpt-4o/);
  });
});
