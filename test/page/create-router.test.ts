/**
 * createRouter checks its configuration before it starts anything: bad prices, unknown or
 * duplicate model ids, a bad threshold or profile are each an EdgeRouteError('invalid-config')
 * saying what to fix. (In Node there is no Worker, so a valid config gets as far as
 * 'worker-failed', which shows the checks ran first.)
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { checkRouterConfig, createRouter, type RouterConfig } from '../../src/page/create-router';
import type { ValidationSet } from '../../src/common/validation-set';

const set = JSON.parse(readFileSync(resolve(import.meta.dirname, '../fixtures/tiny-validation.json'), 'utf8')) as ValidationSet;

const base: RouterConfig = {
  embedder: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/' },
  local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', localModelPath: '/models/', profileId: 'llama3.2-1b' },
  cloud: [{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 10 }],
  profile: set,
};
const cloud0 = base.cloud[0]!;

async function failure(config: unknown): Promise<{ code?: string; message: string; typed: boolean }> {
  try {
    await createRouter(config as RouterConfig);
  } catch (error) {
    return { code: (error as EdgeRouteError).code, message: (error as Error).message, typed: error instanceof EdgeRouteError };
  }
  throw new Error('createRouter did not fail');
}

describe('createRouter configuration checks', () => {
  const cases: [string, unknown, RegExp][] = [
    ['NaN input price', { ...base, cloud: [{ ...cloud0, usdPerMTokIn: Number.NaN }] }, /usdPerMTokIn.*must be a number/],
    ['negative output price', { ...base, cloud: [{ ...cloud0, usdPerMTokOut: -1 }] }, /usdPerMTokOut.*≥ 0/],
    ['infinite price', { ...base, cloud: [{ ...cloud0, usdPerMTokIn: Infinity }] }, /finite/],
    ['price as a string', { ...base, cloud: [{ ...cloud0, usdPerMTokIn: '2.5' }] }, /must be a number/],
    [
      'unknown cloud model id',
      { ...base, cloud: [{ ...cloud0, id: 'gpt-5' }] },
      /"gpt-5" is not in the routing profile.*known models: llama3.2-1b, gpt-4o-mini, gpt-4o/,
    ],
    ['unknown local profile id', { ...base, local: { ...base.local, profileId: 'phi-3' } }, /local.profileId "phi-3" is not in the routing profile/],
    ['the same cloud model twice', { ...base, cloud: [cloud0, cloud0] }, /configured twice/],
    ['NaN confidence threshold', { ...base, confidenceThreshold: Number.NaN }, /confidenceThreshold must be a finite number/],
    ['cloud not an array', { ...base, cloud: cloud0 }, /config.cloud must be an array/],
    ['no config at all', undefined, /needs a configuration object/],
    ['a profile with no prompts', { ...base, profile: { ...set, prompts: [] } }, /"prompts" must be a non-empty array/],
    [
      'a profile score out of range',
      { ...base, profile: { ...set, prompts: [{ ...set.prompts[0]!, scores: { 'gpt-4o': 2 } }] } },
      /expected a number in \[0, 1\]/,
    ],
  ];
  for (const [what, config, message] of cases) {
    it(`rejects ${what} with invalid-config`, async () => {
      const f = await failure(config);
      expect(f.typed).toBe(true);
      expect(f.code).toBe('invalid-config');
      expect(f.message).toMatch(message);
    });
  }

  it('checkRouterConfig accepts a valid config; a valid config then needs a browser worker', async () => {
    expect(() => checkRouterConfig(base, set)).not.toThrow();
    expect(await failure(base)).toMatchObject({ typed: true, code: 'worker-failed' });
  });

  it('never echoes an API key in a config error', async () => {
    const f = await failure({ ...base, cloud: [{ ...cloud0, apiKey: 'sk-live-SECRET-123', usdPerMTokIn: -1 }] });
    expect(f.code).toBe('invalid-config');
    expect(f.message).not.toContain('SECRET');
  });
});
