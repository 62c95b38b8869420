/**
 * Writes the demo page's static assets under public/demo/ (Vite copies them into dist-site/),
 * so the demo works from any static host with no server behind it:
 *
 *   examples.json              recorded prompts for the chat: Llama-3.2-1B's answer and its own
 *                              confidence, GPT-4o-mini's and GPT-4o's answers, each model's 0/1
 *                              score and recorded cost. Held out: none is a prompt of the shipped
 *                              routing profile, so the router never saw them.
 *   lab/sets.json, lab/*.json  routing-lab sets (validation-set layout, seeded samples)
 *   profile-cache/use-lite.*   the worker's IndexedDB profile entry for the shipped profile and
 *                              USE lite (centroids, Ψ, validation embeddings), computed here
 *                              with the same code the worker runs, so a first visit embeds
 *                              no validation prompt (demo/profile-seed.ts writes it to IndexedDB).
 *
 *   npx tsx tools/make-demo-assets.ts [--data ../shared/data] [--out public/demo]
 *
 * Deterministic (seeded samples, fixed k-means seed) except the entry's createdAt.
 */
import 'fake-indexeddb/auto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, loadSet, type DataItem, type LoadedSet } from '../dev/data';
import { createNodeUseEmbedder } from '../dev/node-use';
import { createRng } from '../src/core/random';
import { validateValidationSet, type ValidationSet } from '../src/common/validation-set';
import { UniRouteState } from '../src/worker/profile-state';
import { kvGet, openKvStore } from '../src/worker/storage/kv';
import type { ProfileEntry } from '../src/worker/storage/profile-cache';
import { loadLabCatalog } from './lab-sets';
import { encodeProfileEntry } from '../demo/profile-seed';
import type { DemoExample, DemoExamples } from '../demo/examples';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA_DIR },
    out: { type: 'string', default: 'public/demo' },
    'per-set': { type: 'string', default: '24' },
  },
});
const out = path.resolve(root, values.out);
const dataDir = path.resolve(root, values.data);

/** The models the demo's chat uses: the on-device one and the two cloud models of the default settings. */
const DEMO_MODELS = ['llama3.2-1b', 'gpt-4o-mini', 'gpt-4o'] as const;
/** Lab sets and how many prompts of each are shipped (the browser embeds every prompt it runs). */
const LAB_SETS: readonly { name: string; limit: number }[] = [
  { name: 'cascade-mmlu', limit: 400 },
  { name: 'cascade-medmcqa', limit: 400 },
  { name: 'routellm-gsm8k', limit: 300 },
  { name: 'routerbench-mix', limit: 300 },
];
/** Short prompts read well in a chat bubble. */
const MAX_EXAMPLE_CHARS = 700;

function examplesOf(set: LoadedSet, exclude: ReadonlySet<string>, n: number, seed: number): DemoExample[] {
  const usable = set.items.filter(
    (it: DataItem) =>
      !exclude.has(it.id)
      && it.prompt.length <= MAX_EXAMPLE_CHARS
      && DEMO_MODELS.every((m) => it.responses?.[m] !== undefined && Number.isFinite(it.scores[m]) && Number.isFinite(it.costs?.[m]))
      && Number.isFinite(it.confidences?.['llama3.2-1b']),
  );
  const order = createRng(seed)
    .shuffle(usable.map((_, i) => i))
    .slice(0, n)
    .sort((a, b) => a - b);
  return order.map((i) => {
    const it = usable[i]!;
    const pick = (o: Readonly<Record<string, number | string>> | undefined): Record<string, never> =>
      Object.fromEntries(DEMO_MODELS.map((m) => [m, o![m]])) as Record<string, never>;
    return {
      id: `${set.name}:${it.id}`,
      set: set.name,
      prompt: it.prompt,
      scores: pick(it.scores),
      costs: pick(it.costs),
      responses: pick(it.responses),
      localConfidence: it.confidences!['llama3.2-1b']!,
      ...(reference(it) ? { reference: reference(it)! } : {}),
    };
  });
}

/** The letter the models that were right answered (all nine of the set), if any was right and they agree. */
function reference(it: DataItem): string | undefined {
  const letters = new Set(
    Object.keys(it.scores)
      .filter((m) => it.scores[m] === 1 && it.responses?.[m] !== undefined)
      .map((m) => /^\s*\(?([A-D])\b/.exec(it.responses![m]!)?.[1] ?? it.responses![m]!.trim()),
  );
  return letters.size === 1 ? [...letters][0] : undefined;
}

async function profileCache(profile: ValidationSet): Promise<{ entry: ProfileEntry; key: string; millis: number }> {
  const embedder = await createNodeUseEmbedder();
  const store = openKvStore('edgeroute', 'profiles');
  const t = performance.now();
  // The worker's own code path (k: 'auto', default seed), so the entry is the one it would write.
  const state = await UniRouteState.prepare({ embedder, validationSet: profile, store, k: 'auto' });
  const key = state.summary().cacheKey;
  const entry = await kvGet<ProfileEntry>(store, key);
  if (!entry) throw new Error(`no profile entry was written at ${key}`);
  return { entry, key, millis: performance.now() - t };
}

await mkdir(path.join(out, 'lab'), { recursive: true });
await mkdir(path.join(out, 'profile-cache'), { recursive: true });

const profileFile = path.resolve(root, 'public/profiles/default-validation.json');
const profile = validateValidationSet(JSON.parse(await readFile(profileFile, 'utf8')));
const inProfile = new Set(profile.prompts.map((p) => p.id));

// Chat examples, held out from the routing profile.
const perSet = Number(values['per-set']);
const mmlu = await loadSet(dataDir, 'cascade-mmlu');
const med = await loadSet(dataDir, 'cascade-medmcqa');
const examples: DemoExamples = {
  source: `${String(mmlu.card.source)}; cascade-mmlu and cascade-medmcqa sets of the project's shared data`,
  licence: String(mmlu.card.license ?? 'the source repository has no licence file; see README.md beside this file'),
  systemPrompt: String(mmlu.card.system_prompt ?? ''),
  models: [...DEMO_MODELS],
  items: [...examplesOf(mmlu, inProfile, perSet * 2, 11), ...examplesOf(med, inProfile, perSet, 12)],
};
await writeFile(path.join(out, 'examples.json'), `${JSON.stringify(examples)}\n`);
console.log(`examples.json: ${examples.items.length} recorded prompts (none in the routing profile)`);

// Routing-lab sets as static files.
const full = await Promise.all(LAB_SETS.map((s) => loadSet(dataDir, s.name)));
const catalog = await loadLabCatalog({ full });
const entries = [];
for (const s of LAB_SETS) {
  const id = `full:${s.name}`;
  const set = catalog.get(id, s.limit);
  if (!set) throw new Error(`lab set ${s.name} is missing`);
  const file = `${s.name}.json`;
  const { totalPrompts, ...body } = set;
  await writeFile(path.join(out, 'lab', file), `${JSON.stringify({ ...body, name: s.name })}\n`);
  entries.push({
    id: `static:${s.name}`,
    file,
    label: `${s.name} — ${set.prompts.length} of ${totalPrompts} prompts`,
    prompts: set.prompts.length,
    models: set.models.length,
  });
}
await writeFile(path.join(out, 'lab', 'sets.json'), `${JSON.stringify({ sets: entries }, null, 1)}\n`);
console.log(`lab/: ${entries.map((e) => `${e.file} (${e.prompts})`).join(', ')}`);

// The profile cache for USE lite.
const cache = await profileCache(profile);
const { meta, bytes } = encodeProfileEntry(cache.entry, cache.key);
await writeFile(path.join(out, 'profile-cache', 'use-lite.json'), `${JSON.stringify(meta, null, 1)}\n`);
await writeFile(path.join(out, 'profile-cache', 'use-lite.bin'), bytes);
console.log(
  `profile-cache/use-lite: key ${cache.key}, ${meta.arrays.length} arrays, ${(bytes.byteLength / 1024).toFixed(0)} KiB (computed in ${(cache.millis / 1000).toFixed(1)} s)`,
);
