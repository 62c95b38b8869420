/**
 * The demo page as `npm start` serves it (tools/demo-server.ts, with the committed replay
 * sample): it starts with the offline defaults (Universal Sentence Encoder lite, the tiny local
 * LM, the replay cloud); the test clicks through settings, chat and the routing lab and saves a
 * screenshot of each under reports/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { startDemoServer, type DemoServer } from '../tools/demo-server';

const root = resolve(import.meta.dirname, '..');
const shots = resolve(root, 'reports/screenshots');
let demo: DemoServer;

test.beforeAll(async () => {
  // No data folder: the demo falls back to the committed sample, as on a fresh clone.
  demo = await startDemoServer({ data: resolve(root, 'does-not-exist') });
  mkdirSync(shots, { recursive: true });
});
test.afterAll(async () => demo?.close());

test('demo: settings, chat with routing details and savings, and the routing lab', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const key = 'sk-demo-test-0123456789abcdef';

  await test.step('starts with the offline defaults', async () => {
    await page.goto(`${demo.url}/`);
    await expect(page.locator('#router-status')).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
    await expect(page.locator('#router-status')).toContainText('use-lite');
    await expect(page.locator('#gpu-status')).toContainText(/WebGPU: .*swiftshader|No WebGPU/);
    await expect(page.locator('#progress-local span')).toContainText('edgeroute-tiny-gsm8k-lm ready', { timeout: 120_000 });
    expect(await page.locator('#progress-embedder progress').evaluate((p: HTMLProgressElement) => p.value)).toBe(1);
  });

  await test.step('settings: a bad price is refused with a clear message, then WASM and short answers apply', async () => {
    await page.click('#nav-settings');
    await expect(page.locator('#tab-settings')).toBeVisible();
    const price = page.locator('#set-cloud-rows tr.cloud-model').first().locator('input[name="usdPerMTokIn"]');
    await price.fill('-1');
    await page.click('#set-apply');
    await expect(page.locator('#settings-problem')).toContainText('input price must be a number ≥ 0');
    await expect(page.locator('#router-status')).toHaveAttribute('data-state', 'ready'); // nothing lost
    await price.fill('2.5');
    await page.selectOption('#set-device', 'wasm');
    await page.fill('#set-max-tokens', '8');
    await page.fill('#set-api-key', key);
    await page.click('#set-apply');
    await expect(page.locator('#settings-problem')).toHaveText('Applied.', { timeout: 180_000 });
    // The restarted worker found the profile in IndexedDB.
    await expect(page.locator('#router-status')).toContainText('from IndexedDB');
    await page.screenshot({ path: resolve(shots, 'demo-settings.png'), fullPage: true });
    const stored = await page.evaluate(() => Object.entries(localStorage).map(([k, v]) => `${k}=${v}`).join('\n'));
    expect(stored).toContain('"device":"wasm"');
    expect(stored).not.toContain(key);
  });

  await test.step('chat: each answer says which model, confidence, escalation, cost and latency', async () => {
    await page.click('#nav-chat');
    for (let i = 0; i < 2; i++) {
      await page.click('#chat-example');
      await expect(page.locator('#chat-input')).not.toHaveValue('');
      await page.click('#chat-send');
      await expect(page.locator('#chat-log li.answer:not(.pending)')).toHaveCount(i + 1, { timeout: 120_000 });
    }
    const metas = await page.locator('#chat-log li.answer small.meta').allTextContents();
    console.log(`demo chat: ${metas.join(' | ')}`);
    for (const meta of metas) {
      expect(meta).toMatch(/^(llama3\.2-1b|gpt-4o|gpt-4o-mini) · /);
      expect(meta).toMatch(/\$\d+\.\d+ · \d+ ms \(embed \d+, decide [\d.]+, local \d+, cloud \d+\)$/);
    }
    await expect(page.locator('#chat-savings')).toHaveAttribute('data-answers', '2');
    await expect(page.locator('#chat-savings')).toContainText(/always gpt-4o: \$[\d.]+ · saved -?\$?[\d.-]+ \(-?\d+%\)/);
    console.log(`demo savings: ${await page.locator('#chat-savings').textContent()}`);
    await page.screenshot({ path: resolve(shots, 'demo-chat.png'), fullPage: true });
  });

  await test.step('lab: curves for every router, moved by the target and by λ', async () => {
    await page.click('#nav-lab');
    await expect(page.locator('#lab-run')).toBeEnabled();
    const labels = await page.locator('#lab-set option').allTextContents();
    expect(labels.some((l) => l.startsWith('cascade-mmlu — committed sample'))).toBe(true);
    await page.selectOption('#lab-set', 'sample:cascade-mmlu');
    await page.selectOption('#lab-limit', '200');
    await page.click('#lab-run');
    await expect(page.locator('#lab-chart')).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
    console.log(`demo lab: ${await page.locator('#lab-message').textContent()}`);
    for (const name of ['random', 'zero-router', 'knn', 'uniroute-kmeans', 'uniroute-learned-map', 'oracle']) {
      await expect(page.locator(`#lab-chart path[data-router="${name}"]`)).toHaveCount(1);
      await expect(page.locator(`#lab-table-body tr[data-router="${name}"]`)).toHaveCount(1);
    }
    await expect(page.locator('#lab-chart circle[data-operating-point]')).toHaveCount(1);
    const point = page.locator('#lab-point');
    await page.locator('#lab-target').fill('10');
    await expect(point).toContainText('calibrated to 10%');
    const low = Number(await point.getAttribute('data-quality'));
    await page.locator('#lab-target').fill('90');
    await expect(point).toContainText('calibrated to 90%');
    const high = Number(await point.getAttribute('data-quality'));
    expect(high).toBeGreaterThan(low); // more cloud, better answers on these sets
    await page.locator('#lab-lambda').fill('0');
    await expect(point).toContainText('at λ = 0');
    await page.locator('#lab-target').fill('40');
    await page.screenshot({ path: resolve(shots, 'demo-lab.png'), fullPage: true });
  });
  expect(errors).toEqual([]);
});
