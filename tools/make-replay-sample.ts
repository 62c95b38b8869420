/**
 * Derives test/fixtures/replay-sample.jsonl: a few hundred items of the data sets with recorded
 * responses, so the replay cloud and the calibration command can be tested without ../shared/data
 * (CI has none). Deterministic: a seeded shuffle per set, spread evenly over the set's tasks,
 * items kept in file order.
 *
 *   npx tsx tools/make-replay-sample.ts [--data ../shared/data] [--seed 7] [--per-set 200]
 *       [--sets routerbench-mix,routellm-gsm8k,cascade-mmlu] [--out test/fixtures/replay-sample.jsonl]
 *
 * Format (read by dev/replay-data.ts): per set one `{"set", "card"}` line, then its items
 * `{"set", "id", "task", "prompt", "scores", "costs"?, "responses"}`, responses exactly as recorded.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR } from '../dev/data';
import { createRng } from '../src/core/random';
import { loadReplaySets, type ReplayItem } from '../dev/replay-data';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA_DIR },
    seed: { type: 'string', default: '7' },
    'per-set': { type: 'string', default: '200' },
    sets: { type: 'string', default: 'routerbench-mix,routellm-gsm8k,cascade-mmlu' },
    out: { type: 'string', default: 'test/fixtures/replay-sample.jsonl' },
  },
});

/** `n` items spread evenly over the tasks (round-robin over per-task seeded shuffles), in file order. */
function pick(items: readonly ReplayItem[], n: number, seed: number): ReplayItem[] {
  const rng = createRng(seed);
  const byTask = new Map<string, number[]>();
  items.forEach((it, i) => {
    const list = byTask.get(it.task) ?? [];
    list.push(i);
    byTask.set(it.task, list);
  });
  const queues = [...byTask.keys()].sort().map((t) => rng.shuffle([...byTask.get(t)!]));
  const chosen: number[] = [];
  for (let round = 0; chosen.length < Math.min(n, items.length); round++) {
    for (const q of queues) if (round < q.length && chosen.length < n) chosen.push(q[round]!);
  }
  return chosen.sort((a, b) => a - b).map((i) => items[i]!);
}

const names = values.sets
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const perSet = Number(values['per-set']);
const seed = Number(values.seed);
const sets = await loadReplaySets(values.data, names);
const lines: string[] = [];
for (const name of names) {
  const set = sets.find((s) => s.name === name)!;
  const chosen = pick(set.items, perSet, seed);
  // The card as is, but `items` counts the sample (the full set's count kept beside it).
  lines.push(JSON.stringify({ set: name, card: { ...set.card, items: chosen.length, sampled_from_items: set.items.length } }));
  for (const it of chosen) {
    lines.push(
      JSON.stringify({
        set: name,
        id: it.id,
        task: it.task,
        prompt: it.prompt,
        scores: it.scores,
        ...(it.costs ? { costs: it.costs } : {}),
        responses: it.responses,
      }),
    );
  }
  console.log(`${name}: ${Math.min(perSet, set.items.length)} of ${set.items.length} items`);
}
const text = `${lines.join('\n')}\n`;
await mkdir(path.dirname(values.out), { recursive: true });
await writeFile(values.out, text);
console.log(`wrote ${values.out} (${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB)`);
