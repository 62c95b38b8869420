/**
 * Embeds every prompt of every set in a data folder into the on-disk cache, printing timings.
 * A second run is near-instant (all cache hits).
 *
 *   npm run embed -- [--data ../shared/data] [--cache .cache/embeddings] [--sets a,b]
 *                    [--batch 32] [--backend wasm|cpu]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, listSets, loadSet } from '../dev/data';
import { DEFAULT_CACHE_DIR, embedSet, type EmbedProgress } from '../dev/embedding-cache';
import { createNodeUseEmbedder, setupNodeBackend } from '../dev/node-use';
import { findSharedLines } from '../src/core/prompt-text';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA_DIR },
    cache: { type: 'string', default: DEFAULT_CACHE_DIR },
    sets: { type: 'string' },
    batch: { type: 'string', default: '32' },
    backend: { type: 'string' },
  },
});

const dataDir = values.data;
const names = values.sets ? values.sets.split(',').map((s) => s.trim()) : await listSets(dataDir);
const t0 = performance.now();
const backend = await setupNodeBackend(values.backend ? [values.backend] : undefined);
const embedder = await createNodeUseEmbedder({ batchSize: Number(values.batch) });
console.log(
  `embedder ${embedder.id} (dimension ${embedder.dimension}) on tfjs '${backend}', `
    + `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; cache ${values.cache}`,
);

let totalEmbedded = 0;
let totalEmbedMs = 0;
for (const name of names) {
  const set = await loadSet(dataDir, name);
  const shared = findSharedLines(
    set.items.map((i) => i.prompt),
    0.5,
  );
  if (shared.length > 0) console.log(`  ${name}: lines shared by ≥50% of prompts after stripping: ${JSON.stringify(shared)}`);
  let last = 0;
  let final: EmbedProgress | undefined;
  await embedSet(embedder, set, {
    cacheDir: values.cache,
    onProgress: (p) => {
      final = p;
      if (p.elapsedMs - last > 15000) {
        last = p.elapsedMs;
        const rate = p.embedded / (p.elapsedMs / 1000);
        console.log(`  ${name}: ${p.done}/${p.total} (${p.cached} cached) ${rate.toFixed(1)} texts/s`);
      }
    },
  });
  if (final === undefined) continue;
  const s = final.elapsedMs / 1000;
  totalEmbedded += final.embedded;
  if (final.embedded > 0) totalEmbedMs += final.elapsedMs;
  console.log(
    `${name}: ${set.items.length} prompts, ${final.total} distinct texts, ${final.cached} cached, `
      + `${final.embedded} embedded in ${s.toFixed(1)} s`
      + (final.embedded > 0 ? ` (${(final.elapsedMs / final.embedded).toFixed(1)} ms/text)` : ''),
  );
}
const wall = (performance.now() - t0) / 1000;
console.log(
  `done: ${names.length} sets, ${totalEmbedded} texts embedded, wall ${wall.toFixed(1)} s`
    + (totalEmbedded > 0 ? `, ${(totalEmbedMs / totalEmbedded).toFixed(1)} ms/text while embedding` : ''),
);
await embedder.dispose?.();
