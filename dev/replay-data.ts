/**
 * Recorded model answers for the replay cloud (dev/replay-cloud.ts) and the calibration
 * command (tools/calibrate.ts), read either from a data folder in the ../shared/data layout
 * (sets with `responses`) or from a committed sample (test/fixtures/replay-sample.jsonl).
 *
 * Sample format, one JSON object a line:
 *   {"set": "<name>", "card": {...card.json}}                       one per set, before its items
 *   {"set": "<name>", "id", "task", "prompt", "scores", "costs"?, "responses"}   one per item
 */
import { readFile, stat } from 'node:fs/promises';
import { listSets, loadSet, type LoadedSet, type SetCard } from './data';

export interface ReplayItem {
  readonly set: string;
  readonly id: string;
  readonly task: string;
  readonly prompt: string;
  readonly scores: Readonly<Record<string, number>>;
  readonly costs?: Readonly<Record<string, number>>;
  /** model id → the answer as recorded (RouterBench's are Python list literals: see recordedText). */
  readonly responses: Readonly<Record<string, string>>;
}

export interface ReplaySet {
  readonly name: string;
  /** The set's card.json (source, licence, system_prompt, models). */
  readonly card: SetCard;
  readonly items: readonly ReplayItem[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decodes the body of a Python string literal (the escapes repr() writes). */
function unescapePython(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/gs, (_m, e: string) => {
    switch (e[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '0':
        return '\0';
      case 'x':
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        return e; // \\ \' \" and anything else: the character itself
    }
  });
}

/**
 * The text a model actually answered. RouterBench stored each answer as the repr of a one-element
 * Python list (`['B\n']`); a real endpoint would have returned just `B\n`, so the replay unwraps it.
 * Any other string is returned as recorded.
 */
export function recordedText(raw: string): string {
  const m = /^\[\s*(['"])([\s\S]*)\1\s*\]$/.exec(raw);
  if (!m) return raw;
  const quote = m[1]!;
  const body = m[2]!;
  // A second unescaped quote of the same kind would mean a list of several strings: keep as is.
  if (new RegExp(`(^|[^\\\\])(\\\\\\\\)*${quote}`).test(body)) return raw;
  return unescapePython(body);
}

/** The items of a loaded set that have recorded responses, as a replay set; undefined when none have. */
export function replaySetOf(loaded: LoadedSet): ReplaySet | undefined {
  const items: ReplayItem[] = [];
  for (const it of loaded.items) {
    if (!it.responses) continue;
    items.push({
      set: loaded.name,
      id: it.id,
      task: it.task,
      prompt: it.prompt,
      scores: it.scores,
      ...(it.costs ? { costs: it.costs } : {}),
      responses: it.responses,
    });
  }
  return items.length > 0 ? { name: loaded.name, card: loaded.card, items } : undefined;
}

async function loadDir(dir: string, only?: ReadonlySet<string>): Promise<ReplaySet[]> {
  const sets: ReplaySet[] = [];
  for (const name of await listSets(dir)) {
    if (only && !only.has(name)) continue;
    const set = replaySetOf(await loadSet(dir, name));
    if (set) sets.push(set);
  }
  return sets;
}

async function loadSample(file: string, only?: ReadonlySet<string>): Promise<ReplaySet[]> {
  const cards = new Map<string, SetCard>();
  const items = new Map<string, ReplayItem[]>();
  const lines = (await readFile(file, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (!isObject(raw) || typeof raw.set !== 'string') throw new Error(`${where}: expected an object with a "set"`);
    if (isObject(raw.card)) {
      cards.set(raw.set, raw.card as unknown as SetCard);
      return;
    }
    for (const key of ['id', 'task', 'prompt'] as const) {
      if (typeof raw[key] !== 'string') throw new Error(`${where}: "${key}" must be a string`);
    }
    if (!isObject(raw.scores) || !isObject(raw.responses)) {
      throw new Error(`${where}: an item needs "scores" and "responses" objects`);
    }
    if (!cards.has(raw.set)) throw new Error(`${where}: item of set "${raw.set}" comes before that set's card line`);
    const list = items.get(raw.set) ?? [];
    list.push(raw as unknown as ReplayItem);
    items.set(raw.set, list);
  });
  const sets: ReplaySet[] = [];
  for (const [name, card] of cards) {
    if (only && !only.has(name)) continue;
    const list = items.get(name) ?? [];
    if (list.length > 0) sets.push({ name, card, items: list });
  }
  return sets;
}

/**
 * Loads the sets with recorded responses from a data folder or a sample .jsonl file,
 * optionally only the named ones. Throws when nothing with responses is found.
 */
export async function loadReplaySets(source: string, onlySets?: readonly string[]): Promise<ReplaySet[]> {
  const only = onlySets && onlySets.length > 0 ? new Set(onlySets) : undefined;
  let isDir: boolean;
  try {
    isDir = (await stat(source)).isDirectory();
  } catch {
    throw new Error(`replay data ${source} not found: pass a data folder (../shared/data) or a sample .jsonl file`);
  }
  const sets = isDir ? await loadDir(source, only) : await loadSample(source, only);
  if (only) {
    const missing = [...only].filter((n) => !sets.some((s) => s.name === n));
    if (missing.length > 0) {
      throw new Error(`no set with recorded responses named ${missing.join(', ')} in ${source}; ` + `there: ${sets.map((s) => s.name).join(', ') || 'none'}`);
    }
  }
  if (sets.length === 0) throw new Error(`${source} holds no set with recorded responses`);
  return sets;
}
