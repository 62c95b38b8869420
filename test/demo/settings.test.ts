import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { deferralChartSvg, escapeXml } from '../../demo/deferral-chart';
import { addAnswer, bestCloudModel, estimateCallUsd, NO_SAVINGS } from '../../demo/savings';
import { assetsFor, DEFAULT_SETTINGS, loadSettings, parseSettings, resolveCloudBase, saveSettings, toRouterConfig, usesReplayCloud } from '../../demo/settings';
import { addAnswer as addTally, describeTotals } from '../../demo/savings';
import { niceTicks } from '../../demo/deferral-chart';
import { formatLambda } from '../../demo/lab';
import { answeredBy, interleave, routeOf } from '../../demo/chat';
import type { DemoExample } from '../../demo/examples';
import type { RoutingReport } from '../../src/page/router';

function memoryStorage(): { getItem(k: string): string | null; setItem(k: string, v: string): void; data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('demo settings', () => {
  it('round-trips the defaults and turns them into an offline router config', () => {
    expect(parseSettings(JSON.parse(JSON.stringify(DEFAULT_SETTINGS)))).toEqual(DEFAULT_SETTINGS);
    const config = toRouterConfig(DEFAULT_SETTINGS, assetsFor('http://127.0.0.1:5173/demo/index.html'));
    expect(config.embedder).toEqual({
      kind: 'use',
      modelUrl: 'http://127.0.0.1:5173/demo/models/use-lite/model.json',
      vocabUrl: 'http://127.0.0.1:5173/demo/models/use-lite/vocab.json',
    });
    // transformers.js needs a same-origin path here, not a URL.
    expect(config.local).toMatchObject({ kind: 'transformers', localModelPath: '/demo/models/', allowRemoteModels: false, profileId: 'llama3.2-1b' });
    // The in-page replay cloud, relative to the page: under a sub-path on any static host.
    expect(config.cloud.map((m) => m.baseURL)).toEqual(['/demo/replay/v1', '/demo/replay/v1']);
    expect(usesReplayCloud(DEFAULT_SETTINGS, 'http://127.0.0.1:5173/demo/index.html')).toBe(true);
    expect(usesReplayCloud({ ...DEFAULT_SETTINGS, cloudBaseUrl: '/api/llm/v1' }, 'http://127.0.0.1:5173/demo/')).toBe(false);
    expect(resolveCloudBase('https://api.openai.com/v1', 'http://x/a/')).toBe('https://api.openai.com/v1');
    expect(config.lambda).toEqual({ kind: 'cloudShare', share: 0.4 });
  });

  it('refuses bad fields with a typed error naming the field', () => {
    const bad = (patch: Record<string, unknown>): unknown => parseSettings({ ...DEFAULT_SETTINGS, ...patch });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cloudModels: [{ id: 'gpt-4o', model: 'gpt-4o', usdPerMTokIn: '-1', usdPerMTokOut: 1 }] }, /input price must be a number ≥ 0/],
      [{ cloudModels: [{ id: 'x', model: 'x', usdPerMTokIn: 'NaN', usdPerMTokOut: 1 }] }, /input price/],
      [
        {
          cloudModels: [
            { id: 'x', model: 'x', usdPerMTokIn: 1, usdPerMTokOut: 1 },
            { id: 'x', model: 'y', usdPerMTokIn: 1, usdPerMTokOut: 1 },
          ],
        },
        /listed twice/,
      ],
      [{ cloudModels: [] }, /add a cloud model/],
      [{ mode: 'fastest' }, /mode must be one of/],
      [{ cloudShare: 1.5 }, /cloud share/],
      [{ maxTokens: 0 }, /max answer tokens/],
      [{ local: { kind: 'gguf' } }, /unknown local model kind/],
      [{ local: { kind: 'none' }, mode: 'local-only' }, /local-only needs a local model/],
      [{ cloudBaseUrl: ' ' }, /cloud endpoint/],
    ];
    for (const [patch, message] of cases) {
      let thrown: unknown;
      try {
        bad(patch);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(patch)).toBeInstanceOf(EdgeRouteError);
      expect((thrown as EdgeRouteError).code).toBe('invalid-config');
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('stores settings without the API key, and falls back to the defaults on a broken entry', () => {
    const storage = memoryStorage();
    const withKey = { ...DEFAULT_SETTINGS, apiKey: 'sk-secret-1234567890' };
    saveSettings(storage, parseSettings(withKey));
    expect([...storage.data.values()].join()).not.toContain('sk-secret');
    expect(toRouterConfig(loadSettings(storage).settings, assetsFor('http://x/'), 'sk-secret-1234567890').cloud[0]!.apiKey).toBe('sk-secret-1234567890');
    storage.setItem('edgeroute-demo-settings-v2', '{"mode":');
    const loaded = loadSettings(storage);
    expect(loaded.settings).toEqual(DEFAULT_SETTINGS);
    expect(loaded.problem).toMatch(/defaults are in use/);
  });
});

describe('demo savings', () => {
  const best = DEFAULT_SETTINGS.cloudModels[0]!; // gpt-4o, 2.5 / 10 USD per M tokens

  it('counts an answer of the best model at its own cost and estimates the rest', () => {
    expect(estimateCallUsd(best, 400, 40)).toBeCloseTo((100 * 2.5 + 10 * 10) / 1e6, 12);
    let t = addAnswer(NO_SAVINGS, { model: 'gpt-4o', costUsd: 0.001, escalated: false, local: false, promptChars: 400, answerChars: 40 }, best);
    expect(t.baselineUsd).toBe(0.001);
    t = addAnswer(t, { model: 'llama3.2-1b', costUsd: 0, escalated: false, local: true, promptChars: 400, answerChars: 40 }, best);
    expect(t).toMatchObject({ answers: 2, local: 1, escalated: 0, spentUsd: 0.001 });
    expect(t.baselineUsd).toBeCloseTo(0.001 + 350e-6, 12);
  });

  it('picks the configured cloud model with the lowest validation error', () => {
    const profile = [
      { id: 'gpt-4o', globalError: 0.2, cost: 2 },
      { id: 'gpt-4o-mini', globalError: 0.3, cost: 1 },
    ];
    expect(bestCloudModel(DEFAULT_SETTINGS.cloudModels, profile)?.id).toBe('gpt-4o');
    expect(bestCloudModel(DEFAULT_SETTINGS.cloudModels, [])).toBeUndefined();
  });
});

describe('deferral chart', () => {
  it('draws one path per router, a dot per model and the operating point, with escaped labels', () => {
    const svg = deferralChartSvg({
      series: [
        {
          name: 'uni<route>',
          color: '#123',
          curve: [
            { lambda: 0, cost: 0, quality: 0.5 },
            { lambda: 1, cost: 1, quality: 0.8 },
          ],
        },
      ],
      singles: [{ modelId: 'a&b', cost: 1, quality: 0.8 }],
      maxCost: 1,
      point: { cost: 0.5, quality: 0.7, label: 'here' },
    });
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg).toContain('data-router="uni&lt;route&gt;"');
    expect(svg).toContain('a&amp;b');
    expect(svg).toContain('data-operating-point="1"');
    expect(escapeXml(`"'<>&`)).toBe('&quot;&#39;&lt;&gt;&amp;');
    expect(() => deferralChartSvg({ series: [], singles: [], maxCost: 0 })).toThrow(/maxCost/);
  });
});

describe('quality next to cost', () => {
  const best = DEFAULT_SETTINGS.cloudModels[0]!;
  const item = (scores: Record<string, number>): DemoExample => ({
    id: 'x',
    set: 'cascade-mmlu',
    prompt: 'p',
    responses: { 'llama3.2-1b': 'A', 'gpt-4o-mini': 'B', 'gpt-4o': 'B' },
    scores,
    costs: { 'llama3.2-1b': 1e-5, 'gpt-4o-mini': 2e-5, 'gpt-4o': 4e-4 },
    localConfidence: -0.2,
  });
  const usd = (v: number): string => `$${v.toFixed(5)}`;

  it('grades recorded answers against the reference and costs them from the records', () => {
    let t = addTally(
      NO_SAVINGS,
      {
        model: 'llama3.2-1b',
        costUsd: 0,
        escalated: false,
        local: true,
        promptChars: 1,
        answerChars: 1,
        recorded: item({ 'llama3.2-1b': 1, 'gpt-4o-mini': 0, 'gpt-4o': 1 }),
      },
      best,
    );
    t = addTally(
      t,
      {
        model: 'gpt-4o-mini',
        costUsd: 9,
        escalated: true,
        local: false,
        promptChars: 1,
        answerChars: 1,
        recorded: item({ 'llama3.2-1b': 0, 'gpt-4o-mini': 1, 'gpt-4o': 1 }),
      },
      best,
    );
    t = addTally(
      t,
      {
        model: 'llama3.2-1b',
        costUsd: 0,
        escalated: false,
        local: true,
        promptChars: 1,
        answerChars: 1,
        recorded: item({ 'llama3.2-1b': 0, 'gpt-4o-mini': 0, 'gpt-4o': 1 }),
      },
      best,
    );
    expect(t).toMatchObject({ answers: 3, local: 2, escalated: 1, graded: 3, correct: 2, baselineCorrect: 3 });
    expect(t.spentUsd).toBeCloseTo(2e-5, 12); // the device is free; the escalation cost gpt-4o-mini's recorded price
    expect(t.baselineUsd).toBeCloseTo(3 * 4e-4, 12);
    expect(describeTotals(t, 'gpt-4o', usd)).toMatch(
      /^2\/3 correct vs 3\/3 for always gpt-4o, 98% cheaper \(\$0\.00002 vs \$0\.00120\) · 3 answers: 2 on this device, 1 escalated$/,
    );
  });

  it('counts typed questions for cost only, and says so before anything is graded', () => {
    const t = addTally(NO_SAVINGS, { model: 'gpt-4o', costUsd: 0.001, escalated: false, local: false, promptChars: 40, answerChars: 40 }, best);
    expect(t.graded).toBe(0);
    expect(describeTotals(t, 'gpt-4o', usd)).toMatch(/^no recorded prompt yet, so nothing graded, 0% cheaper/);
    expect(describeTotals(NO_SAVINGS, 'gpt-4o', usd)).toMatch(/compared with always calling gpt-4o/);
  });
});

describe('chat labels', () => {
  const report = (over: Partial<RoutingReport>): RoutingReport => ({
    mode: 'hybrid',
    model: 'llama3.2-1b',
    lambda: 0,
    predictedErrors: {},
    clusterProbabilities: [],
    routedTo: 'llama3.2-1b',
    escalated: false,
    degraded: false,
    costUsd: 0,
    latencyMs: { embed: 1, cluster: 0, decide: 0, local: 1, cloud: 0, total: 2 },
    truncated: false,
    notes: [],
    ...over,
  });

  it('names the route and never calls the tiny test model Llama', () => {
    expect(routeOf(report({}), 'llama3.2-1b')).toBe('local');
    expect(routeOf(report({ model: 'gpt-4o-mini', routedTo: 'gpt-4o-mini' }), 'llama3.2-1b')).toBe('cloud');
    expect(routeOf(report({ model: 'gpt-4o', escalated: true }), 'llama3.2-1b')).toBe('escalated');
    const tiny = answeredBy(report({ localConfidence: -3 }), 'local', undefined, false, true, 'edgeroute-tiny-gsm8k-lm');
    expect(tiny).toMatch(/tiny test model .*not Llama/);
    expect(answeredBy(report({ localConfidence: -0.2 }), 'local', undefined, true, true, undefined)).toMatch(/^Recorded Llama-3\.2-1B answer/);
    expect(answeredBy(report({ model: 'gpt-4o' }), 'cloud', undefined, false, true, undefined)).toBe('Recorded gpt-4o answer (replay cloud)');
  });

  it('interleaves examples across sets', () => {
    const e = (set: string, id: string): DemoExample => ({ id, set, prompt: id, responses: {}, scores: {}, costs: {}, localConfidence: 0 });
    expect(interleave([e('a', '1'), e('a', '2'), e('b', '3')]).map((x) => x.id)).toEqual(['1', '3', '2']);
  });
});

describe('lab formatting', () => {
  it('puts ticks at 1, 2, 2.5 or 5 × 10^n and writes λ for people', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.35, 0.9)).toEqual([0.4, 0.6, 0.8]);
    expect(niceTicks(0.55, 0.65)).toEqual([0.56, 0.58, 0.6, 0.62, 0.64]);
    expect(formatLambda(0)).toBe('0');
    expect(formatLambda(0.000123)).toBe('1.2×10⁻⁴');
    expect(formatLambda(35.678)).toBe('35.7');
    expect(formatLambda(1234.5)).toBe('1,235');
  });

  it('labels single-model dots and gives baselines distinct dash patterns', () => {
    const svg = deferralChartSvg({
      series: [
        {
          name: 'random',
          color: '#bcbd22',
          dash: '2 4',
          curve: [
            { lambda: 0, cost: 0, quality: 0.5 },
            { lambda: 1, cost: 1, quality: 0.8 },
          ],
        },
        {
          name: 'oracle',
          color: '#ff7f0e',
          dash: '10 4',
          curve: [
            { lambda: 0, cost: 0, quality: 0.6 },
            { lambda: 1, cost: 1, quality: 0.9 },
          ],
        },
      ],
      singles: [
        { modelId: 'gpt-4o', cost: 1, quality: 0.8 },
        { modelId: 'llama3.2-1b', cost: 0, quality: 0.4 },
      ],
      maxCost: 1,
    });
    expect(svg).toContain('stroke-dasharray="2 4" data-router="random"');
    expect(svg).toContain('stroke-dasharray="10 4" data-router="oracle"');
    expect(svg.match(/class="single-label">(gpt-4o|llama3\.2-1b)</g)).toHaveLength(2);
  });
});
