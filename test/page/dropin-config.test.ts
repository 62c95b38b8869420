import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { routerConfigFromAttributes } from '../../src/page/dropin/script-config';

describe('the drop-in script tag configuration', () => {
  it('is absent for a plain include and complete for a configured tag', () => {
    expect(routerConfigFromAttributes({})).toBeUndefined();
    const config = routerConfigFromAttributes({
      'cloud-url': '/api/llm/v1',
      'cloud-model': 'gpt-4o',
      'cloud-price-in': '2.5',
      'local-model': 'tiny',
      device: 'wasm',
      'cloud-share': '0.3',
    })!;
    expect(config.cloud).toEqual([{ id: 'gpt-4o', model: 'gpt-4o', baseURL: '/api/llm/v1', usdPerMTokIn: 2.5, usdPerMTokOut: 0 }]);
    // No profile or embedder: createRouter takes the shipped ones beside the script.
    expect(config.profile).toBeUndefined();
    expect(config.embedder).toBeUndefined();
    expect(config.local).toMatchObject({ kind: 'transformers', model: 'tiny', device: 'wasm', profileId: 'llama3.2-1b' });
    expect(config.mode).toBe('hybrid');
    expect(config.lambda).toEqual({ kind: 'cloudShare', share: 0.3 });
    // Without a local model the tag routes among cloud models only.
    expect(routerConfigFromAttributes({ 'cloud-url': '/v1', 'cloud-model': 'm' })!.mode).toBe('cloud-only');
  });

  it('names the attribute at fault', () => {
    expect(() => routerConfigFromAttributes({ 'cloud-url': '/v1' })).toThrow(/data-cloud-model/);
    expect(() => routerConfigFromAttributes({ 'cloud-url': '/v1', 'cloud-model': 'm', 'cloud-price-in': 'cheap' })).toThrow(/data-cloud-price-in="cheap"/);
    expect(() => routerConfigFromAttributes({ 'cloud-url': '/v1', 'cloud-model': 'm', mode: 'fast' })).toThrow(/data-mode="fast"/);
    expect(() => routerConfigFromAttributes({ 'cloud-url': '/v1', 'cloud-model': 'm', device: 'gpu' })).toThrow(/data-device="gpu"/);
  });

  it('data-cloud-share is a fraction: "30" (a percentage) and other values outside 0-1 are invalid-config', () => {
    const tag = { 'cloud-url': '/v1', 'cloud-model': 'm', 'local-model': 'tiny' };
    for (const raw of ['30', '1.01', '-0.1', 'abc', '', '  ', 'NaN', 'Infinity']) {
      let error: unknown;
      try {
        routerConfigFromAttributes({ ...tag, 'cloud-share': raw });
      } catch (e) {
        error = e;
      }
      expect(error, raw).toBeInstanceOf(EdgeRouteError);
      expect(error, raw).toMatchObject({ code: 'invalid-config' });
      expect((error as Error).message).toContain(`data-cloud-share="${raw}" must be a fraction between 0 and 1`);
    }
    for (const [raw, share] of [
      ['0', 0],
      ['1', 1],
      ['0.25', 0.25],
      [' 0.5 ', 0.5],
    ] as const) {
      expect(routerConfigFromAttributes({ ...tag, 'cloud-share': raw })!.lambda, raw).toEqual({ kind: 'cloudShare', share });
    }
    expect(routerConfigFromAttributes(tag)!.lambda).toBeUndefined();
  });
});
