/**
 * The 200 prompts routed by the benchmark, fixed and of mixed lengths, from committed files:
 * GSM8K word problems, MMLU law questions, the tiny validation set, cascade-MMLU prompts of the
 * replay sample, the default profile's validation prompts (spread over their length range), a
 * few short questions (a prompt's first sentence) and long ones (several prompts joined, as a
 * pasted document would be). Node only.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { textForEmbedding } from '../../src/core/prompt-text';

export interface BenchPrompt {
  readonly source: string;
  readonly text: string;
  /** What the worker embeds of it (textForEmbedding: boilerplate dropped, length capped). */
  readonly embedded: string;
}

interface Items {
  items: { prompt?: string; question?: string }[];
}
interface PromptSet {
  prompts: { prompt: string }[];
}

/** `count` items spread evenly over `xs` (first and last included). */
function spread<T>(xs: readonly T[], count: number): T[] {
  if (count >= xs.length) return [...xs];
  return Array.from({ length: count }, (_, i) => xs[Math.round((i * (xs.length - 1)) / Math.max(1, count - 1))]!);
}

export function benchPrompts(root: string): BenchPrompt[] {
  const json = <T>(path: string): T => JSON.parse(readFileSync(resolve(root, path), 'utf8')) as T;
  const itemTexts = (set: Items): string[] => set.items.map((it) => it.prompt ?? it.question ?? '').filter(Boolean);
  const gsm8k = itemTexts(json<Items>('test/fixtures/gsm8k-heldout.json'));
  const law = itemTexts(json<Items>('test/fixtures/law-questions.json'));
  const tiny = json<PromptSet>('test/fixtures/tiny-validation.json').prompts.map((p) => p.prompt);
  const replay = readFileSync(resolve(root, 'test/fixtures/replay-sample.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { set?: string; prompt?: string })
    .filter((x) => x.set === 'cascade-mmlu' && x.prompt)
    .map((x) => x.prompt!);
  const validation = json<PromptSet>('public/profiles/default-validation.json')
    .prompts.map((p) => p.prompt)
    .sort((a, b) => a.length - b.length);

  const out: { source: string; text: string }[] = [
    ...gsm8k.slice(0, 20).map((text) => ({ source: 'gsm8k', text })),
    ...law.slice(0, 20).map((text) => ({ source: 'mmlu-law', text })),
    ...spread(tiny, 20).map((text) => ({ source: 'tiny-validation', text })),
    ...spread(replay, 30).map((text) => ({ source: 'cascade-mmlu', text })),
    ...spread(validation, 80).map((text) => ({ source: 'default-validation', text })),
  ];
  // Short: the first sentence of a word problem ("Janet has 3 apples.").
  for (const text of spread(gsm8k, 10)) {
    const first = /^.*?[.?!](\s|$)/.exec(text)?.[0]?.trim() ?? text.slice(0, 60);
    out.push({ source: 'short', text: first });
  }
  // Long: 3–12 validation prompts joined (about 1.5k–9k characters).
  for (let i = 0; i < 20; i++) {
    const parts = Array.from({ length: 3 + Math.floor((i * 10) / 19) }, (_, j) => validation[(i * 37 + j * 101) % validation.length]!);
    out.push({ source: 'long', text: parts.join('\n\n') });
  }
  return out.map((p) => ({ ...p, embedded: textForEmbedding(p.text) }));
}
