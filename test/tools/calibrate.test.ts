import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateValidationSet, type ValidationSet } from '../../src/common/validation-set';
import { gradingKindFor, inferReference, main, optionLetters, runCalibration, type CalibrationReport } from '../../tools/calibrate';
import { startReplayCloud, type ReplayCloud } from '../../dev/replay-cloud';
import { loadReplaySets, type ReplayItem, type ReplaySet } from '../../dev/replay-data';

const SAMPLE = 'test/fixtures/replay-sample.jsonl';

const mc = (responses: Record<string, string>, scores: Record<string, number>, prompt = 'Q?\nA) x\nB) y\nC) z\nD) w\nAnswer:'): ReplayItem => ({
  set: 't',
  id: 'q1',
  task: 'arc-challenge',
  prompt,
  scores,
  responses,
});

let sets: ReplaySet[];
let cloud: ReplayCloud;
let dir: string;

beforeAll(async () => {
  sets = await loadReplaySets(SAMPLE);
  cloud = await startReplayCloud({ sets });
  dir = await mkdtemp(path.join(tmpdir(), 'edgeroute-calibrate-'));
});

afterAll(async () => {
  await cloud.close();
  await rm(dir, { recursive: true, force: true });
});

describe('reference inference', () => {
  it('never uses the calibrated model’s own answer', () => {
    // Only X was right: without X nothing says C, and elimination leaves C and D.
    const onlyX = mc({ X: "['C']", Y: "['A']", Z: "['B']" }, { X: 1, Y: 0, Z: 0 });
    expect(inferReference(onlyX, 'X', 'multiple-choice')).toEqual({ reason: 'no-reference' });
    expect(inferReference(onlyX, 'Y', 'multiple-choice')).toMatchObject({ reference: 'C', how: 'majority', votes: 1 });

    // X's recorded answer disagrees with the other right model's: X gets the other's letter.
    const disagree = mc({ X: 'D', Y: 'C', Z: 'A' }, { X: 1, Y: 1, Z: 0 });
    expect(inferReference(disagree, 'X', 'multiple-choice')).toMatchObject({ reference: 'C' });
    expect(inferReference(disagree, 'Y', 'multiple-choice')).toMatchObject({ reference: 'D' });
    expect(inferReference(disagree, 'Z', 'multiple-choice')).toEqual({ reason: 'conflicting-references' });
  });

  it('falls back to the one option no wrong model chose', () => {
    const wino = mc({ X: "['B']", Y: "['A)']", Z: "['I do']" }, { X: 1, Y: 0, Z: 0 }, 'Sam _ \nA) Kyle\nB) Logan\nPrint only a single choice. Answer:');
    expect(optionLetters(wino.prompt)).toEqual(['A', 'B']);
    expect(inferReference(wino, 'X', 'multiple-choice')).toMatchObject({ reference: 'B', how: 'elimination' });
  });

  it('reads option letters of the last question of a few-shot prompt, and numbers for GSM8K', () => {
    const rb = sets.find((s) => s.name === 'routerbench-mix')!.items;
    expect(optionLetters(rb.find((it) => it.task === 'arc-challenge')!.prompt)).toEqual(['A', 'B', 'C', 'D']);
    expect(optionLetters(rb.find((it) => it.task === 'winogrande')!.prompt)).toEqual(['A', 'B']);
    expect(optionLetters(sets.find((s) => s.name === 'cascade-mmlu')!.items[0]!.prompt)).toEqual(['A', 'B', 'C', 'D']);
    expect(gradingKindFor('routellm-gsm8k', 'gsm8k')).toBe('numeric');
    expect(gradingKindFor('routerbench-mix', 'winogrande')).toBe('multiple-choice');

    const gsm = { set: 'g', id: 'g1', task: 'gsm8k', prompt: 'How many?', scores: { W: 1, S: 0 }, responses: { W: 'so 3 + 4 = 7\n#### 7', S: 'It is 8.' } };
    expect(inferReference(gsm, 'S', 'numeric')).toMatchObject({ reference: '7' });
    expect(inferReference(gsm, 'W', 'numeric')).toEqual({ reason: 'no-reference' }); // no elimination for numbers
  });
});

describe('calibrate against the replay cloud', () => {
  it('reproduces the recorded RouterBench labels and writes addModel input', async () => {
    const out = path.join(dir, 'cal.json');
    const lines: string[] = [];
    const env = { EDGEROUTE_API_KEY: 'sk-test-secret' };
    const { report } = await main(
      ['--base-url', cloud.url, '--model', 'claude-instant-v1', '--set', 'routerbench-mix', '--data', SAMPLE, '--concurrency', '4', '--out', out],
      { log: (l) => lines.push(l), env },
    );
    const written = JSON.parse(await readFile(out, 'utf8')) as CalibrationReport;
    expect(written).toEqual(JSON.parse(JSON.stringify(report)));
    expect(JSON.stringify(written)).not.toContain('sk-test-secret');

    expect(report.id).toBe('claude-instant-v1');
    expect(report.set.name).toBe('routerbench-mix');
    const items = sets.find((s) => s.name === 'routerbench-mix')!.items;
    const ids = new Set(items.map((it) => it.id));
    const scored = Object.entries(report.scores);
    expect(scored.length).toBe(report.summary.graded);
    expect(scored.length).toBeGreaterThanOrEqual(95);
    for (const [id, s] of scored) {
      expect(ids.has(id)).toBe(true);
      expect([0, 1]).toContain(s);
    }
    expect(report.summary.prompts).toBe(200);
    expect(report.summary.correct).toBe(scored.filter(([, s]) => s === 1).length);
    expect(report.agreement!.rate).toBeGreaterThanOrEqual(0.97);
    expect(report.agreement!.compared).toBe(report.summary.graded);
    // Replay reports each call's recorded cost: the mean equals the data's mean over the prompts.
    const mean = items.reduce((a, it) => a + it.costs!['claude-instant-v1']!, 0) / items.length;
    expect(report.costSummary.source).toBe('recorded');
    expect(report.cost).toBeCloseTo(mean, 12);
    expect(report.failures).toEqual([]);
    expect(lines.join('\n')).toMatch(/agreement with recorded scores: \d+\/\d+ = (9[7-9]|100)\.\d%/);

    // The JSON is what the router's addModel takes.
    const input: { id: string; cost: number; scores: Record<string, number> } = written;
    expect(Object.keys(input).slice(0, 3)).toEqual(['id', 'cost', 'scores']);
  });

  it('grades GSM8K answers by their final number', async () => {
    const report = await runCalibration({
      baseUrl: cloud.url,
      model: 'mistralai/Mixtral-8x7B-Instruct-v0.1',
      set: 'routellm-gsm8k',
      data: SAMPLE,
    });
    expect(report.summary.graded).toBeGreaterThan(50); // only where GPT-4's answer was right
    expect(report.agreement!.rate).toBeGreaterThanOrEqual(0.95);
  });

  it('survives injected 429s and 500s by retrying', async () => {
    const flaky = await startReplayCloud({ sets, faultRate: 0.3, faults: ['429', '500', 'malformed-json'], seed: 3, retryAfterSeconds: 0 });
    try {
      const report = await runCalibration({
        baseUrl: flaky.url,
        model: 'gpt-4o',
        set: 'cascade-mmlu',
        data: SAMPLE,
        retries: 6,
        backoffMs: 1,
        concurrency: 8,
      });
      expect(report.failures).toEqual([]);
      expect(flaky.stats.faults['429'] + flaky.stats.faults['500'] + flaky.stats.faults['malformed-json']).toBeGreaterThan(10);
      expect(report.agreement!.rate).toBeGreaterThanOrEqual(0.97);
    } finally {
      await flaky.close();
    }
  });

  it('takes a ValidationSet file with its own references', async () => {
    const mmlu = sets.find((s) => s.name === 'cascade-mmlu')!.items.slice(0, 12);
    const set: ValidationSet = validateValidationSet({
      name: 'sample-vs',
      source: 'test',
      licence: 'none',
      models: [{ id: 'gpt-4o', cost: 0.0004 }],
      prompts: mmlu.map((it, i) => ({
        id: `p${i}`,
        prompt: it.prompt,
        scores: { 'gpt-4o': it.scores['gpt-4o']! },
        // The right letter where gpt-4o was right; a wrong one otherwise keeps the labels consistent.
        ...(i < 10
          ? { grading: 'multiple-choice', reference: it.scores['gpt-4o'] === 1 ? it.responses['gpt-4o']! : it.responses['gpt-4o'] === 'A' ? 'B' : 'A' }
          : {}),
      })),
    });
    const file = path.join(dir, 'vs.json');
    await writeFile(file, JSON.stringify(set));
    const report = await runCalibration({ baseUrl: cloud.url, model: 'gpt-4o', set: file, cost: 0.001 });
    expect(report.summary).toMatchObject({ prompts: 12, graded: 10, ungraded: { 'no-reference': 2 } });
    expect(report.agreement).toMatchObject({ compared: 10, agreed: 10, rate: 1 });
    expect(report.cost).toBe(0.001);
    expect(report.costSummary.source).toBe('override');
  });

  it('stops at once on an unknown model', async () => {
    await expect(runCalibration({ baseUrl: cloud.url, model: 'gpt-7', set: 'routerbench-mix', data: SAMPLE })).rejects.toThrow(
      /model_not_found|does not exist/,
    );
  });
});
