/**
 * Loader for routing data sets in the ../shared/data layout: one folder per set holding
 * card.json (models, prices, meaning of scores) and items.jsonl (one prompt a line).
 * Validates what the benchmark relies on and fails with messages that name file and line.
 *
 * Cost per model (USD per call; every set gets one, see modelCosts):
 * - 'recorded': items carry per-call `costs` → the mean over the set's prompts.
 * - 'card-price': otherwise the card's usd_per_mtok_in/out applied to a token estimate:
 *   input  = ceil((system_prompt chars + prompt chars) / CHARS_PER_TOKEN),
 *   output = ceil(response chars / CHARS_PER_TOKEN) where `responses` has that model's answer,
 *            else DEFAULT_OUTPUT_TOKENS;
 *   cost = mean over prompts of (input·in + output·out) / 1e6.
 */

import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSpec } from '../src/core/types';
import { createRng } from '../src/core/random';

// The seeded prompt split lives with the cross-validation that also uses it (the worker's).
export { splitPrompts, type PromptSplit, type SplitOptions } from '../src/core/cross-validation';

/** Common rule of thumb for English with GPT-style tokenisers. */
export const CHARS_PER_TOKEN = 4;
/**
 * Output tokens assumed for a call whose answer was not recorded: a typical short chat answer.
 * Only card-priced sets without responses use it (routellm-mmlu, routellm-mt-bench).
 */
export const DEFAULT_OUTPUT_TOKENS = 256;

export const DEFAULT_DATA_DIR = '../shared/data';

export class DataError extends Error {
  override readonly name = 'DataError';
}

export interface CardModel {
  readonly id: string;
  readonly usd_per_mtok_in?: number;
  readonly usd_per_mtok_out?: number;
}

export interface SetCard {
  readonly name: string;
  readonly models: readonly CardModel[];
  readonly items?: number;
  readonly source?: string;
  readonly license?: string;
  readonly score?: string;
  readonly weak?: string;
  readonly strong?: string;
  readonly local_candidates?: readonly string[];
  readonly system_prompt?: string;
  readonly [key: string]: unknown;
}

export interface DataItem {
  readonly id: string;
  readonly task: string;
  readonly prompt: string;
  /**
   * model id → quality in [0, 1]. Every card model is named in the line; one recorded as `null`
   * (not run, or its answer lost) is absent here and counted in LoadedSet.missing.
   */
  readonly scores: Readonly<Record<string, number>>;
  readonly costs?: Readonly<Record<string, number>>;
  readonly confidences?: Readonly<Record<string, number>>;
  readonly responses?: Readonly<Record<string, string>>;
  readonly turns?: readonly string[];
  readonly judge_scores?: Readonly<Record<string, number>>;
}

export type CostSource = 'recorded' | 'card-price';

export interface LoadedSet {
  readonly name: string;
  readonly dir: string;
  readonly card: SetCard;
  readonly items: readonly DataItem[];
  /** Card order; cost = USD per call as described at the top of this file. */
  readonly models: readonly ModelSpec[];
  readonly costSource: Readonly<Record<string, CostSource>>;
  /** Per model, how many items recorded `null` (missing) for its score, confidence or cost; only models with gaps. */
  readonly missing: MissingCounts;
  /** Things worth saying that do not stop the set from being used (e.g. the card's item count is off). */
  readonly warnings: readonly string[];
}

export interface MissingCounts {
  readonly scores: Readonly<Record<string, number>>;
  readonly confidences: Readonly<Record<string, number>>;
  readonly costs: Readonly<Record<string, number>>;
}

export interface CostOptions {
  readonly charsPerToken?: number;
  readonly defaultOutputTokens?: number;
}

function missingDirMessage(dataDir: string): string {
  return (
    `data folder ${path.resolve(dataDir)} not found. Pass --data <folder> (a folder of sets, `
    + `each with card.json and items.jsonl), or place the shared sets at ${DEFAULT_DATA_DIR} `
    + 'relative to the project root.'
  );
}

/** Names of the sets in `dataDir` (folders holding card.json and items.jsonl), sorted. */
export async function listSets(dataDir: string): Promise<string[]> {
  if (!existsSync(dataDir)) throw new DataError(missingDirMessage(dataDir));
  const entries = await readdir(dataDir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() && !e.isSymbolicLink()) continue;
    const dir = path.join(dataDir, e.name);
    if ((await stat(dir)).isDirectory() && existsSync(path.join(dir, 'card.json')) && existsSync(path.join(dir, 'items.jsonl'))) {
      names.push(e.name);
    }
  }
  return names.sort();
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseCard(text: string, file: string): SetCard {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) throw new DataError(`${file}: expected a JSON object`);
  if (typeof raw.name !== 'string') throw new DataError(`${file}: "name" must be a string`);
  if (!Array.isArray(raw.models) || raw.models.length === 0) {
    throw new DataError(`${file}: "models" must be a non-empty array`);
  }
  const seen = new Set<string>();
  raw.models.forEach((m: unknown, i) => {
    if (!isObject(m) || typeof m.id !== 'string' || m.id.length === 0) {
      throw new DataError(`${file}: models[${i}] needs a string "id"`);
    }
    if (seen.has(m.id)) throw new DataError(`${file}: model "${m.id}" is listed twice`);
    seen.add(m.id);
    for (const key of ['usd_per_mtok_in', 'usd_per_mtok_out']) {
      if (m[key] !== undefined && !(isFiniteNumber(m[key]) && m[key] >= 0)) {
        throw new DataError(`${file}: models[${i}].${key} must be a number ≥ 0`);
      }
    }
  });
  for (const key of ['weak', 'strong']) {
    if (raw[key] !== undefined && !seen.has(String(raw[key]))) {
      throw new DataError(`${file}: "${key}" names ${String(raw[key])}, which is not in "models"`);
    }
  }
  return raw as unknown as SetCard;
}

/**
 * Checks a model id → number map; with `nullable`, a `null` value means "missing": it is removed
 * from the map and its model returned, so the caller can count the gaps.
 */
function checkNumberMap(
  v: unknown,
  field: string,
  where: string,
  models: ReadonlySet<string>,
  check: (x: number) => boolean,
  what: string,
  nullable = false,
): string[] {
  if (v === undefined) return [];
  if (!isObject(v)) throw new DataError(`${where}: "${field}" must be an object of model id → number`);
  const nulls: string[] = [];
  for (const [model, x] of Object.entries(v)) {
    if (!models.has(model)) throw new DataError(`${where}: ${field} has model "${model}", not in card.json`);
    if (x === null && nullable) {
      nulls.push(model);
      delete v[model];
      continue;
    }
    if (!isFiniteNumber(x) || !check(x)) {
      throw new DataError(`${where}: ${field}["${model}"] = ${JSON.stringify(x)}; expected ${what}${nullable ? ' or null (missing)' : ''}`);
    }
  }
  return nulls;
}

interface ParsedItem {
  readonly item: DataItem;
  /** field → the models recorded as null there. */
  readonly nulls: { readonly scores: string[]; readonly confidences: string[]; readonly costs: string[] };
}

function parseItem(line: string, where: string, models: ReadonlySet<string>): ParsedItem {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (error) {
    throw new DataError(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) throw new DataError(`${where}: expected a JSON object`);
  for (const key of ['id', 'task', 'prompt']) {
    if (typeof raw[key] !== 'string') throw new DataError(`${where}: "${key}" must be a string`);
  }
  if (!isObject(raw.scores)) throw new DataError(`${where}: "scores" must be an object`);
  // A model left out of a line is more likely a typo than a gap: gaps are written as null.
  for (const m of models) {
    if (!(m in raw.scores)) throw new DataError(`${where}: no score for model "${m}" (write null if it is missing)`);
  }
  const nullScores = checkNumberMap(raw.scores, 'scores', where, models, (x) => x >= 0 && x <= 1, 'a number in [0, 1]', true);
  const nullCosts = checkNumberMap(raw.costs, 'costs', where, models, (x) => x >= 0, 'a number ≥ 0', true);
  const nullConfidences = checkNumberMap(raw.confidences, 'confidences', where, models, () => true, 'a finite number', true);
  checkNumberMap(raw.judge_scores, 'judge_scores', where, models, () => true, 'a finite number');
  if (raw.responses !== undefined) {
    if (!isObject(raw.responses) || !Object.values(raw.responses).every((r) => typeof r === 'string')) {
      throw new DataError(`${where}: "responses" must be an object of model id → string`);
    }
  }
  if (raw.turns !== undefined && !(Array.isArray(raw.turns) && raw.turns.every((t: unknown) => typeof t === 'string'))) {
    throw new DataError(`${where}: "turns" must be an array of strings`);
  }
  return { item: raw as unknown as DataItem, nulls: { scores: nullScores, confidences: nullConfidences, costs: nullCosts } };
}

/** Mean USD per call for each card model; see the top of this file for the rule. */
export function modelCosts(
  card: SetCard,
  items: readonly DataItem[],
  options: CostOptions = {},
): { models: ModelSpec[]; costSource: Record<string, CostSource> } {
  const charsPerToken = options.charsPerToken ?? CHARS_PER_TOKEN;
  const defaultOut = options.defaultOutputTokens ?? DEFAULT_OUTPUT_TOKENS;
  const systemChars = typeof card.system_prompt === 'string' ? card.system_prompt.length : 0;
  const models: ModelSpec[] = [];
  const costSource: Record<string, CostSource> = {};
  for (const m of card.models) {
    const recorded = items.map((it) => it.costs?.[m.id]).filter(isFiniteNumber);
    if (recorded.length > 0) {
      models.push({ id: m.id, cost: recorded.reduce((a, b) => a + b, 0) / recorded.length });
      costSource[m.id] = 'recorded';
      continue;
    }
    if (m.usd_per_mtok_in === undefined || m.usd_per_mtok_out === undefined) {
      throw new DataError(
        `set ${card.name}: model "${m.id}" has neither per-call costs in items.jsonl nor ` + 'usd_per_mtok_in/out in card.json, so it has no cost',
      );
    }
    let total = 0;
    for (const it of items) {
      const inTok = Math.ceil((systemChars + it.prompt.length) / charsPerToken);
      const response = it.responses?.[m.id];
      const outTok = response !== undefined ? Math.ceil(response.length / charsPerToken) : defaultOut;
      total += (inTok * m.usd_per_mtok_in + outTok * m.usd_per_mtok_out) / 1e6;
    }
    models.push({ id: m.id, cost: items.length > 0 ? total / items.length : 0 });
    costSource[m.id] = 'card-price';
  }
  return { models, costSource };
}

/** Loads and validates one set. Throws DataError naming the file (and line) at fault. */
export async function loadSet(dataDir: string, name: string, options: CostOptions = {}): Promise<LoadedSet> {
  if (!existsSync(dataDir)) throw new DataError(missingDirMessage(dataDir));
  const dir = path.join(dataDir, name);
  const cardFile = path.join(dir, 'card.json');
  const itemsFile = path.join(dir, 'items.jsonl');
  if (!existsSync(dir)) {
    const known = await listSets(dataDir);
    throw new DataError(`no set "${name}" in ${path.resolve(dataDir)}; sets there: ${known.join(', ') || 'none'}`);
  }
  for (const f of [cardFile, itemsFile]) {
    if (!existsSync(f)) throw new DataError(`${f} is missing: a set folder needs card.json and items.jsonl`);
  }
  const card = parseCard(await readFile(cardFile, 'utf8'), cardFile);
  const modelIds = new Set(card.models.map((m) => m.id));
  const items: DataItem[] = [];
  const ids = new Set<string>();
  const missing = { scores: {} as Record<string, number>, confidences: {} as Record<string, number>, costs: {} as Record<string, number> };
  const lines = (await readFile(itemsFile, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (line.trim().length === 0) return;
    const where = `${itemsFile}:${i + 1}`;
    const { item, nulls } = parseItem(line, where, modelIds);
    if (ids.has(item.id)) throw new DataError(`${where}: duplicate id "${item.id}"`);
    ids.add(item.id);
    items.push(item);
    for (const field of ['scores', 'confidences', 'costs'] as const) {
      for (const m of nulls[field]) missing[field][m] = (missing[field][m] ?? 0) + 1;
    }
  });
  if (items.length === 0) throw new DataError(`${itemsFile} has no items`);
  const warnings: string[] = [];
  if (card.items !== undefined && card.items !== items.length) {
    warnings.push(`${cardFile} says ${card.items} items but ${itemsFile} has ${items.length}; using the ${items.length} in the file`);
  }
  for (const m of card.models) {
    if (missing.scores[m.id] === items.length) warnings.push(`set ${name}: model "${m.id}" has no score on any item`);
  }
  const { models, costSource } = modelCosts(card, items, options);
  return { name, dir, card, items, models, costSource, missing, warnings };
}

/**
 * Seeded split of a model pool into models seen in training and unseen ones (UniRoute's
 * new-model setting). round(n·seenFraction) seen, at least 1; both lists keep input order.
 */
export function splitModels<T>(models: readonly T[], seed: number, seenFraction: number): { seen: T[]; unseen: T[] } {
  if (!(seenFraction >= 0 && seenFraction <= 1)) {
    throw new RangeError(`seenFraction must be in [0, 1], got ${seenFraction}`);
  }
  const n = models.length;
  const nSeen = n === 0 ? 0 : Math.max(1, Math.min(n, Math.round(n * seenFraction)));
  const order = createRng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const isSeen = new Uint8Array(n);
  for (let r = 0; r < nSeen; r++) isSeen[order[r]] = 1;
  return {
    seen: models.filter((_, i) => isSeen[i] === 1),
    unseen: models.filter((_, i) => isSeen[i] === 0),
  };
}
