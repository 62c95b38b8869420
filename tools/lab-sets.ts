/**
 * Data sets for the demo's routing lab, served by `npm start` (tools/demo-server.ts) as JSON in
 * the validation-set layout plus per-prompt costs: the committed samples (the replay sample of
 * three sets, the default profile the package ships) and, when ../shared/data is there, the full
 * sets. Large sets are cut to a seeded sample of `limit` prompts, since the browser embeds every
 * prompt it is given.
 */
import { readFile } from 'node:fs/promises';
import { modelCosts, type DataItem, type LoadedSet, type SetCard } from '../dev/data';
import { createRng } from '../src/core/random';
import type { ValidationModel, ValidationPrompt, ValidationSet } from '../src/common/validation-set';
import { validateValidationSet } from '../src/common/validation-set';
import type { ReplaySet } from '../dev/replay-data';

/** A validation set whose prompts may carry each model's recorded cost of that call. */
export interface LabSet extends ValidationSet {
  readonly prompts: readonly (ValidationPrompt & { readonly costs?: Readonly<Record<string, number>> })[];
  /** Prompts in the whole set, before sampling. */
  readonly totalPrompts: number;
}

export interface LabSetEntry {
  /** `sample:<set>`, `full:<set>` or `profile:<file>`. */
  readonly id: string;
  readonly label: string;
  readonly prompts: number;
  readonly models: number;
}

export interface LabCatalog {
  readonly entries: readonly LabSetEntry[];
  /** The set, cut to a seeded sample of at most `limit` prompts. */
  get(id: string, limit: number): LabSet | undefined;
}

/** Sets the caller has loaded already (the demo server shares them with its replay cloud). */
export interface LabSources {
  /** The committed replay sample's sets (dev/replay-data.ts loadReplaySets). */
  readonly sample?: readonly ReplaySet[];
  /** The full sets of a data folder in the ../shared/data layout (dev/data.ts loadSet). */
  readonly full?: readonly LoadedSet[];
  /** Validation-set JSON files the package ships (e.g. public/profiles/default-validation.json). */
  readonly profiles?: readonly string[];
}

interface Loaded {
  readonly entry: LabSetEntry;
  readonly set: LabSet;
}

const SAMPLE_SEED = 7;

function fromItems(card: SetCard, items: readonly DataItem[], origin: string): LabSet {
  const { models } = modelCosts(card, items);
  const local = new Set(card.local_candidates ?? []);
  // As in the benchmark: a local candidate runs on the user's device and costs nothing per call.
  const labModels: ValidationModel[] = models.map((m) => (local.has(m.id) ? { id: m.id, cost: 0, local: true } : { id: m.id, cost: m.cost }));
  const ids = labModels.map((m) => m.id);
  const prompts = items
    .filter((it) => ids.every((id) => Number.isFinite(it.scores[id])))
    .map((it) => ({
      id: it.id,
      prompt: it.prompt,
      task: it.task,
      scores: it.scores,
      ...(it.costs
        ? { costs: Object.fromEntries(ids.filter((id) => !local.has(id) && Number.isFinite(it.costs![id])).map((id) => [id, it.costs![id]!])) }
        : {}),
    }));
  return {
    name: `${card.name} (${origin})`,
    source: String(card.source ?? 'see the set card'),
    licence: String(card.license ?? 'see the set card'),
    models: labModels,
    prompts,
    totalPrompts: prompts.length,
  };
}

function sampled(set: LabSet, limit: number): LabSet {
  if (set.prompts.length <= limit) return set;
  const order = set.prompts.map((_, i) => i);
  createRng(SAMPLE_SEED).shuffle(order);
  const keep = new Set(order.slice(0, limit));
  return { ...set, prompts: set.prompts.filter((_, i) => keep.has(i)) };
}

export async function loadLabCatalog(sources: LabSources): Promise<LabCatalog> {
  const loaded: Loaded[] = [];
  const add = (id: string, label: string, set: LabSet): void => {
    if (set.prompts.length < 20) return;
    loaded.push({ entry: { id, label, prompts: set.prompts.length, models: set.models.length }, set });
  };
  for (const file of sources.profiles ?? []) {
    const set = validateValidationSet(JSON.parse(await readFile(file, 'utf8')));
    add(`profile:${set.name}`, `${set.name} — the profile the package ships`, { ...set, totalPrompts: set.prompts.length });
  }
  for (const s of sources.sample ?? []) {
    add(`sample:${s.name}`, `${s.name} — committed sample`, fromItems(s.card, s.items, 'sample'));
  }
  for (const set of sources.full ?? []) {
    // No folder in the label: the page shows it to visitors, and a server path means nothing to them.
    add(`full:${set.name}`, `${set.name} — full set`, fromItems(set.card, set.items, 'full'));
  }
  const byId = new Map(loaded.map((l) => [l.entry.id, l.set]));
  return {
    entries: loaded.map((l) => l.entry),
    get(id, limit) {
      const set = byId.get(id);
      if (!set) return undefined;
      if (!(Number.isInteger(limit) && limit >= 20)) throw new Error(`limit must be an integer ≥ 20, got ${limit}`);
      return sampled(set, limit);
    },
  };
}
