/**
 * Builds the validation set the package ships (public/profiles/default-validation.json) and the
 * tiny test fixture (test/fixtures/tiny-validation.json) from the cascade sets in ../shared/data.
 * Deterministic: a seeded shuffle picks the prompts, so a rerun gives the same files.
 *
 *   npx tsx tools/make-default-profile.ts [--data ../shared/data] [--seed 2025]
 *       [--out public/profiles/default-validation.json] [--fixture test/fixtures/tiny-validation.json]
 *
 * Why the cascade sets: they are the ones with the browser's local models (Llama-3.2-1B/3B, which
 * web-llm ships) next to cloud models (GPT-4o, GPT-4o-mini, Llama-3.1, Qwen2.5), with per-call
 * costs and each model's own confidence. Mixing MMLU (general knowledge) and MedMCQA (medicine)
 * gives the clusters two domains to tell apart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, loadSet, type DataItem, type LoadedSet } from '../dev/data';
import { createRng } from '../src/core/random';
import { validateValidationSet, validationSetHash, type ValidationModel, type ValidationPrompt, type ValidationSet } from '../src/common/validation-set';

const SETS = ['cascade-mmlu', 'cascade-medmcqa'] as const;
/** On the user's device via web-llm: cost 0 per call. */
const LOCAL_MODELS = new Set(['llama3.2-1b', 'llama3.2-3b']);
const LETTERS = ['A', 'B', 'C', 'D'] as const;

interface Recipe {
  readonly name: string;
  readonly perSet: number;
  /** Models to keep, in this order; undefined = every card model. */
  readonly models?: readonly string[];
}

const DEFAULT_RECIPE: Recipe = { name: 'edgeroute-default', perSet: 200 };
const TINY_RECIPE: Recipe = { name: 'edgeroute-tiny', perSet: 20, models: ['llama3.2-1b', 'gpt-4o-mini', 'gpt-4o'] };

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA_DIR },
    seed: { type: 'string', default: '2025' },
    out: { type: 'string', default: 'public/profiles/default-validation.json' },
    fixture: { type: 'string', default: 'test/fixtures/tiny-validation.json' },
  },
});

/** A recorded answer that is one bare letter, else undefined (odd answers say nothing reliable). */
function bareLetter(response: string | undefined): string | undefined {
  const t = response?.trim().toUpperCase();
  return t !== undefined && (LETTERS as readonly string[]).includes(t) ? t : undefined;
}

/**
 * The right letter, from the recorded answers: the one every correct model gave; or, when no
 * model was right, the only letter no model gave. Undefined when neither rule decides.
 */
function referenceLetter(item: DataItem): string | undefined {
  const right = new Set<string>();
  const wrong = new Set<string>();
  for (const [model, score] of Object.entries(item.scores)) {
    const letter = bareLetter(item.responses?.[model]);
    if (letter === undefined) continue;
    (score === 1 ? right : wrong).add(letter);
  }
  if (right.size === 1) return [...right][0];
  if (right.size === 0 && wrong.size === LETTERS.length - 1) return LETTERS.find((l) => !wrong.has(l));
  return undefined;
}

/** Four significant digits: enough for a mean price, and stable text. */
const round4 = (x: number): number => Number(x.toPrecision(4));

/**
 * What the sets' confidences are: each model's log-probability of the answer letter it chose,
 * recorded by the source's runs (its prompts, its serving of the model). A kind of its own: the
 * worker's 'mean-logprob' of a web-llm build answering in a page is not assumed to be the same,
 * so the escalation rule fitted on these applies only to replays of these recordings (the demo),
 * until a site measures its own local model (measureLocalModel).
 */
export const RECORDED_CONFIDENCE_KIND = 'answer-logprob';

/** Mean recorded USD per call over both sets; local models cost 0. */
function models(sets: readonly LoadedSet[], keep: readonly string[] | undefined): ValidationModel[] {
  const ids = keep ?? sets[0]!.card.models.map((m) => m.id);
  return ids.map((id) => {
    if (LOCAL_MODELS.has(id)) return { id, cost: 0, local: true, confidenceKind: RECORDED_CONFIDENCE_KIND };
    const costs = sets.flatMap((s) => s.items.map((it) => it.costs?.[id])).filter((c): c is number => c !== undefined);
    if (costs.length === 0) throw new Error(`no recorded cost for ${id}`);
    return { id, cost: round4(costs.reduce((a, b) => a + b, 0) / costs.length), confidenceKind: RECORDED_CONFIDENCE_KIND };
  });
}

function pick(record: Readonly<Record<string, number>> | undefined, ids: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) if (record?.[id] !== undefined) out[id] = record[id]!;
  return out;
}

function toPrompt(item: DataItem, ids: readonly string[]): ValidationPrompt {
  const reference = referenceLetter(item);
  return {
    id: item.id,
    prompt: item.prompt,
    task: item.task,
    ...(reference !== undefined ? { reference, grading: 'multiple-choice' as const } : {}),
    scores: pick(item.scores, ids),
    confidences: pick(item.confidences, ids),
  };
}

function build(sets: readonly LoadedSet[], recipe: Recipe, seed: number): ValidationSet {
  const pool = models(sets, recipe.models);
  const ids = pool.map((m) => m.id);
  const prompts = sets.flatMap((s, i) => {
    const order = createRng(seed + i).shuffle(s.items.map((_, j) => j));
    // Keep file order inside each set so diffs of a rerun with another size stay readable.
    return order
      .slice(0, recipe.perSet)
      .sort((a, b) => a - b)
      .map((j) => toPrompt(s.items[j]!, ids));
  });
  return validateValidationSet({
    name: recipe.name,
    source:
      `${sets.map((s) => s.name).join(' + ')} from ${[...new Set(sets.map((s) => s.card.source ?? '?'))].join('; ')}`
      + `; ${recipe.perSet} prompts per set, seeded sample (seed ${seed}); model cost = mean recorded USD per call, `
      + 'local models 0; reference = the letter the correct models answered (or, when none was right, the one letter no model gave)',
    licence: 'rational-llm-cascades data: no licence file in the repository (as stated by the data cards)',
    models: pool,
    prompts,
  });
}

/** One prompt a line: small diffs, still plain JSON. */
function serialise(set: ValidationSet): string {
  const head = JSON.stringify({ name: set.name, source: set.source, licence: set.licence, models: set.models }, null, 2);
  const prompts = set.prompts.map((p) => `    ${JSON.stringify(p)}`).join(',\n');
  return `${head.slice(0, -2)},\n  "prompts": [\n${prompts}\n  ]\n}\n`;
}

async function write(file: string, set: ValidationSet): Promise<void> {
  const text = serialise(set);
  validateValidationSet(JSON.parse(text));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  const graded = set.prompts.filter((p) => p.reference !== undefined).length;
  console.log(
    `${file}: ${set.prompts.length} prompts (${graded} with a reference), ${set.models.length} models, `
      + `${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB, hash ${await validationSetHash(set)}`,
  );
}

const seed = Number(values.seed);
const sets = await Promise.all(SETS.map((name) => loadSet(values.data, name)));
await write(values.out, build(sets, DEFAULT_RECIPE, seed));
await write(values.fixture, build(sets, TINY_RECIPE, seed));
