import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { canonicalJson, gradablePrompts, validateValidationSet, validationSetHash, type ValidationSet } from '../../src/common/validation-set';
import { withCalibratedModel } from '../../src/common/validation-set';

const tiny = (): ValidationSet => ({
  name: 'tiny',
  source: 'hand-written',
  licence: 'CC0',
  models: [
    { id: 'local', cost: 0, local: true },
    { id: 'cloud', cost: 0.001 },
  ],
  prompts: [
    { id: 'p1', prompt: 'What is 2+2?', reference: '4', grading: 'numeric', scores: { local: 1, cloud: 1 } },
    { id: 'p2', prompt: 'Capital of France?', scores: { local: 0, cloud: 1 }, confidences: { local: -0.3 } },
  ],
});

/** A copy with `edit` applied to a JSON clone (so tests may break types freely). */
// biome-ignore lint/suspicious/noExplicitAny: the tests break the set's types on purpose
type Raw = Record<string, any>;
function broken(edit: (raw: Raw) => void): unknown {
  const raw = JSON.parse(JSON.stringify(tiny())) as Raw;
  edit(raw);
  return raw;
}

function configError(value: unknown): string {
  try {
    validateValidationSet(value);
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeRouteError);
    expect((error as EdgeRouteError).code).toBe('invalid-config');
    return (error as Error).message;
  }
  throw new Error('expected validateValidationSet to throw');
}

describe('validateValidationSet', () => {
  it('accepts a well-formed set and the shipped files', () => {
    expect(validateValidationSet(tiny()).prompts).toHaveLength(2);
    for (const file of ['test/fixtures/tiny-validation.json', 'public/profiles/default-validation.json']) {
      const set = validateValidationSet(JSON.parse(readFileSync(file, 'utf8')));
      expect(set.prompts.length).toBeGreaterThan(0);
      expect(set.models.filter((m) => m.local).every((m) => m.cost === 0)).toBe(true);
    }
  });

  it('names the field at fault', () => {
    expect(configError(null)).toMatch(/expected a JSON object/);
    expect(
      configError(
        broken((r) => {
          r.prompts = [];
        }),
      ),
    ).toMatch(/"prompts" must be a non-empty array/);
    expect(
      configError(
        broken((r) => {
          r.models = [];
        }),
      ),
    ).toMatch(/"models" must be a non-empty array/);
    expect(
      configError(
        broken((r) => {
          r.prompts[1].scores.gpt5 = 1;
        }),
      ),
    ).toMatch(/prompts\[1\] \(id "p2"\): scores names model "gpt5", which is not in "models" \(local, cloud\)/);
    expect(
      configError(
        broken((r) => {
          r.prompts[0].scores.cloud = 1.5;
        }),
      ),
    ).toMatch(/scores\["cloud"\] = 1.5; expected a number in \[0, 1\]/);
    expect(
      configError(
        broken((r) => {
          r.prompts[0].scores.cloud = -0.1;
        }),
      ),
    ).toMatch(/scores\["cloud"\] = -0.1/);
    expect(
      configError(
        broken((r) => {
          r.prompts[0].scores.cloud = 'x';
        }),
      ),
    ).toMatch(/scores\["cloud"\] = "x"/);
    expect(
      configError({
        ...tiny(),
        models: [
          { id: 'local', cost: NaN },
          { id: 'cloud', cost: 1 },
        ],
      }),
    ).toMatch(/model "local" has cost NaN/);
    expect(
      configError(
        broken((r) => {
          r.models[1].cost = -1;
        }),
      ),
    ).toMatch(/model "cloud" has cost -1; expected a finite number ≥ 0/);
    expect(
      configError(
        broken((r) => {
          r.models[0].cost = 0.1;
        }),
      ),
    ).toMatch(/model "local" is local but has cost 0.1/);
    expect(
      configError(
        broken((r) => {
          r.models.push({ id: 'cloud', cost: 1 });
        }),
      ),
    ).toMatch(/model id "cloud" is listed twice/);
    expect(
      configError(
        broken((r) => {
          r.prompts[1].id = 'p1';
        }),
      ),
    ).toMatch(/prompts\[1\] \(id "p1"\): duplicate prompt id/);
    expect(
      configError(
        broken((r) => {
          r.prompts[1].prompt = '  ';
        }),
      ),
    ).toMatch(/"prompt" must be a non-empty string/);
    expect(
      configError(
        broken((r) => {
          r.prompts[0].grading = 'fuzzy';
        }),
      ),
    ).toMatch(/grading "fuzzy" is not one of/);
    expect(
      configError(
        broken((r) => {
          delete r.prompts[0].reference;
        }),
      ),
    ).toMatch(/give both "reference" and "grading"/);
    expect(
      configError(
        broken((r) => {
          r.prompts[1].confidences.local = null;
        }),
      ),
    ).toMatch(/confidences\["local"\] = null; expected a finite number/);
    expect(
      configError(
        broken((r) => {
          for (const p of r.prompts) delete p.scores.cloud;
        }),
      ),
    ).toMatch(/model "cloud" has no score on any prompt/);
    expect(
      configError(
        broken((r) => {
          delete r.licence;
        }),
      ),
    ).toMatch(/"licence" must be a string/);
  });
});

describe('validationSetHash', () => {
  it('is stable, hex SHA-256, and ignores key order and descriptive fields', async () => {
    const h = await validationSetHash(tiny());
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const reordered = JSON.parse(canonicalJson(tiny())) as ValidationSet;
    const renamed: ValidationSet = { ...tiny(), name: 'other', source: 'x', licence: 'y' };
    expect(await validationSetHash(reordered)).toBe(h);
    expect(await validationSetHash(renamed)).toBe(h);
    expect(await validationSetHash(tiny())).toBe(h);
  });

  it('changes with prompts, prompt order, scores and models', async () => {
    const h = await validationSetHash(tiny());
    const base = tiny();
    const variants: ValidationSet[] = [
      { ...base, prompts: [...base.prompts].reverse() },
      { ...base, prompts: base.prompts.map((p, i) => (i === 0 ? { ...p, prompt: 'What is 2+3?' } : p)) },
      { ...base, prompts: base.prompts.map((p, i) => (i === 1 ? { ...p, scores: { local: 1, cloud: 1 } } : p)) },
      { ...base, models: [base.models[0]!, { id: 'cloud', cost: 0.002 }] },
    ];
    for (const v of variants) expect(await validationSetHash(v)).not.toBe(h);
  });

  it('canonicalJson sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('gradablePrompts keeps prompts with a reference', () => {
    expect(gradablePrompts(tiny()).map((p) => p.id)).toEqual(['p1']);
  });
});

describe('withCalibratedModel', () => {
  const base = validateValidationSet({
    name: 's',
    source: 'test',
    licence: 'none',
    models: [{ id: 'a', cost: 1 }],
    prompts: [
      { id: 'p1', prompt: 'one', scores: { a: 1 } },
      { id: 'p2', prompt: 'two', scores: { a: 0 } },
    ],
  });

  it('adds the model with its scores and leaves the input alone', () => {
    const next = withCalibratedModel(base, { id: 'mine', cost: 0.002, scores: { p1: 0, p2: 1 } });
    expect(next.models.map((m) => m.id)).toEqual(['a', 'mine']);
    expect(next.prompts.map((p) => p.scores)).toEqual([
      { a: 1, mine: 0 },
      { a: 0, mine: 1 },
    ]);
    expect(base.models).toHaveLength(1);
    expect(base.prompts[0]!.scores).toEqual({ a: 1 });
  });

  it('refuses a duplicate id, unknown prompts, bad scores and a scoreless model', () => {
    expect(() => withCalibratedModel(base, { id: 'a', cost: 1, scores: { p1: 1 } })).toThrow(/already in the set/);
    expect(() => withCalibratedModel(base, { id: 'b', cost: 1, scores: { p9: 1 } })).toThrow(/not in this set \(e\.g\. "p9"\)/);
    expect(() => withCalibratedModel(base, { id: 'b', cost: 1, scores: { p1: 2 } })).toThrow(/expected a number in \[0, 1\]/);
    expect(() => withCalibratedModel(base, { id: 'b', cost: 1, scores: {} })).toThrow(/no score on any prompt/);
    expect(() => withCalibratedModel(base, { id: 'b', cost: -1, scores: { p1: 1 } })).toThrow(/cost/);
  });

  it("carries a measured local model's confidences and their kind, for its escalation rule", () => {
    const next = withCalibratedModel(base, {
      id: 'mine',
      cost: 0,
      local: true,
      scores: { p1: 0, p2: 1 },
      confidences: { p1: -2.5, p2: -0.1 },
      confidenceKind: 'mean-logprob',
    });
    expect(next.models.at(-1)).toEqual({ id: 'mine', cost: 0, local: true, confidenceKind: 'mean-logprob' });
    expect(next.prompts.map((p) => p.confidences)).toEqual([{ mine: -2.5 }, { mine: -0.1 }]);
    expect(() => withCalibratedModel(base, { id: 'b', cost: 0, scores: { p1: 1 }, confidences: { p1: -1 } })).toThrow(/together with their "confidenceKind"/);
    expect(() => withCalibratedModel(base, { id: 'b', cost: 0, scores: { p1: 1 }, confidences: { p1: Number.NaN }, confidenceKind: 'k' })).toThrow(
      /confidences\["b"\] = null; expected a finite number/,
    );
  });
});
