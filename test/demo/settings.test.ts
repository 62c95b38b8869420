import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { deferralChartSvg, escapeXml } from '../../demo/deferral-chart';
import { addAnswer, bestCloudModel, estimateCallUsd, NO_SAVINGS } from '../../demo/savings';
import { assetsFor, DEFAULT_SETTINGS, loadSettings, parseSettings, saveSettings, toRouterConfig } from '../../demo/settings';

function memoryStorage(): { getItem(k: string): string | null; setItem(k: string, v: string): void; data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('demo settings', () => {
  it('round-trips the defaults and turns them into an offline router config', () => {
    expect(parseSettings(JSON.parse(JSON.stringify(DEFAULT_SETTINGS)))).toEqual(DEFAULT_SETTINGS);
    const config = toRouterConfig(DEFAULT_SETTINGS, assetsFor('http://127.0.0.1:5173/demo/index.html'));
    expect(config.embedder).toEqual({ kind: 'use', modelUrl: 'http://127.0.0.1:5173/demo/models/use-lite/model.json', vocabUrl: 'http://127.0.0.1:5173/demo/models/use-lite/vocab.json' });
    // transformers.js needs a same-origin path here, not a URL.
    expect(config.local).toMatchObject({ kind: 'transformers', localModelPath: '/demo/models/', allowRemoteModels: false, profileId: 'llama3.2-1b' });
    expect(config.cloud.map((m) => m.baseURL)).toEqual(['/api/llm/v1', '/api/llm/v1']);
    expect(config.lambda).toEqual({ kind: 'cloudShare', share: 0.4 });
  });

  it('refuses bad fields with a typed error naming the field', () => {
    const bad = (patch: Record<string, unknown>): unknown => parseSettings({ ...DEFAULT_SETTINGS, ...patch });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cloudModels: [{ id: 'gpt-4o', model: 'gpt-4o', usdPerMTokIn: '-1', usdPerMTokOut: 1 }] }, /input price must be a number ≥ 0/],
      [{ cloudModels: [{ id: 'x', model: 'x', usdPerMTokIn: 'NaN', usdPerMTokOut: 1 }] }, /input price/],
      [{ cloudModels: [{ id: 'x', model: 'x', usdPerMTokIn: 1, usdPerMTokOut: 1 }, { id: 'x', model: 'y', usdPerMTokIn: 1, usdPerMTokOut: 1 }] }, /listed twice/],
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
    storage.setItem('edgeroute-demo-settings', '{"mode":');
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
    const profile = [{ id: 'gpt-4o', globalError: 0.2, cost: 2 }, { id: 'gpt-4o-mini', globalError: 0.3, cost: 1 }];
    expect(bestCloudModel(DEFAULT_SETTINGS.cloudModels, profile)?.id).toBe('gpt-4o');
    expect(bestCloudModel(DEFAULT_SETTINGS.cloudModels, [])).toBeUndefined();
  });
});

describe('deferral chart', () => {
  it('draws one path per router, a dot per model and the operating point, with escaped labels', () => {
    const svg = deferralChartSvg({
      series: [{ name: 'uni<route>', color: '#123', curve: [{ lambda: 0, cost: 0, quality: 0.5 }, { lambda: 1, cost: 1, quality: 0.8 }] }],
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
