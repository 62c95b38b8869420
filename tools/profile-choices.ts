/**
 * What the cross-validation chooses for the profile edgeroute ships, with the worker's own code:
 * each local model's pre-generation router (UniRoute k-means or the universal-difficulty router)
 * and escalation rule (confidence-only, UniRoute or the fitted hybrid; the benchmark's
 * 'hybrid-cv'), the time the worker takes to fit them, and, for comparison, the number of
 * clusters the benchmark's CV would pick against the worker's K rule and the area tuned k-NN
 * (which the worker does not run) reaches on the same folds. Uses USE lite's embeddings of the validation prompts from the
 * demo's precomputed profile cache (public/demo/profile-cache/, made by make-demo-assets.ts), so
 * it runs in seconds without a model.
 *
 *   npx tsx tools/profile-choices.ts [--profile public/profiles/default-validation.json] [--out reports/profile-choices.json]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readShippedSeed } from './shipped-seed';
import { validateValidationSet } from '../src/common/validation-set';
import { chooseClusterCount } from '../src/core/cluster-count';
import { validationFolds } from '../src/core/cross-validation';
import { textForEmbedding } from '../src/core/prompt-text';
import type { LabelledPrompt } from '../src/core/types';
import type { Embedder } from '../src/worker/embedders/embedder';
import { UniRouteState } from '../src/worker/profile-state';
import { DEFAULT_SHRINKAGE, deferralArea, evaluateRouter, KnnRouter } from '../research/index';

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'public/profiles/default-validation.json' },
    cache: { type: 'string', default: 'public/demo/profile-cache/use-lite' },
    out: { type: 'string', default: 'reports/profile-choices.json' },
  },
});

const set = validateValidationSet(JSON.parse(await readFile(values.profile!, 'utf8')));
const { entry } = await readShippedSeed(values.cache!);
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
const workerMillis = performance.now() - started;
const choiceStarted = performance.now();
const summary = state.summary();
const choiceMillis = performance.now() - choiceStarted;

const prompts: LabelledPrompt[] = set.prompts.map((p, i) => ({
  id: p.id,
  embedding: entry.validationEmbeddings!.subarray(i * d, (i + 1) * d),
  scores: p.scores,
}));
const complete = (x: LabelledPrompt): boolean => set.models.every((m) => x.scores[m.id] !== undefined);
const clusterCv = chooseClusterCount({ points: prompts.map((x) => x.embedding), folds: validationFolds(prompts, 0, 3, complete), models: set.models, seed: 0 });

// k-NN (k = 20) on each local model's pool by the same halvings, for comparison: the worker does not run it.
const knnAreas: Record<string, number> = {};
for (const local of set.models.filter((m) => m.local)) {
  const pool = set.models.filter((m) => !m.local || m.id === local.id);
  const maxCost = Math.max(...pool.map((m) => m.cost));
  const completeIn = (x: LabelledPrompt): boolean => pool.every((m) => x.scores[m.id] !== undefined);
  const areas = validationFolds(prompts, 0, 3, completeIn).map(([fit, held]) =>
    deferralArea(evaluateRouter(KnnRouter.fromEvidence(fit, pool, { k: 20, shrinkage: DEFAULT_SHRINKAGE }), held), maxCost),
  );
  knnAreas[local.id] = areas.reduce((x, y) => x + y, 0) / areas.length;
}

const fmt = (x: number): string => x.toFixed(4);
console.log(`${set.name}: ${set.prompts.length} prompts, ${set.models.length} models, embedder ${embedder.id}`);
console.log(
  `worker: K = ${summary.clusters} (its rule round(√(n/2)), capped), prepared in ${Math.round(workerMillis)} ms (k-means, Ψ, the difficulty ridge), routers and rules chosen in ${Math.round(choiceMillis)} ms`,
);
for (const r of summary.preRouting) {
  const areas = r.cvAreas ? Object.entries(r.cvAreas).map(([name, area]) => `${name} ${fmt(area)}`) : [];
  if (r.localModelId && knnAreas[r.localModelId] !== undefined) areas.push(`knn (not in the worker) ${fmt(knnAreas[r.localModelId]!)}`);
  console.log(
    `pre-generation router of ${r.localModelId ?? 'all models'}'s pool: ${r.router}${r.note ? ` (${r.note})` : `; mean held-out area ${areas.join(', ')}`}`,
  );
}
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

await mkdir(path.dirname(values.out!), { recursive: true });
await writeFile(
  values.out!,
  `${JSON.stringify({ profile: set.name, embedder: embedder.id, workerK: summary.clusters, escalation: summary.escalation, clusterCv: { k: clusterCv.k, scores: clusterCv.scores }, preRouting: summary.preRouting, knnAreas, workerMillis, choiceMillis }, null, 2)}\n`,
);
console.log(`JSON: ${values.out}`);
