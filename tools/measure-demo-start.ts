/**
 * Cold and warm start of the demo page: how long from navigation until the router is ready
 * (#router-status data-state="ready"), in a fresh browser profile (empty IndexedDB: a first
 * visit) and then on a reload (a returning visit). Serves the given built site (default
 * dist-site/) from a plain static server under a sub-path, with the embedder forced to WASM and
 * no WebGPU, in Debian's Chromium.
 *
 *   npx tsx tools/measure-demo-start.ts [--site dist-site] [--runs 2] [--query seed=0]
 *
 * `--query seed=0` makes the page skip the shipped profile cache: a first visit as before it existed.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS_NO_WEBGPU, requireChromium } from '../e2e/browser';
import { startStaticServer } from '../dev/static-server';
import { DEFAULT_SETTINGS } from '../demo/settings';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { site: { type: 'string', default: 'dist-site' }, runs: { type: 'string', default: '2' }, query: { type: 'string', default: '' } },
});
const site = await startStaticServer({ mounts: [{ prefix: '/some/sub/path/', dir: resolve(root, values.site) }] });
const url = `${site.url}/some/sub/path/${values.query ? `?${values.query}` : ''}`;
// The demo's own defaults, on WASM (SwiftShader's WebGPU would measure the fallback adapter).
const settings = (cloudBaseUrl: string): string => JSON.stringify({ ...DEFAULT_SETTINGS, cloudBaseUrl, device: 'wasm' });
const browser = await chromium.launch({ executablePath: requireChromium(), args: CHROMIUM_ARGS_NO_WEBGPU });
try {
  for (let run = 1; run <= Number(values.runs); run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Both the old and the new settings keys, so the same script measures a build before and after.
    await page.addInitScript(
      ([a, b]) => {
        if (!localStorage.getItem('edgeroute-demo-settings')) localStorage.setItem('edgeroute-demo-settings', a!);
        if (!localStorage.getItem('edgeroute-demo-settings-v2')) localStorage.setItem('edgeroute-demo-settings-v2', b!);
      },
      [settings('/api/llm/v1'), settings('replay/v1')],
    );
    for (const visit of ['cold (first visit)', 'warm (reload)']) {
      const t0 = Date.now();
      if (visit.startsWith('cold')) await page.goto(url);
      else await page.reload();
      await page.locator('#router-status[data-state="ready"], #router-status[data-state="error"]').waitFor({ timeout: 600_000 });
      const ms = Date.now() - t0;
      const state = await page.locator('#router-status').getAttribute('data-state');
      const text = (await page.locator('#router-status').textContent()) ?? '';
      console.log(`run ${run} ${visit}: router ${state} after ${(ms / 1000).toFixed(1)} s — ${text.slice(0, 200)}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
  await site.close();
}
