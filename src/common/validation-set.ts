/**
 * The validation set a site ships to define its routing profile (UniRoute's "validation
 * prompts"): prompts with every model's recorded score, and the models' costs. The worker embeds
 * the prompts, clusters them and summarises each model by its per-cluster error (Ψ); a new model
 * joins by being scored on these same prompts.
 *
 * Pure: no DOM, no I/O. The hash uses crypto.subtle, present in browsers, workers and Node ≥ 20.
 */
import type { GradingKind } from '../core/grading';
import { EdgeRouteError } from './errors';

/** One model of the pool. */
export interface ValidationModel {
  readonly id: string;
  /** USD per call (mean over the validation prompts where per-call costs were recorded). */
  readonly cost: number;
  /** Runs on the user's device (web-llm, Prompt API): then its cost is 0. */
  readonly local?: boolean;
  /**
   * What this model's recorded `confidences` measure. The escalation rule fitted on them applies
   * only to local answers whose confidence is of the same kind: 'mean-logprob' (the worker's mean
   * token log-probability) or 'sample-agreement' (its share of agreeing samples) when they were
   * measured as the worker measures them, else a name of your own (e.g. 'answer-logprob' for a
   * log-probability recorded elsewhere). A kind ending in 'logprob' is read as a log-probability.
   */
  readonly confidenceKind?: string;
}

/** One validation prompt with known outcomes. */
export interface ValidationPrompt {
  readonly id: string;
  /** The text the models were given. */
  readonly prompt: string;
  /** The benchmark / subject it came from, e.g. 'mmlu'. */
  readonly task?: string;
  /** The right answer, for grading a model measured later (measureModel). */
  readonly reference?: string;
  /** How to grade an answer against `reference`; both or neither must be given. */
  readonly grading?: GradingKind;
  /** model id → quality in [0, 1] (1 = correct). A model may lack a score on some prompts. */
  readonly scores: Readonly<Record<string, number>>;
  /** model id → that model's own confidence in its answer (higher = surer), where recorded. */
  readonly confidences?: Readonly<Record<string, number>>;
}

export interface ValidationSet {
  readonly name: string;
  /** Where the prompts and scores come from. */
  readonly source: string;
  /** Their licence, as stated by the source. */
  readonly licence: string;
  readonly models: readonly ValidationModel[];
  readonly prompts: readonly ValidationPrompt[];
}

const GRADING_KINDS: readonly GradingKind[] = ['multiple-choice', 'numeric', 'exact'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(setName: string, message: string): EdgeRouteError {
  return new EdgeRouteError('invalid-config', `validation set "${setName}": ${message}`);
}

function checkModels(raw: unknown, setName: string): ValidationModel[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw invalid(setName, '"models" must be a non-empty array of { id, cost, local? }');
  }
  const seen = new Set<string>();
  raw.forEach((m: unknown, i) => {
    if (!isObject(m) || typeof m.id !== 'string' || m.id.length === 0) {
      throw invalid(setName, `models[${i}] needs a non-empty string "id"`);
    }
    if (seen.has(m.id)) throw invalid(setName, `model id "${m.id}" is listed twice in "models"`);
    seen.add(m.id);
    if (typeof m.cost !== 'number' || !Number.isFinite(m.cost) || m.cost < 0) {
      throw invalid(setName, `model "${m.id}" has cost ${String(m.cost)}; expected a finite number ≥ 0 (USD per call)`);
    }
    if (m.confidenceKind !== undefined && (typeof m.confidenceKind !== 'string' || m.confidenceKind === '')) {
      throw invalid(setName, `model "${m.id}": "confidenceKind" must be a non-empty string, e.g. "mean-logprob"`);
    }
    if (m.local !== undefined && typeof m.local !== 'boolean') {
      throw invalid(setName, `model "${m.id}": "local" must be true or false`);
    }
    // types.ts convention: a model on the user's device costs nothing per call.
    if (m.local === true && m.cost !== 0) {
      throw invalid(setName, `model "${m.id}" is local but has cost ${m.cost}; a local model costs 0 per call`);
    }
  });
  return raw as ValidationModel[];
}

function checkNumberMap(
  raw: unknown,
  field: string,
  where: string,
  models: ReadonlySet<string>,
  setName: string,
  ok: (x: number) => boolean,
  expected: string,
): void {
  if (!isObject(raw)) throw invalid(setName, `${where}: "${field}" must be an object of model id → number`);
  for (const [model, x] of Object.entries(raw)) {
    if (!models.has(model)) {
      throw invalid(setName, `${where}: ${field} names model "${model}", which is not in "models" (${[...models].join(', ')})`);
    }
    if (typeof x !== 'number' || !ok(x)) {
      throw invalid(setName, `${where}: ${field}["${model}"] = ${JSON.stringify(x) ?? String(x)}; expected ${expected}`);
    }
  }
}

function checkPrompt(p: unknown, i: number, models: ReadonlySet<string>, ids: Set<string>, setName: string): void {
  if (!isObject(p) || typeof p.id !== 'string' || p.id.length === 0) {
    throw invalid(setName, `prompts[${i}] needs a non-empty string "id"`);
  }
  const where = `prompts[${i}] (id "${p.id}")`;
  if (ids.has(p.id)) throw invalid(setName, `${where}: duplicate prompt id`);
  ids.add(p.id);
  if (typeof p.prompt !== 'string' || p.prompt.trim().length === 0) {
    throw invalid(setName, `${where}: "prompt" must be a non-empty string`);
  }
  for (const key of ['task', 'reference'] as const) {
    if (p[key] !== undefined && typeof p[key] !== 'string') throw invalid(setName, `${where}: "${key}" must be a string`);
  }
  if (p.grading !== undefined && !GRADING_KINDS.includes(p.grading as GradingKind)) {
    throw invalid(setName, `${where}: grading ${JSON.stringify(p.grading)} is not one of ${GRADING_KINDS.join(', ')}`);
  }
  // A grading rule is useless without a reference, and a reference without one is ambiguous.
  if ((p.grading === undefined) !== (p.reference === undefined)) {
    throw invalid(setName, `${where}: give both "reference" and "grading", or neither`);
  }
  checkNumberMap(p.scores, 'scores', where, models, setName, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  if (p.confidences !== undefined) {
    checkNumberMap(p.confidences, 'confidences', where, models, setName, Number.isFinite, 'a finite number');
  }
}

/**
 * Checks `value` against the ValidationSet format and returns it typed. Throws
 * EdgeRouteError('invalid-config') naming the field at fault.
 */
export function validateValidationSet(value: unknown): ValidationSet {
  if (!isObject(value)) throw new EdgeRouteError('invalid-config', 'validation set: expected a JSON object');
  const setName = typeof value.name === 'string' ? value.name : '?';
  if (typeof value.name !== 'string' || value.name.length === 0) throw invalid(setName, '"name" must be a non-empty string');
  for (const key of ['source', 'licence'] as const) {
    if (typeof value[key] !== 'string') throw invalid(setName, `"${key}" must be a string`);
  }
  const models = checkModels(value.models, setName);
  const modelIds = new Set(models.map((m) => m.id));
  if (!Array.isArray(value.prompts) || value.prompts.length === 0) {
    throw invalid(setName, '"prompts" must be a non-empty array: a routing profile needs validation prompts');
  }
  const ids = new Set<string>();
  value.prompts.forEach((p: unknown, i) => checkPrompt(p, i, modelIds, ids, setName));
  const prompts = value.prompts as ValidationPrompt[];
  // Ψ(h) needs at least one score of every model (buildProfile would fail later, less clearly).
  for (const m of models) {
    if (!prompts.some((p) => p.scores[m.id] !== undefined)) {
      throw invalid(setName, `model "${m.id}" has no score on any prompt`);
    }
  }
  return value as unknown as ValidationSet;
}

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!isObject(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = v[k];
    return sorted;
  });
}

/**
 * What the cached routing state depends on: prompt ids and texts (the embeddings and clusters,
 * in prompt order), scores and models (Ψ). Name, source, licence, references and confidences
 * are left out: changing them does not change the state.
 */
function hashedContent(set: ValidationSet): unknown {
  return {
    models: set.models.map((m) => ({ id: m.id, cost: m.cost, local: m.local === true })),
    prompts: set.prompts.map((p) => ({ id: p.id, prompt: p.prompt, scores: p.scores })),
  };
}

/** Stable content hash of a validation set (lower-case hex SHA-256), used in cache keys. */
export async function validationSetHash(set: ValidationSet): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(hashedContent(set)));
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The prompts that can be graded: those with a reference and a grading rule. */
export function gradablePrompts(set: ValidationSet): ValidationPrompt[] {
  return set.prompts.filter((p) => p.reference !== undefined && p.grading !== undefined);
}

/** A model measured on the set's prompts, as `npm run calibrate` writes it (UniRoute's addModel input). */
export interface CalibratedModel {
  readonly id: string;
  /** USD per call (0 when `local`). */
  readonly cost: number;
  readonly local?: boolean;
  /** Prompt id → quality in [0, 1]; prompts left out stay unscored for this model. */
  readonly scores: Readonly<Record<string, number>>;
  /** Prompt id → the model's own confidence in its answer, of `confidenceKind` (measureLocalModel records them). */
  readonly confidences?: Readonly<Record<string, number>>;
  /** What `confidences` measure, e.g. 'mean-logprob': the escalation rule fitted on them applies to answers of this kind. */
  readonly confidenceKind?: string;
}

/**
 * The set with one more model: how a site adds its own cloud model to a shipped profile. Only
 * the new model's scores on these prompts are needed; nothing is retrained. Returns a new,
 * validated set (the input is unchanged); throws EdgeRouteError('invalid-config') when the model
 * is already there, names unknown prompts, or scores none of them.
 */
export function withCalibratedModel(set: ValidationSet, model: CalibratedModel): ValidationSet {
  if (set.models.some((m) => m.id === model.id)) {
    throw invalid(set.name, `model "${model.id}" is already in the set; give the new model another id, or remove the old one first`);
  }
  if (!isObject(model.scores)) throw invalid(set.name, `model "${model.id}": "scores" must be an object of prompt id → score`);
  const known = new Set(set.prompts.map((p) => p.id));
  const unknown = Object.keys(model.scores).filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw invalid(
      set.name,
      `model "${model.id}" has scores for ${unknown.length} prompt(s) not in this set (e.g. "${unknown[0]}"); calibrate it on this set's prompts (npm run calibrate -- --set <this set's JSON>)`,
    );
  }
  if ((model.confidences === undefined) !== (model.confidenceKind === undefined)) {
    throw invalid(set.name, `model "${model.id}": give its "confidences" together with their "confidenceKind", or neither`);
  }
  const { id, scores, confidences = {} } = model;
  return validateValidationSet({
    ...set,
    models: [
      ...set.models,
      { id, cost: model.cost, ...(model.local ? { local: true } : {}), ...(model.confidenceKind ? { confidenceKind: model.confidenceKind } : {}) },
    ],
    prompts: set.prompts.map((p) => ({
      ...p,
      scores: scores[p.id] === undefined ? p.scores : { ...p.scores, [id]: scores[p.id] },
      ...(confidences[p.id] === undefined ? {} : { confidences: { ...p.confidences, [id]: confidences[p.id] } }),
    })),
  });
}
