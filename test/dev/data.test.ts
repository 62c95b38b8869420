import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHARS_PER_TOKEN, DataError, DEFAULT_OUTPUT_TOKENS, listSets, loadSet, splitModels, splitPrompts } from '../../dev/data';

let root: string;

function writeSet(name: string, card: unknown, items: unknown[] | string): void {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'card.json'), JSON.stringify(card));
  writeFileSync(path.join(dir, 'items.jsonl'), typeof items === 'string' ? items : items.map((i) => JSON.stringify(i)).join('\n') + '\n');
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'edgeroute-data-'));
  // Recorded per-call costs (RouterBench / cascade style).
  writeSet('recorded', { name: 'recorded', models: [{ id: 'a' }, { id: 'b' }], items: 2 }, [
    { id: '1', task: 't', prompt: 'p1', scores: { a: 1, b: 0 }, costs: { a: 0.001, b: 0.01 } },
    { id: '2', task: 't', prompt: 'p2', scores: { a: 0, b: 1 }, costs: { a: 0.003, b: 0.03 } },
  ]);
  // Card prices (RouteLLM style): model w has responses, s does not.
  writeSet(
    'priced',
    {
      name: 'priced',
      models: [
        { id: 'w', usd_per_mtok_in: 1, usd_per_mtok_out: 2 },
        { id: 's', usd_per_mtok_in: 10, usd_per_mtok_out: 30 },
      ],
      weak: 'w',
      strong: 's',
    },
    [{ id: 'x', task: 't', prompt: 'x'.repeat(400), scores: { w: 0.5, s: 1 }, responses: { w: 'y'.repeat(80) } }],
  );
  writeSet('bad-score', { name: 'bad-score', models: [{ id: 'a' }] }, [
    { id: '1', task: 't', prompt: 'p', scores: { a: 1 }, costs: { a: 0 } },
    { id: '2', task: 't', prompt: 'p', scores: { a: 2 }, costs: { a: 0 } },
  ]);
  writeSet('missing-model', { name: 'missing-model', models: [{ id: 'a' }, { id: 'b' }] }, [
    { id: '1', task: 't', prompt: 'p', scores: { a: 1 }, costs: { a: 0, b: 0 } },
  ]);
  writeSet('no-cost', { name: 'no-cost', models: [{ id: 'a' }] }, [{ id: '1', task: 't', prompt: 'p', scores: { a: 1 } }]);
  writeSet('bad-json', { name: 'bad-json', models: [{ id: 'a' }] }, '{"id": "1", oops}\n');
  // Real data has gaps: a model not run on an item, a confidence not recorded.
  writeSet('gaps', { name: 'gaps', models: [{ id: 'a' }, { id: 'b' }], items: 5 }, [
    { id: '1', task: 't', prompt: 'p1', scores: { a: 1, b: null }, costs: { a: 0.001, b: 0.01 }, confidences: { a: -0.1, b: null } },
    { id: '2', task: 't', prompt: 'p2', scores: { a: null, b: 1 }, costs: { a: null, b: 0.03 }, confidences: { a: null, b: -2 } },
    { id: '3', task: 't', prompt: 'p3', scores: { a: 0, b: null }, costs: { a: 0.003, b: 0.02 }, confidences: { a: null } },
  ]);
  writeSet('bad-confidence', { name: 'bad-confidence', models: [{ id: 'a' }] }, [
    { id: '1', task: 't', prompt: 'p', scores: { a: 1 }, costs: { a: 0 }, confidences: { a: 'high' } },
  ]);
  mkdirSync(path.join(root, 'not-a-set'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('listSets / loadSet', () => {
  it('lists folders that hold card.json and items.jsonl', async () => {
    expect(await listSets(root)).toEqual(['bad-confidence', 'bad-json', 'bad-score', 'gaps', 'missing-model', 'no-cost', 'priced', 'recorded']);
  });

  it('uses the mean recorded cost per call', async () => {
    const set = await loadSet(root, 'recorded');
    expect(set.items).toHaveLength(2);
    expect(set.models.map((m) => m.id)).toEqual(['a', 'b']);
    expect(set.models[0].cost).toBeCloseTo(0.002, 12);
    expect(set.models[1].cost).toBeCloseTo(0.02, 12);
    expect(set.costSource).toEqual({ a: 'recorded', b: 'recorded' });
  });

  it('estimates cost from card prices: chars/4 in, response length or a constant out', async () => {
    const set = await loadSet(root, 'priced');
    const inTok = 400 / CHARS_PER_TOKEN;
    expect(set.models[0].cost).toBeCloseTo((inTok * 1 + (80 / CHARS_PER_TOKEN) * 2) / 1e6, 15);
    expect(set.models[1].cost).toBeCloseTo((inTok * 10 + DEFAULT_OUTPUT_TOKENS * 30) / 1e6, 15);
    expect(set.costSource).toEqual({ w: 'card-price', s: 'card-price' });
    expect(set.card.weak).toBe('w');
  });

  it('fails with file:line on bad items', async () => {
    await expect(loadSet(root, 'bad-score')).rejects.toThrow(/items\.jsonl:2: scores\["a"\] = 2/);
    await expect(loadSet(root, 'missing-model')).rejects.toThrow(/no score for model "b"/);
    await expect(loadSet(root, 'bad-json')).rejects.toThrow(/items\.jsonl:1: not valid JSON/);
    await expect(loadSet(root, 'no-cost')).rejects.toThrow(/neither per-call costs .* nor usd_per_mtok/);
  });

  it('says how to fix a missing data folder or set', async () => {
    const missing = path.join(root, 'nope');
    await expect(listSets(missing)).rejects.toThrow(DataError);
    await expect(listSets(missing)).rejects.toThrow(/--data .*\.\.\/shared\/data/);
    await expect(loadSet(missing, 'recorded')).rejects.toThrow(/--data/);
    await expect(loadSet(root, 'unknown')).rejects.toThrow(/no set "unknown".*sets there: bad-confidence, bad-json/);
  });
});

describe('splitPrompts', () => {
  const items = Array.from({ length: 1000 }, (_, i) => i);

  it('is deterministic for a seed and differs across seeds', () => {
    const a = splitPrompts(items, 7);
    expect(splitPrompts(items, 7)).toEqual(a);
    expect(splitPrompts(items, 8).test).not.toEqual(a.test);
  });

  it('partitions by the fractions and keeps input order', () => {
    const { train, validation, test } = splitPrompts(items, 1, [0.6, 0.1, 0.3]);
    expect([train.length, validation.length, test.length]).toEqual([600, 100, 300]);
    expect([...train, ...validation, ...test].sort((x, y) => x - y)).toEqual(items);
    for (const part of [train, validation, test]) expect([...part].sort((x, y) => x - y)).toEqual(part);
  });

  it('keeps groups together', () => {
    const turns = Array.from({ length: 200 }, (_, i) => `q${Math.floor(i / 2)}/${(i % 2) + 1}`);
    const parts = splitPrompts(turns, 3, [0.5, 0.2, 0.3], { groupKey: (id) => id.split('/')[0] });
    const where = new Map<string, string>();
    for (const [name, part] of Object.entries(parts)) {
      for (const id of part) {
        const q = id.split('/')[0];
        expect(where.get(q) ?? name).toBe(name);
        where.set(q, name);
      }
    }
    expect(parts.train).toHaveLength(100);
    expect(parts.validation).toHaveLength(40);
  });

  it('rejects fractions that do not sum to 1', () => {
    expect(() => splitPrompts(items, 1, [0.5, 0.5, 0.5])).toThrow(RangeError);
  });
});

describe('splitModels', () => {
  const models = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'];

  it('splits deterministically into seen and unseen, in input order', () => {
    const a = splitModels(models, 5, 0.5);
    expect(splitModels(models, 5, 0.5)).toEqual(a);
    expect(a.seen).toHaveLength(6);
    expect(a.unseen).toHaveLength(5);
    expect([...a.seen, ...a.unseen].sort()).toEqual([...models].sort());
    expect(a.seen.filter((m) => a.unseen.includes(m))).toEqual([]);
    expect(models.filter((m) => a.seen.includes(m))).toEqual(a.seen);
  });

  it('keeps at least one seen model', () => {
    expect(splitModels(models, 1, 0).seen).toHaveLength(1);
    expect(splitModels(models, 1, 1).unseen).toHaveLength(0);
  });

  it('takes null scores, confidences and costs as missing values and counts them per model', async () => {
    const set = await loadSet(root, 'gaps');
    expect(set.items.map((it) => it.scores)).toEqual([{ a: 1 }, { b: 1 }, { a: 0 }]);
    expect(set.items.map((it) => it.confidences)).toEqual([{ a: -0.1 }, { b: -2 }, {}]);
    expect(set.missing).toEqual({ scores: { a: 1, b: 2 }, confidences: { a: 2, b: 1 }, costs: { a: 1 } });
    // Mean cost over the items that recorded one.
    expect(set.models.find((m) => m.id === 'a')!.cost).toBeCloseTo(0.002, 12);
  });

  it("warns instead of failing when the card's item count disagrees with the file", async () => {
    const set = await loadSet(root, 'gaps');
    expect(set.items).toHaveLength(3);
    expect(set.warnings).toHaveLength(1);
    expect(set.warnings[0]).toMatch(/says 5 items but .*items\.jsonl has 3/);
    expect((await loadSet(root, 'recorded')).warnings).toEqual([]);
  });

  it('still rejects a confidence that is neither a number nor null, and a model left out of a line', async () => {
    await expect(loadSet(root, 'bad-confidence')).rejects.toThrow(/items\.jsonl:1: confidences\["a"\] = "high"; expected a finite number or null/);
    await expect(loadSet(root, 'missing-model')).rejects.toThrow(/no score for model "b" \(write null/);
  });
});
