/** A plain HTML page with only the edgeroute <script> tag and <edgeroute-chat> gets a routed answer. */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, recordedPrompts, test } from './fixtures';

const root = resolve(import.meta.dirname, '..');
const prompt = recordedPrompts[0]!;

// One page, in order: the router must be ready before the user types into the chat.
test.describe('the script tag alone creates a router and <edgeroute-chat> shows a routed answer', () => {
  test.describe.configure({ mode: 'serial' });
  let page: Page;

  test.beforeAll(async ({ browser, site }) => {
    page = await browser.newPage();
    await page.goto(`${site.url}/dropin.html`);
  });

  test.afterAll(async () => {
    await page?.close();
  });

  test('the router is ready (embedder, 400-prompt profile) before the user types', async () => {
    test.setTimeout(60_000);
    expect(await page.evaluate(async () => (await window.EdgeRoute.router!).profile.prompts)).toBe(400);
  });

  test('a typed prompt gets one routed answer noting its model, cost and latency', async () => {
    test.setTimeout(90_000);
    await page.locator('edgeroute-chat textarea').fill(prompt);
    await page.locator('edgeroute-chat button').click();
    const answer = page.locator('edgeroute-chat li.answer');
    await expect(answer).toHaveCount(1, { timeout: 60_000 });
    const note = await answer.locator('small').textContent();
    console.log(`drop-in answer: ${JSON.stringify(await answer.evaluate((li) => li.firstChild?.textContent))} — ${note}`);
    expect(note).toMatch(/^(llama3\.2-1b|gpt-4o)/);
    expect(note).toMatch(/\$\d+\.\d{5} · \d+ ms$/);
    mkdirSync(resolve(root, 'reports/screenshots'), { recursive: true });
    await page.screenshot({ path: resolve(root, 'reports/screenshots/dropin.png'), fullPage: true });
  });
});
