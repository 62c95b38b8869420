import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLabCatalog } from '../../tools/lab-sets';
import { loadReplaySets } from '../../dev/replay-data';
import { validateValidationSet } from '../../src/common/validation-set';

const root = resolve(import.meta.dirname, '../..');

describe('lab sets', async () => {
  const catalog = await loadLabCatalog({
    sample: await loadReplaySets(resolve(root, 'test/fixtures/replay-sample.jsonl')),
    profiles: [resolve(root, 'public/profiles/default-validation.json')],
  });

  it('offers the shipped profile and each committed sample set', () => {
    expect(catalog.entries.map((e) => e.id)).toEqual(['profile:edgeroute-default', 'sample:routerbench-mix', 'sample:routellm-gsm8k', 'sample:cascade-mmlu']);
    expect(catalog.entries[0]).toMatchObject({ prompts: 400, models: 9 });
  });

  it('serves valid validation sets with per-call costs, local candidates free, sampled by a seed', () => {
    const mix = catalog.get('sample:routerbench-mix', 50)!;
    expect(() => validateValidationSet(mix)).not.toThrow();
    expect(mix.prompts).toHaveLength(50);
    expect(mix.totalPrompts).toBe(200);
    expect(Object.keys(mix.prompts[0]!.costs ?? {})).toHaveLength(11);
    expect(catalog.get('sample:routerbench-mix', 50)!.prompts.map((p) => p.id)).toEqual(mix.prompts.map((p) => p.id));
    const cascade = catalog.get('sample:cascade-mmlu', 400)!;
    expect(cascade.models.filter((m) => m.local).map((m) => [m.id, m.cost])).toEqual([
      ['llama3.2-1b', 0],
      ['llama3.2-3b', 0],
    ]);
    expect(catalog.get('full:cascade-mmlu', 400)).toBeUndefined();
    expect(() => catalog.get('sample:cascade-mmlu', 5)).toThrow(/limit/);
  });
});
