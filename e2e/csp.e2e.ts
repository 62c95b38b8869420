/**
 * The app under a strict Content-Security-Policy, `script-src 'self' 'wasm-unsafe-eval'`, sent
 * on every response (so the worker, a module script, runs under it too):
 * - a page with only the drop-in <script> tag and <edgeroute-chat> gets a routed answer typed
 *   into the chat box (local model and embedder on ONNX Runtime's WASM provider);
 * - createRouter with the local model on the WebGPU provider answers, and one with the USE-lite
 *   embedder (TF.js WASM) routes;
 * - the demo site (dist-site/) starts its router and runs its WebGPU check.
 * No violation may be reported: not as a `securitypolicyviolation` event in the page, not as a
 * report to the policy's report-uri (the worker's violations arrive only there), not as a console
 * line (Chromium files CSP violations as DevTools issues, so that check is a backstop). A final
 * control breaks the policy on purpose in the worker and in the page, and must be caught by
 * the event and the reports.
 */
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import type { Page } from '@playwright/test';
import { startStaticServer, type StaticServer } from '../dev/static-server';
import type { RouterConfig } from '../src/index';
import { expect, shortestRecordedPrompts, siteMounts, test } from './fixtures';

const root = resolve(import.meta.dirname, '..');
const prompt = shortestRecordedPrompts[0]!;

const POLICY = "script-src 'self' 'wasm-unsafe-eval'";
const CSP_CONSOLE_LINE = /Content Security Policy|Refused to (evaluate|load|execute|create)/i;
const GPT_4O = { id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 };

/** Collects the violation reports the browser POSTs to report-uri. */
async function reportCollector(): Promise<{ server: Server; url: string; reports: string[] }> {
  const reports: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      reports.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`, reports };
}

const violationsIn = (page: Page) => page.evaluate(() => (window as unknown as { violations: string[] }).violations);

test.describe("the drop-in page, createRouter (WASM, WebGPU, USE-lite) and the demo run under script-src 'self' 'wasm-unsafe-eval' with no violation", () => {
  // One site sending the policy on every response (so the worker, a module script, runs under it
  // too) and one report collector, shared; each test has its own page and checks its own
  // violations: the page's `securitypolicyviolation` events, reports to report-uri (the worker's
  // violations arrive only there) and console lines (a backstop: Chromium files CSP violations
  // as DevTools issues).
  let collector: Awaited<ReturnType<typeof reportCollector>>;
  let site: StaticServer;
  let consoleLines: { worker: boolean; type: string; text: string }[];
  let reportsBefore: number;

  test.beforeAll(async ({ cloud }) => {
    collector = await reportCollector();
    site = await startStaticServer({
      mounts: siteMounts([{ prefix: '/demo/', dir: resolve(root, 'dist-site') }]),
      proxies: [
        { prefix: '/api/llm/', target: new URL('/', cloud.url).href },
        { prefix: '/csp-report/', target: collector.url },
      ],
      headers: { 'Content-Security-Policy': `${POLICY}; report-uri /csp-report/` },
    });
  });

  test.afterAll(async () => {
    await site?.close();
    if (collector) await new Promise<void>((ok) => collector.server.close(() => ok()));
  });

  test.beforeEach(async ({ page }) => {
    consoleLines = [];
    reportsBefore = collector.reports.length;
    page.on('console', (m) => consoleLines.push({ worker: m.worker() !== null, type: m.type(), text: m.text() }));
    // Registered before any page script runs (init scripts are injected by the browser, not subject to the policy).
    await page.addInitScript(() => {
      const w = window as unknown as { violations: string[] };
      w.violations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
    });
  });

  /** No violation in this test's page: not as an event, not as a report, not on the console. */
  async function expectNoViolation(page: Page): Promise<void> {
    const pageViolations = await violationsIn(page);
    await page.waitForTimeout(500); // reports are sent asynchronously
    const clean = { pageViolations, console: consoleLines.filter((l) => CSP_CONSOLE_LINE.test(l.text)), reports: collector.reports.slice(reportsBefore) };
    console.log(
      `violations: ${JSON.stringify(clean)}; ${consoleLines.length} console lines checked (${consoleLines.filter((l) => l.worker).length} from workers)`,
    );
    expect(clean).toEqual({ pageViolations: [], console: [], reports: [] });
  }

  test('the drop-in tag and <edgeroute-chat>: the user types, a routed answer shows', async ({ page }) => {
    test.setTimeout(120_000);
    const response = await page.goto(`${site.url}/dropin.html`);
    expect(response?.headers()['content-security-policy']).toContain(POLICY);
    expect(await page.evaluate(async () => (await window.EdgeRoute.router!).profile.prompts)).toBe(400);
    await page.locator('edgeroute-chat textarea').fill(prompt);
    await page.locator('edgeroute-chat button').click();
    const answer = page.locator('edgeroute-chat li.answer');
    await expect(answer).toHaveCount(1, { timeout: 30_000 });
    const note = await answer.locator('small').textContent();
    console.log(`drop-in under CSP: ${JSON.stringify(await answer.evaluate((li) => li.firstChild?.textContent))} — ${note}`);
    expect(note).toMatch(/^(llama3\.2-1b|gpt-4o)/);
    await expectNoViolation(page);
  });

  test('createRouter with the local model on WebGPU answers (local-only)', async ({ page }) => {
    test.setTimeout(120_000);
    await page.goto(`${site.url}/iife.html`);
    const config: RouterConfig = {
      embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
      local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', device: 'webgpu', profileId: 'llama3.2-1b' },
      cloud: [GPT_4O],
      profile: '/fixtures/tiny-validation.json',
      mode: 'local-only',
    };
    const local = await page.evaluate(
      async ({ config, content }) => {
        const router = await window.EdgeRoute.createRouter(config);
        const a = await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 3, temperature: 0 });
        const status = await router.loadLocal();
        router.close();
        return { model: a.edgeroute.model, text: a.choices[0]!.message.content, backend: status.progress?.text };
      },
      { config, content: prompt },
    );
    console.log(`local model on WebGPU under CSP: ${JSON.stringify(local)}`);
    expect(local.model).toBe('llama3.2-1b');
    expect(local.backend).toMatch(/ready on webgpu/);
    await expectNoViolation(page);
  });

  test('createRouter with the USE-lite embedder (TF.js WASM) routes', async ({ page }) => {
    test.setTimeout(120_000);
    await page.goto(`${site.url}/iife.html`);
    const config: RouterConfig = {
      embedder: { kind: 'use', modelUrl: '/use-lite/model.json', vocabUrl: '/use-lite/vocab.json' },
      cloud: [GPT_4O],
      profile: '/fixtures/tiny-validation.json',
      mode: 'cloud-only',
    };
    const use = await page.evaluate(
      async ({ config, content }) => {
        const router = await window.EdgeRoute.createRouter(config);
        const a = await router.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 3 });
        router.close();
        return { model: a.edgeroute.model, clusters: a.edgeroute.clusterProbabilities.length, embedder: router.profile.embedderId };
      },
      { config, content: prompt },
    );
    console.log(`USE-lite embedder under CSP: ${JSON.stringify(use)}`);
    expect(use).toMatchObject({ model: 'gpt-4o', embedder: expect.stringContaining('use-lite') });
    expect(use.clusters).toBeGreaterThan(0);
    await expectNoViolation(page);
  });

  test('the demo site starts its router with the offline defaults (USE-lite, the tiny local LM) and runs its WebGPU check', async ({ page }) => {
    test.setTimeout(180_000);
    await page.goto(`${site.url}/demo/`);
    await expect(page.locator('#router-status')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    await expect(page.locator('#gpu-status')).toHaveAttribute('data-state', /^(webgpu|wasm)$/, { timeout: 30_000 });
    console.log(`demo under CSP: ${await page.locator('#status').textContent()}`);
    await expectNoViolation(page);
  });

  test('control: an eval in the worker and in the page is caught by the event and the reports', async ({ page }) => {
    await page.goto(`${site.url}/iife.html`);
    const probe = await page.evaluate(async () => {
      const worker = await window.EdgeRoute.startEdgeWorker();
      (window as unknown as { probeWorker: typeof worker }).probeWorker = worker;
      return worker.api.protocolVersion;
    });
    expect(probe).toBeGreaterThan(0);
    const edgeWorker = page.workers().find((w) => w.url().includes('edgeroute.worker.js'))!;
    // Code evaluated through DevTools may eval regardless of the policy, so the attempt runs later, from a timer.
    const inWorker = await edgeWorker.evaluate(
      () =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            try {
              resolve(String(new Function('return 1')()));
            } catch (error) {
              resolve((error as Error).name);
            }
          }, 0),
        ),
    );
    const inPage = await page.evaluate(
      () =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            try {
              // biome-ignore lint/security/noGlobalEval: the test checks that the page's CSP blocks eval.
              resolve(String(eval('1')));
            } catch (error) {
              resolve((error as Error).name);
            }
          }, 0),
        ),
    );
    expect(inWorker).toBe('EvalError');
    expect(inPage).toBe('EvalError');
    expect(await violationsIn(page)).toEqual([expect.stringMatching(/^script-src eval/)]);
    // Both contexts report to report-uri: the worker runs under the policy of its own response.
    const reported = () =>
      collector.reports
        .slice(reportsBefore)
        .map((r) => (JSON.parse(r) as { 'csp-report': { 'document-uri': string; 'blocked-uri': string } })['csp-report'])
        .map((r) => `${new URL(r['document-uri']).pathname} ${r['blocked-uri']}`)
        .sort();
    await expect.poll(reported, { timeout: 10_000 }).toEqual(['/dist/edgeroute.worker.js eval', '/iife.html eval']);
    console.log(`control: worker new Function → ${inWorker}, page eval → ${inPage}; ${collector.reports.length - reportsBefore} report(s)`);
  });
});
