/**
 * What the cross-validation chooses for the profile edgeroute ships, with the worker's own code:
 * each local model's escalation rule (confidence-only, UniRoute or the fitted hybrid; the
 * benchmark's 'hybrid-cv') and, for comparison, the number of clusters the benchmark's CV would
 * pick against the worker's K rule, and the pre-generation router the same CV prefers on this
 * profile (UniRoute k-means at the worker's K, the universal-difficulty router, tuned k-NN), which
 * the worker does not choose yet (it always pre-routes with UniRoute). Uses USE lite's embeddings of the validation prompts from the
 * demo's precomputed profile cache (public/demo/profile-cache/, made by make-demo-assets.ts), so
 * it runs in seconds without a model.
 *
 *   npx tsx tools/profile-choices.ts [--profile public/profiles/default-validation.json] [--out reports/profile-choices.json]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { validateValidationSet } from '../src/common/validation-set';
import { chooseClusterCount } from '../src/core/cluster-count';
import { validationFolds } from '../src/core/cross-validation';
import { textForEmbedding } from '../src/core/prompt-text';
import type { LabelledPrompt } from '../src/core/types';
import type { Embedder } from '../src/worker/embedders/embedder';
import { UniRouteState } from '../src/worker/profile-state';
import {
  buildProfile,
  DEFAULT_SHRINKAGE,
  deferralArea,
  DifficultyRouter,
  evaluateRouter,
  hardClusterMap,
  KnnRouter,
  UniRouteRouter,
  type Router,
} from '../research/index';
import { oneStandardErrorChoice } from '../src/core/cross-validation';
import { decodeProfileEntry, type SeedMeta } from '../demo/profile-seed';

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'public/profiles/default-validation.json' },
    cache: { type: 'string', default: 'public/demo/profile-cache/use-lite' },
    out: { type: 'string', default: 'reports/profile-choices.json' },
  },
});

const set = validateValidationSet(JSON.parse(await readFile(values.profile!, 'utf8')));
const meta = JSON.parse(await readFile(`${values.cache}.json`, 'utf8')) as SeedMeta;
const bin = await readFile(`${values.cache}.bin`);
const entry = decodeProfileEntry(meta, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
if (!entry.validationEmbeddings || entry.validationEmbeddings.length !== set.prompts.length * entry.dimension) {
  throw new Error(`${values.cache}: no validation embeddings for the ${set.prompts.length} prompts of ${values.profile}; rerun tools/make-demo-assets.ts`);
}
const d = entry.dimension;
const byText = new Map(set.prompts.map((p, i) => [textForEmbedding(p.prompt), entry.validationEmbeddings!.slice(i * d, (i + 1) * d)]));
// The worker's embedder, answered from the cache: the same vectors USE lite gave these prompts.
const embedder: Embedder = {
  id: entry.embedderId,
  dimension: d,
  async embed(texts) {
    return texts.map((t) => {
      const v = byText.get(t);
      if (!v) throw new Error(`no cached embedding for "${t.slice(0, 60)}…"`);
      return v;
    });
  },
};

const started = performance.now();
const state = await UniRouteState.prepare({ embedder, validationSet: set });
const summary = state.summary();
const workerMillis = performance.now() - started;

const prompts: LabelledPrompt[] = set.prompts.map((p, i) => ({
  id: p.id,
  embedding: entry.validationEmbeddings!.subarray(i * d, (i + 1) * d),
  scores: p.scores,
}));
const complete = (x: LabelledPrompt): boolean => set.models.every((m) => x.scores[m.id] !== undefined);
const clusterCv = chooseClusterCount({ points: prompts.map((x) => x.embedding), folds: validationFolds(prompts, 0, 3, complete), models: set.models, seed: 0 });

// The pre-generation router by the same CV, for each local model's pool (it and the cloud models):
// UniRoute k-means at the worker's K and centroids, the universal-difficulty router, k-NN (k = 20).
// The worker's own clusters, as cached.
const kmeansMap = hardClusterMap(entry.centroids);
const preRouters: Record<string, { names: string[]; areas: number[]; pick: string }> = {};
for (const local of set.models.filter((m) => m.local)) {
  const pool = set.models.filter((m) => !m.local || m.id === local.id);
  const maxCost = Math.max(...pool.map((m) => m.cost));
  const candidates: [string, (fit: LabelledPrompt[]) => Router][] = [
    ['uniroute-kmeans', (fit) => new UniRouteRouter(buildProfile({ validation: fit, models: pool, clusterMap: kmeansMap }))],
    ['irt-difficulty', (fit) => DifficultyRouter.fit({ evidence: fit, models: pool, seen: pool, clusterMap: kmeansMap })],
    ['knn', (fit) => KnnRouter.fromEvidence(fit, pool, { k: 20, shrinkage: DEFAULT_SHRINKAGE })],
  ];
  const completeIn = (x: LabelledPrompt): boolean => pool.every((m) => x.scores[m.id] !== undefined);
  const folds = validationFolds(prompts, 0, 3, completeIn);
  const areas = candidates.map(([, make]) => folds.map(([fit, held]) => deferralArea(evaluateRouter(make(fit), held), maxCost)));
  const mean = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
  preRouters[local.id] = { names: candidates.map(([n]) => n), areas: areas.map(mean), pick: candidates[oneStandardErrorChoice(areas)]![0] };
}

const fmt = (x: number): string => x.toFixed(4);
console.log(`${set.name}: ${set.prompts.length} prompts, ${set.models.length} models, embedder ${embedder.id}`);
console.log(`worker: K = ${summary.clusters} (its rule round(√(n/2)), capped), prepared in ${Math.round(workerMillis)} ms`);
for (const e of summary.escalation) {
  if (!e.rule) {
    console.log(`escalation rule of ${e.localModelId}: none (${e.unavailable})`);
    continue;
  }
  const areas = Object.entries(e.rule.cvAreas)
    .map(([name, area]) => `${name} ${fmt(area)}`)
    .join(', ');
  console.log(
    `escalation rule of ${e.localModelId} (${e.rule.confidenceKind} confidences, ${e.rule.prompts} prompts, ${e.rule.folds} folds): ${e.rule.name}; mean held-out area ${areas}`,
  );
}
console.log(
  `the benchmark's K by the same CV: ${clusterCv.k}; mean held-out area ${Object.entries(clusterCv.scores)
    .map(([k, a]) => `K=${k} ${fmt(a)}`)
    .join(', ')}`,
);

for (const [local, r] of Object.entries(preRouters)) {
  console.log(
    `pre-generation router for ${local}'s pool by the same CV: ${r.pick}; mean held-out area ${r.names.map((n, j) => `${n} ${fmt(r.areas[j]!)}`).join(', ')} (the worker uses uniroute-kmeans)`,
  );
}

await mkdir(path.dirname(values.out!), { recursive: true });
await writeFile(
  values.out!,
  `${JSON.stringify({ profile: set.name, embedder: embedder.id, workerK: summary.clusters, escalation: summary.escalation, clusterCv: { k: clusterCv.k, scores: clusterCv.scores }, preRouters }, null, 2)}\n`,
);
console.log(`JSON: ${values.out}`);
