/**
 * The built demo (dist-site/) on a plain static host under a sub-path, GitHub Pages style: only
 * dist-site/ is served, no replay server, no lab server, no proxy. The page must route recorded
 * prompts with the in-page replay cloud, grade them, explain a typed question, stop cleanly,
 * run the lab from its static sets, lay out on a 390 px phone without horizontal scrolling and
 * pass axe with no serious or critical violation. Screenshots go to reports/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { startStaticServer, type StaticServer } from '../dev/static-server';

const root = resolve(import.meta.dirname, '..');
const shots = resolve(root, 'reports/screenshots');
const SUB = '/edgeroute/demo/';
let site: StaticServer;

test.beforeAll(async () => {
  site = await startStaticServer({ mounts: [{ prefix: SUB, dir: resolve(root, 'dist-site') }] });
  mkdirSync(shots, { recursive: true });
});
test.afterAll(async () => site?.close());

async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

test('static host under a sub-path: routed, graded answers from the in-page replay cloud, lab, phone, axe', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));

  await test.step('first visit: the router is ready from the shipped profile cache, no validation prompt embedded', async () => {
    await page.goto(`${site.url}${SUB}`);
    const status = page.locator('#router-status');
    await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
    await expect(status).toHaveAttribute('data-seed', 'seeded');
    await expect(status).toHaveAttribute('data-profile-source', 'hit');
    await expect(status).toContainText('precomputed cache shipped with the page');
    console.log(`static site: ${await status.textContent()}`);
    // Everything came from under the sub-path: relative URLs throughout.
    expect(requests.filter((p) => !p.startsWith(SUB))).toEqual([]);
  });

  await test.step('recorded prompts: route label, recorded Llama-3.2-1B or cloud answer, ✓/✗, quality next to cost', async () => {
    const examples = page.locator('#chat-examples button.example');
    await expect(examples).toHaveCount(6);
    expect(new Set(await page.locator('#chat-examples .set').allTextContents())).toEqual(new Set(['MMLU', 'MedMCQA']));
    for (let i = 0; i < 4; i++) {
      await examples.nth(i).click();
      await expect(page.locator('#chat-log li.answer:not(.pending)')).toHaveCount(i + 1, { timeout: 120_000 });
    }
    const answers = page.locator('#chat-log li.answer');
    for (let i = 0; i < 4; i++) {
      const a = answers.nth(i);
      await expect(a).toHaveAttribute('data-route', /^(local|cloud|escalated)$/);
      const route = await a.getAttribute('data-route');
      const badge = (await a.locator('.badge').textContent()) ?? '';
      const who = (await a.locator('.who').textContent()) ?? '';
      if (route === 'local') {
        expect(badge).toBe('⌂ On device');
        expect(who).toMatch(/^Recorded Llama-3\.2-1B answer/);
      } else {
        expect(badge).toMatch(route === 'cloud' ? /^☁ Cloud · gpt-4o(-mini)?, sent before generating$/ : /^↑ Escalated: low confidence → gpt-4o(-mini)?$/);
        expect(who).toMatch(/^Recorded gpt-4o(-mini)? answer \(replay cloud\)$/);
      }
      await expect(a.locator('.verdict')).toHaveText(/^(✓ correct|✗ wrong.*)$/);
      console.log(
        `static site answer ${i + 1}: ${badge} | ${who} | ${await a.locator('.content').textContent()} | ${await a.locator('.verdict').textContent()}`,
      );
    }
    const savings = page.locator('#chat-savings');
    await expect(savings).toHaveText(
      /^\d\/4 correct vs \d\/4 for always gpt-4o, -?\d+% (cheaper|dearer) \(\$[\d.]+ vs \$[\d.]+\) · 4 answers: \d on this device, \d escalated$/,
    );
    console.log(`static site savings: ${await savings.textContent()}`);
    // The log follows the newest answer.
    expect(await page.locator('#chat-log').evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight)).toBeLessThan(80);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: resolve(shots, 'static-chat-desktop.png'), fullPage: true });
  });

  await test.step('a typed question: said plainly what ran, or why the replay cloud cannot answer', async () => {
    await page.fill('#chat-input', 'Why is the sky blue?');
    await page.click('#chat-send');
    const last = page.locator('#chat-log li.answer').last();
    await expect(last).not.toHaveClass(/pending/, { timeout: 120_000 });
    const text = (await last.textContent()) ?? '';
    console.log(`static site typed question: ${text.slice(0, 300)}`);
    expect(text).not.toMatch(/Recorded Llama/);
    expect(text).toMatch(/tiny test model .*not Llama|only knows the example prompts/);
    await expect(last).not.toHaveClass(/error/);
  });

  await test.step('Stop ends an answer as "Stopped", not as an error', async () => {
    // local-only: the tiny test model generates a long answer on WASM, so Stop lands mid-answer.
    await page.click('#nav-settings');
    await page.selectOption('#set-mode', 'local-only');
    await page.click('#set-apply');
    await expect(page.locator('#settings-problem')).toHaveText('Applied.', { timeout: 120_000 });
    await page.click('#nav-chat');
    await page.fill('#chat-input', 'Tell me a long story about a cat.');
    await page.click('#chat-send');
    await expect(page.locator('#chat-stop')).toBeEnabled();
    await page.waitForTimeout(300);
    await page.click('#chat-stop');
    const last = page.locator('#chat-log li.answer').last();
    await expect(last).toHaveClass(/stopped/, { timeout: 60_000 });
    await expect(last.locator('.badge')).toHaveText('■ Stopped');
    await expect(page.locator('#chat-send')).toBeEnabled();
  });

  await test.step('tabs: arrow keys move between them', async () => {
    await page.focus('#nav-chat');
    await page.keyboard.press('ArrowRight');
    await expect(page.locator('#nav-lab')).toBeFocused();
    await expect(page.locator('#nav-lab')).toHaveAttribute('aria-selected', 'true');
    await expect(page.locator('#tab-lab')).toBeVisible();
    await page.keyboard.press('End');
    await expect(page.locator('#tab-settings')).toBeVisible();
    await page.keyboard.press('ArrowRight');
    await expect(page.locator('#tab-chat')).toBeVisible();
  });

  await test.step('lab from static sets: no server paths, curves and explanations', async () => {
    await page.click('#nav-lab');
    await expect(page.locator('#lab-run')).toBeEnabled();
    const labels = await page.locator('#lab-set option').allTextContents();
    expect(labels.join('\n')).not.toMatch(/\/(work|home|tmp)\/|\.\.\//);
    // The lab embeds every prompt in the page: 200 prompts of a static set keep the test short.
    await page.selectOption('#lab-set', 'static:cascade-mmlu');
    await page.selectOption('#lab-limit', '200');
    await page.click('#lab-run');
    await expect(page.locator('#lab-chart')).toHaveAttribute('data-state', 'ready', { timeout: 240_000 });
    for (const name of ['random', 'oracle', 'uniroute-kmeans']) await expect(page.locator(`#lab-chart path[data-router="${name}"]`)).toHaveCount(1);
    expect(await page.locator('#lab-chart .single-label').count()).toBeGreaterThan(0);
    await expect(page.locator('dl.explain')).toContainText('quality-neutral cost');
    // The shipped profile's set reuses the embeddings the router holds: nothing is embedded again.
    await page.selectOption('#lab-set', 'profile:edgeroute-default');
    await page.selectOption('#lab-limit', '400');
    await page.click('#lab-run');
    await expect(page.locator('#lab-chart')).toHaveAttribute('data-embeddings', 'profile', { timeout: 60_000 });
    await expect(page.locator('#lab-chart')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
    await expect(page.locator('#lab-message')).toContainText('edgeroute-default: 280 prompts to fit');
    await page.screenshot({ path: resolve(shots, 'static-lab-desktop.png'), fullPage: true });
  });

  await test.step('axe: no serious or critical violation on any tab', async () => {
    for (const tab of ['chat', 'lab', 'settings']) {
      await page.click(`#nav-${tab}`);
      expect(await seriousViolations(page), tab).toEqual([]);
    }
  });

  await test.step('phone (390 px): no horizontal overflow on any tab', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ['chat', 'lab', 'settings']) {
      await page.click(`#nav-${tab}`);
      expect(await horizontalOverflow(page), tab).toBeLessThanOrEqual(0);
      await page.screenshot({ path: resolve(shots, `static-${tab}-phone.png`), fullPage: true });
    }
  });
  expect(errors).toEqual([]);
});
