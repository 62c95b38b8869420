/**
 * Does the λ the worker calibrates on the validation prompts hold on prompts it never saw? For
 * each local model's pool of the shipped profile and a few cloud-share targets: the share and
 * quality the worker's pre-generation router (as chosen by its cross-validation) reaches on
 * cascade-mmlu / cascade-medmcqa prompts outside the profile, next to UniRoute k-means with its
 * own calibrated λ on the same prompts. USE lite in Node; the profile state from the demo's
 * shipped cache entry (public/demo/profile-cache/).
 *
 *   npx tsx tools/preroute-holdout.ts [--data ../shared/data] [--per-set 400] [--out reports/preroute-holdout.json]
 */
import 'fake-indexeddb/auto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readShippedSeed } from './shipped-seed';
import { DEFAULT_DATA_DIR, loadSet, type DataItem } from '../dev/data';
import { createNodeUseEmbedder } from '../dev/node-use';
import { validateValidationSet } from '../src/common/validation-set';
import { calibrateLambdaFromPredictions } from '../src/core/lambda-calibration';
import { textForEmbedding } from '../src/core/prompt-text';
import { route } from '../src/core/uniroute';
import { UniRouteState } from '../src/worker/profile-state';
import { kvSet, openKvStore } from '../src/worker/storage/kv';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA_DIR },
    profile: { type: 'string', default: 'public/profiles/default-validation.json' },
    cache: { type: 'string', default: 'public/demo/profile-cache/use-lite' },
    'per-set': { type: 'string', default: '400' },
    out: { type: 'string', default: 'reports/preroute-holdout.json' },
  },
});

const set = validateValidationSet(JSON.parse(await readFile(values.profile!, 'utf8')));
const { meta, entry } = await readShippedSeed(values.cache!);
const store = openKvStore('preroute-holdout', 'cache');
await kvSet(store, meta.key, entry);
const embedder = await createNodeUseEmbedder();
const state = await UniRouteState.prepare({ embedder, validationSet: set, store });
if (state.summary().source !== 'hit') throw new Error(`${values.cache} is not this profile's entry; rerun tools/make-demo-assets.ts`);

const inProfile = new Set(set.prompts.map((p) => p.prompt));
const perSet = Number(values['per-set']);
const items: DataItem[] = [];
for (const name of ['cascade-mmlu', 'cascade-medmcqa']) {
  const loaded = await loadSet(values.data!, name);
  items.push(...loaded.items.filter((x) => !inProfile.has(x.prompt)).slice(0, perSet));
}
const vectors = await embedder.embed(items.map((x) => textForEmbedding(x.prompt)));
console.log(`${items.length} prompts outside the profile (first ${perSet} of each set), embedded with ${embedder.id}`);

const rows: unknown[] = [];
for (const local of set.models.filter((m) => m.local)) {
  const pool = set.models.filter((m) => !m.local || m.id === local.id).map((m) => m.id);
  const models = pool.map((id) => state.models.find((m) => m.id === id)!).map((m) => ({ id: m.id, cost: m.cost }));
  const index = pool.map((id) => state.models.findIndex((m) => m.id === id));
  const validation = set.prompts.map((p) => ({ id: p.id, embedding: new Float32Array(0), scores: p.scores }));
  const psiOnValidation = Array.from(entry.validationAssignments, (c) => Float64Array.from(index, (h) => entry.featureVectors[h]![c]!));
  for (const share of [0.2, 0.4, 0.6]) {
    const calibrated = state.calibrateLambda({ kind: 'cloudShare', share }, pool);
    const decisions = vectors.map((v) => state.decideTimed(v, calibrated.lambda, pool));
    const uniLambda = calibrateLambdaFromPredictions(psiOnValidation, validation, models, {
      kind: 'cloudShare',
      share,
      isCloud: (m) => m.id !== local.id,
    }).lambda;
    const measure = (pick: (i: number) => string) => {
      let cloud = 0;
      let quality = 0;
      let cost = 0;
      items.forEach((x, i) => {
        const id = pick(i);
        if (id !== local.id) cloud++;
        quality += x.scores[id] ?? 0;
        cost += models.find((m) => m.id === id)!.cost;
      });
      return { cloudShare: cloud / items.length, quality: quality / items.length, costPerPrompt: cost / items.length };
    };
    const worker = measure((i) => decisions[i]!.modelId);
    const uniroute = measure(
      (i) =>
        pool[
          route(
            Float64Array.from(index, (h) => decisions[i]!.clusterErrors[h]!),
            models,
            uniLambda,
          )
        ]!,
    );
    const router = decisions[0]!.preRouter;
    rows.push({ local: local.id, target: share, router, worker, uniroute });
    const f = (r: typeof worker) => `cloud ${(100 * r.cloudShare).toFixed(1)}%, quality ${r.quality.toFixed(3)}, $${(1000 * r.costPerPrompt).toFixed(3)}/1k`;
    console.log(`${local.id} pool, target ${100 * share}%: worker (${router}) ${f(worker)} | UniRoute k-means ${f(uniroute)}`);
  }
}
await mkdir(path.dirname(values.out!), { recursive: true });
await writeFile(values.out!, `${JSON.stringify({ profile: set.name, prompts: items.length, rows }, null, 2)}\n`);
console.log(`JSON: ${values.out}`);
