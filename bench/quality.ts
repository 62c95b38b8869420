/**
 * The quality benchmark: every router and baseline on every set, with UniRoute's protocol
 * (see protocol.ts), mean ± std over seeds. Prints one table per set, writes a JSON report and
 * an SVG of the deferral curves, and prints the JSON path last.
 *
 *   npm run bench:quality -- [--data ../shared/data] [--sets a,b] [--seeds 10] [--out reports] [--no-irt] [--local-knn]
 *
 * Cascade sets give one block per local model ("<set>@<local model>"): that model is on the
 * user's device, so it costs 0 per call whatever API price was recorded for it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ConfidenceScale, LabelledPrompt, ModelSpec } from '../research/index';
import { DEFAULT_DATA_DIR, listSets, loadSet, type LoadedSet } from '../dev/data';
import { DEFAULT_CACHE_DIR, embedSet } from '../dev/embedding-cache';
import { createNodeUseEmbedder, setupNodeBackend } from '../dev/node-use';
import { runSeed, type SeedResult, type SetSpec } from './protocol';
import { deferralCurvesSvg, formatSetTable, summariseSet, type QualityReport, type SetSummary } from './report';
import { formatFatal } from './fatal';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      sets: { type: 'string' },
      seeds: { type: 'string', default: '10' },
      out: { type: 'string', default: 'reports' },
      cache: { type: 'string', default: DEFAULT_CACHE_DIR },
      // Leave out the universal-difficulty (IRT-like) router, which runs by default since it won
      // paired against UniRoute k-means (README, Results).
      'no-irt': { type: 'boolean', default: false },
      // The hybrid with an embedding-based (k-NN) predictor of the local model's correctness.
      'local-knn': { type: 'boolean', default: false },
    },
  });

  const seeds = Number(values.seeds);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got ${values.seeds}`);
  const names = values.sets
    ? values.sets
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : await listSets(values.data);

  const started = performance.now();
  const backend = await setupNodeBackend();
  const embedder = await createNodeUseEmbedder();
  console.log(`embedder ${embedder.id} on tfjs '${backend}'; data ${values.data}; ${seeds} seeds`);

  /** The blocks a set is evaluated as: itself, or one per local model for cascade sets. */
  function blocksOf(set: LoadedSet, prompts: readonly LabelledPrompt[]): { name: string; spec: SetSpec; prompts: readonly LabelledPrompt[] }[] {
    const { card } = set;
    if (card.local_candidates && card.local_candidates.length > 0) {
      const strong = card.strong ?? (set.models.some((m) => m.id === 'gpt-4o') ? 'gpt-4o' : bestModel(set));
      const confidenceScale = confidenceScaleOf(set);
      return card.local_candidates.map((local) => {
        const models: ModelSpec[] = set.models.map((m) => (m.id === local ? { id: m.id, cost: 0 } : m));
        // The recorded per-call API price of the local model does not apply on the user's device.
        const free = prompts.map((p) => ({ ...p, costs: p.costs ? { ...p.costs, [local]: 0 } : undefined }));
        const spec: SetSpec = { name: `${set.name}@${local}`, models, localModel: local, pair: { weak: local, strong }, confidenceScale };
        return { name: spec.name, spec, prompts: free };
      });
    }
    const pair = card.weak && card.strong ? { weak: card.weak, strong: card.strong } : undefined;
    // MT-Bench's turn 2 contains turn 1: both turns of a question must land in the same split.
    const multiTurn = set.items.some((it) => (it.turns?.length ?? 0) > 1);
    const groupKey = multiTurn ? (p: LabelledPrompt) => p.id.replace(/\/\d+$/, '') : undefined;
    return [{ name: set.name, spec: { name: set.name, models: set.models, pair, groupKey }, prompts }];
  }

  /**
   * What the recorded confidences are: the card's `confidence_scale` if it names one; else a
   * log-probability when the card's `confidence` text says so (the cascade cards: the letter's
   * log-probability) or every recorded value is ≤ 0; else 'raw' (e.g. a self-check P(yes) in [0, 1]).
   */
  function confidenceScaleOf(set: LoadedSet): ConfidenceScale {
    const declared = set.card['confidence_scale'];
    if (declared === 'raw' || declared === 'log-probability') return declared;
    const text = typeof set.card['confidence'] === 'string' ? set.card['confidence'] : '';
    if (/log-?prob/i.test(text)) return 'log-probability';
    const values = set.items.flatMap((it) => Object.values(it.confidences ?? {}));
    return values.length > 0 && values.every((v) => v <= 0) ? 'log-probability' : 'raw';
  }

  function bestModel(set: LoadedSet): string {
    // Mean over the items the model was scored on (a missing score is not a wrong answer).
    const mean = (id: string): number => {
      const s = set.items.map((it) => it.scores[id]).filter((v): v is number => v !== undefined);
      return s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : -Infinity;
    };
    return [...set.models].sort((a, b) => mean(b.id) - mean(a.id))[0]!.id;
  }

  const summaries: Record<string, SetSummary> = {};
  const firstSeeds: { name: string; seed: SeedResult }[] = [];
  let embedSeconds = 0;
  for (const name of names) {
    const set = await loadSet(values.data, name);
    for (const w of set.warnings) console.warn(`warning: ${w}`);
    const gaps = (['scores', 'confidences', 'costs'] as const)
      .map(
        (f) =>
          [
            f,
            Object.entries(set.missing[f])
              .map(([m, n]) => `${m} ${n}`)
              .join(', '),
          ] as const,
      )
      .filter(([, list]) => list.length > 0);
    if (gaps.length > 0) console.log(`${name}: null (missing) values per model: ${gaps.map(([f, list]) => `${f}: ${list}`).join('; ')}`);
    const t0 = performance.now();
    const embeddings = await embedSet(embedder, set, { cacheDir: values.cache });
    embedSeconds += (performance.now() - t0) / 1000;
    const prompts: LabelledPrompt[] = set.items.map((it, i) => ({
      id: it.id,
      embedding: embeddings[i]!,
      scores: it.scores,
      ...(it.costs ? { costs: it.costs } : {}),
      ...(it.confidences ? { confidences: it.confidences } : {}),
    }));
    for (const block of blocksOf(set, prompts)) {
      const results: SeedResult[] = [];
      for (let seed = 0; seed < seeds; seed++)
        results.push(runSeed(block.prompts, block.spec, { seed, difficultyRouter: !values['no-irt'], localKnnFeature: values['local-knn'] }));
      const summary = summariseSet(results, {
        prompts: block.prompts.length,
        models: block.spec.models.map((m) => m.id),
        ...(block.spec.pair ? { pair: block.spec.pair } : {}),
        ...(block.spec.localModel ? { localModel: block.spec.localModel } : {}),
      });
      summaries[block.name] = summary;
      firstSeeds.push({ name: block.name, seed: results[0]! });
      console.log(`\n${formatSetTable(block.name, summary)}`);
    }
  }

  const report: QualityReport = {
    embedder: embedder.id,
    seeds,
    data: path.resolve(values.data),
    createdAt: new Date().toISOString(),
    notes: [
      'Protocol: per seed a 60/10/30 train/validation/test split of prompts; K chosen by 2-fold cross-validation inside the validation split; all numbers on test.',
      "K, the k of knn and confidence-knn, and the pick of hybrid-cv (confidence-only / uniroute-kmeans / hybrid-fitted-kmeans) are chosen by the same repeated 2-fold cross-validation inside the validation split (one-standard-error rule); knn and confidence-knn use the same evidence as UniRoute (validation prompts plus the seen models' training prompts) and the same shrinkage toward each model's global error.",
      "area: area under the Pareto-cleaned deferral curve, cost divided by the priciest model in the pool; cost95: lowest relative cost reaching 95 % of the best single model's test quality; qnc: lowest relative cost reaching the best single model, averaged over the seeds where it was reached (qncReached says on how many).",
      'apgr, cpt50, cpt80: RouteLLM metrics on the weak/strong pair (cascade blocks: local model → gpt-4o), as fractions of calls to the strong model; each router is rebuilt on the pair and its score err_weak − err_strong thresholded over its full range. pairFlags says where they mean little (strong not the best, or weak ≈ strong).',
      'random and zero-router pick their models (the strong model; the hull) on train+validation, then are measured on test.',
      'deltas: paired differences over seeds (same split for both routers) with 95 % t-intervals; "better part" is whichever of confidence-only and uniroute-kmeans has the higher mean.',
      'Test prompts on which a model has no score are dropped; missing confidences fall back as described in bench/protocol.ts (gaps).',
      'Multi-model sets: the learned cluster map is fitted on the seen models only; unseen models enter through the validation prompts alone.',
      `Embedding took ${embedSeconds.toFixed(1)} s of the run (0 when the cache is warm).`,
    ],
    sets: summaries,
  };
  await mkdir(values.out, { recursive: true });
  const jsonPath = path.join(values.out, 'quality.json');
  const svgPath = path.join(values.out, 'quality-deferral-curves.svg');
  await writeFile(
    jsonPath,
    JSON.stringify(report, (_, v: unknown) => (v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v), 2),
  );
  await writeFile(svgPath, deferralCurvesSvg(firstSeeds));
  await embedder.dispose?.();
  console.log(`\nwall ${((performance.now() - started) / 1000).toFixed(1)} s (embedding ${embedSeconds.toFixed(1)} s)`);
  console.log(`SVG: ${svgPath}`);
  console.log(`JSON: ${jsonPath}`);
}

process.on('uncaughtException', (error) => {
  console.error(formatFatal(error));
  process.exit(1);
});
main().catch((error: unknown) => {
  // Node would print the source line of the throw, which inside TF.js's WASM glue is the whole
  // minified file: the message and a short stack say more.
  console.error(formatFatal(error));
  process.exit(1);
});
