/** A plain HTML page with only the edgeroute <script> tag and <edgeroute-chat> gets a routed answer. */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, recordedPrompts, test } from './fixtures';

const root = resolve(import.meta.dirname, '..');
const prompt = recordedPrompts[0]!;

test('the script tag alone creates a router and <edgeroute-chat> shows a routed answer', async ({ page, site }) => {
  test.setTimeout(120_000);
  await page.goto(`${site.url}/dropin.html`);
  // The router is ready (embedder, profile) before the user types.
  expect(await page.evaluate(async () => (await window.EdgeRoute.router!).profile.prompts)).toBe(400);
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
