/**
 * The demo page as `npm start` serves it (tools/demo-server.ts, here without a data folder, as
 * on a fresh clone): it starts with the offline defaults (Universal Sentence Encoder lite and its
 * shipped profile cache, the tiny local test model, the in-page replay cloud); the test clicks
 * through settings, chat and the routing lab and saves desktop and phone screenshots of each
 * under reports/screenshots/.
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

test('demo: settings, chat with routing details and quality next to cost, and the routing lab', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const key = 'sk-demo-test-0123456789abcdef';
  await page.setViewportSize({ width: 1280, height: 900 });

  await test.step('starts with the offline defaults, the tiny model named as what it is', async () => {
    await page.goto(`${demo.url}/`);
    await expect(page.locator('#router-status')).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
    await expect(page.locator('#router-status')).toContainText('use-lite');
    await expect(page.locator('#gpu-status')).toContainText(/WebGPU: .*swiftshader|No WebGPU/);
    await expect(page.locator('#progress-local .progress-text')).toContainText("edgeroute-tiny-gsm8k-lm ready (the repo's ~1M-parameter test model", {
      timeout: 120_000,
    });
    expect(await page.locator('#progress-embedder progress').evaluate((p: HTMLProgressElement) => p.value)).toBe(1);
    // Each bar is named by its label.
    await expect(page.locator('#progress-profile progress')).toHaveAccessibleName('Routing profile');
  });

  await test.step('settings: a bad price is refused with a clear message, then WASM and short answers apply', async () => {
    await page.click('#nav-settings');
    await expect(page.locator('#tab-settings')).toBeVisible();
    await expect(page.locator('#tab-settings')).toContainText('allows CORS');
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
    await expect(page.locator('#router-status')).toContainText('IndexedDB');
    await page.screenshot({ path: resolve(shots, 'demo-settings.png'), fullPage: true });
    const stored = await page.evaluate(() =>
      Object.entries(localStorage)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    expect(stored).toContain('"device":"wasm"');
    expect(stored).not.toContain(key);
  });

  await test.step('chat: route label, who answered, ✓/✗, cost and latency; quality next to cost', async () => {
    await page.click('#nav-chat');
    for (let i = 0; i < 3; i++) {
      await page.locator('#chat-examples button.example').nth(i).click();
      await expect(page.locator('#chat-log li.answer:not(.pending)')).toHaveCount(i + 1, { timeout: 120_000 });
    }
    const answers = page.locator('#chat-log li.answer');
    for (let i = 0; i < 3; i++) {
      const a = answers.nth(i);
      await expect(a.locator('.badge')).toHaveText(
        /^(⌂ On device|☁ Cloud · gpt-4o(-mini)?, sent before generating|↑ Escalated: low confidence → gpt-4o(-mini)?)$/,
      );
      await expect(a.locator('.who')).toHaveText(/^Recorded (Llama-3\.2-1B|gpt-4o|gpt-4o-mini) answer/);
      await expect(a.locator('.verdict')).toHaveText(/^(✓ correct|✗ wrong.*)$/);
      await expect(a.locator('small.meta')).toHaveText(/cost \$\d+\.\d+ · \d+ ms \(embed \d+, decide [\d.]+, local \d+, cloud \d+\)$/);
    }
    console.log(`demo chat: ${(await answers.allTextContents()).join(' | ')}`);
    await expect(page.locator('#chat-savings')).toHaveAttribute('data-answers', '3');
    await expect(page.locator('#chat-savings')).toHaveText(/^\d\/3 correct vs \d\/3 for always gpt-4o, -?\d+% (cheaper|dearer)/);
    console.log(`demo savings: ${await page.locator('#chat-savings').textContent()}`);
    await page.screenshot({ path: resolve(shots, 'demo-chat.png'), fullPage: true });
  });

  await test.step('lab: curves for every router, moved by the target and by λ', async () => {
    await page.click('#nav-lab');
    await expect(page.locator('#lab-run')).toBeEnabled();
    await page.selectOption('#lab-set', 'static:cascade-medmcqa');
    await page.selectOption('#lab-limit', '200');
    await page.click('#lab-run');
    await expect(page.locator('#lab-chart')).toHaveAttribute('data-state', 'ready', { timeout: 240_000 });
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

  await test.step('phone screenshots (390 px)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ['chat', 'lab', 'settings']) {
      await page.click(`#nav-${tab}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), tab).toBeLessThanOrEqual(0);
      await page.screenshot({ path: resolve(shots, `demo-${tab}-phone.png`), fullPage: true });
    }
  });
  expect(errors).toEqual([]);
});
