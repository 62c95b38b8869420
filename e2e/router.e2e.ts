/**
 * The public API end to end: createRouter in the page, the worker with the committed tiny
 * models (WASM), the default profile, and cloud models answered by the replay cloud behind a
 * same-origin proxy (/api/llm/). Prompts are cascade-mmlu items the replay cloud has recorded
 * answers for (23 of the 200 also happen to be in the default profile's validation prompts).
 */
import type { RoutingReport, RouterConfig } from '../src/index';
import { createRng } from '../src/core/random';
import { expect, recordedPrompts, test, TINY_WASM_ENGINES } from './fixtures';

// In a seeded random order, as traffic arrives: the sample file holds its longest prompts (which
// overflow the tiny local model's context, so the cloud answers them after a local failure) in
// one run near its end, where no online controller could make up for them.
const prompts = createRng(2025).shuffle([...recordedPrompts]);
const LOCAL = 'llama3.2-1b';
const TARGET = 0.4;

const CONFIG: RouterConfig = {
  ...TINY_WASM_ENGINES,
  cloud: [
    { id: 'gpt-4o-mini', model: 'gpt-4o-mini', baseURL: '/api/llm/v1', usdPerMTokIn: 0.15, usdPerMTokOut: 0.6 },
    { id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 },
  ],
  profile: '/profiles/default-validation.json',
};

interface RouterRun {
  routed: RoutingReport[];
  answers: { text: string; report: RoutingReport }[];
  pieces: string[];
  streamReport: RoutingReport | undefined;
  aborted: string | undefined;
}

const share = (reports: readonly RoutingReport[]) => reports.filter((r) => r.model !== LOCAL).length / reports.length;

test.describe('route and hybrid over 200 data-set prompts at a 40% cloud-share target through createRouter', () => {
  // One run of 2 × 200 prompts (minutes) shared by the tests; a failed test restarts the
  // Playwright worker, which runs it again for the tests after it.
  let result: RouterRun;

  test.beforeAll(async ({ browser, site }) => {
    test.setTimeout(300_000);
    expect(prompts).toHaveLength(200);
    const page = await browser.newPage();
    try {
      await page.goto(`${site.url}/iife.html`);
      result = await page.evaluate(
        async ({ config, prompts, target }) => {
          const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }], max_tokens: 4, temperature: 0 });
          // 'route': UniRoute alone decides, λ calibrated on the validation prompts to a 40% cloud share.
          const route = await window.EdgeRoute.createRouter({ ...config, mode: 'route', lambda: { kind: 'cloudShare', share: target } });
          const routed = [];
          for (const p of prompts) routed.push((await route.chat.completions.create(ask(p))).edgeroute);
          // 'hybrid' at the same 40% target: half spent by UniRoute before generation, the rest on
          // escalating the least confident local answers.
          const hybrid = await window.EdgeRoute.createRouter({ ...config, mode: 'hybrid', lambda: { kind: 'cloudShare', share: target } });
          route.close();
          const answers = [];
          for (const p of prompts) {
            const a = await hybrid.chat.completions.create(ask(p));
            answers.push({ text: a.choices[0]!.message.content ?? '', report: a.edgeroute });
          }
          // Streaming through the proxy (a prompt the hybrid router sent to the cloud before generating), and abort.
          const cloudPrompt = prompts[answers.findIndex((a) => a.report.routedTo !== 'llama3.2-1b')]!;
          const pieces: string[] = [];
          let streamReport: RoutingReport | undefined;
          for await (const chunk of await hybrid.chat.completions.create({ ...ask(cloudPrompt), stream: true })) {
            pieces.push(chunk.choices[0]?.delta?.content ?? '');
            streamReport = chunk.edgeroute ?? streamReport;
          }
          const controller = new AbortController();
          controller.abort();
          const aborted = await hybrid.chat.completions.create(ask(prompts[0]!), { signal: controller.signal }).then(
            () => 'answered',
            (e) => (e as { code?: string }).code,
          );
          hybrid.close();
          return { routed, answers, pieces, streamReport, aborted };
        },
        { config: CONFIG, prompts, target: TARGET },
      );
    } finally {
      await page.close();
    }
    const escalated = result.answers.filter((a) => a.report.escalated).length;
    const fallbacks = result.answers.filter((a) => a.report.escalated && a.report.localConfidence === undefined).length;
    const preRouted = result.answers.filter((a) => a.report.routedTo !== LOCAL).length;
    const cost = result.answers.reduce((a, x) => a + x.report.costUsd, 0);
    console.log(
      `route: cloud share ${(100 * share(result.routed)).toFixed(1)}% for a ${100 * TARGET}% target (λ=${result.routed[0]!.lambda.toExponential(3)}); `
        + `hybrid: ${result.answers.length} answers, cloud share ${(100 * share(result.answers.map((a) => a.report))).toFixed(1)}% (${preRouted} routed to the cloud before generation, ${escalated - fallbacks} escalated on low confidence, ${fallbacks} after a local failure), cost $${cost.toFixed(4)}; `
        + `streamed ${result.pieces.length} chunks from ${result.streamReport?.model}`,
    );
  });

  test('route: UniRoute alone holds the cloud share within 3 points of the target', () => {
    expect(result.routed).toHaveLength(200);
    expect(Math.abs(share(result.routed) - TARGET)).toBeLessThanOrEqual(0.03);
  });

  test('hybrid: every answer reports P(k|x) and predicted errors and comes from a configured model; cloud answers are letters', () => {
    expect(result.answers).toHaveLength(200);
    for (const a of result.answers) {
      expect(a.report.predictedErrors).toHaveProperty('gpt-4o');
      expect(a.report.clusterProbabilities.length).toBeGreaterThan(0);
      expect([LOCAL, 'gpt-4o', 'gpt-4o-mini']).toContain(a.report.model);
      if (a.report.model !== LOCAL) expect(a.text).toMatch(/^[ABCD]/);
    }
  });

  test('hybrid: pre-routing and low-confidence escalation together hold the cloud share within 3 points of the target', () => {
    expect(Math.abs(share(result.answers.map((a) => a.report)) - TARGET)).toBeLessThanOrEqual(0.03);
    expect(result.answers.filter((a) => a.report.escalated).length).toBeGreaterThan(0);
  });

  test('a cloud answer streams through the same-origin proxy, with the report on the stream', () => {
    expect(result.pieces.join('')).toMatch(/^[ABCD]/);
    expect(result.streamReport?.model).not.toBe(LOCAL);
  });

  test('an aborted request rejects with the aborted code', () => {
    expect(result.aborted).toBe('aborted');
  });
});
