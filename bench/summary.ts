/**
 * Markdown tables of the paired router-vs-router deltas in one or more quality reports, for the
 * README: UniRoute vs tuned k-NN vs ZeroRouter on every block, and each hybrid against the better
 * of its parts on the cascade blocks.
 *
 *   npx tsx bench/summary.ts reports/quality.json [more.json ...]   (a block found twice: the first report's)
 */
import { readFile } from 'node:fs/promises';
import type { PairedDelta, QualityReport } from './report';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: tsx bench/summary.ts <quality.json> [...]');
  process.exit(2);
}
const reports = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as QualityReport));
// A block in several reports is taken from the first one named (e.g. a longer rerun of some sets).
const blocks = reports
  .flatMap((r) => Object.entries(r.sets).map(([name, set]) => ({ name, set, seeds: r.seeds })))
  .filter((b, i, all) => all.findIndex((o) => o.name === b.name) === i);

const num = (v: number | string): number => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : Number(v));
const f = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}` : v > 0 ? '+∞' : '−∞');
const cell = (d: PairedDelta | undefined): string => {
  if (!d) return '';
  const low = num(d.low);
  const high = num(d.high);
  const mark = low > 0 ? ' ▲' : high < 0 ? ' ▼' : '';
  return `${f(num(d.mean))} [${f(low)}, ${f(high)}]${mark}`;
};
const find = (deltas: readonly PairedDelta[], a: string, b: string, metric: 'area' | 'apgr'): PairedDelta | undefined =>
  deltas.find((d) => d.a === a && (d.b === b || d.b.startsWith(b)) && d.metric === metric);

console.log('Area under the deferral curve, paired Δ over seeds, mean [95 % interval] (▲/▼: interval above/below 0):\n');
console.log('| block | seeds | UniRoute k-means − k-NN | UniRoute learned map − k-NN | UniRoute k-means − ZeroRouter | k-NN − ZeroRouter |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const { name, set, seeds } of blocks) {
  const d = set.deltas;
  console.log(
    `| ${name} | ${seeds} | ${cell(find(d, 'uniroute-kmeans', 'knn', 'area'))} | ${cell(find(d, 'uniroute-learned-map', 'knn', 'area'))} | ${cell(find(d, 'uniroute-kmeans', 'zero-router', 'area'))} | ${cell(find(d, 'knn', 'zero-router', 'area'))} |`,
  );
}
const cascade = blocks.filter((b) => b.set.localModel);
if (cascade.length > 0) {
  for (const metric of ['area', 'apgr'] as const) {
    console.log(`\nHybrids against the better (by mean ${metric}) of confidence-only and UniRoute k-means, paired Δ ${metric}:\n`);
    console.log('| block | better part | hybrid-cv (picks) | hybrid-fitted-kmeans | hybrid-conditional-kmeans |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const { name, set } of cascade) {
      const d = set.deltas;
      const better = find(d, 'hybrid-cv', 'better part', metric)?.b.replace(/^better part \((.*)\)$/, '$1') ?? '';
      const picks = set.choices
        .map((c) => String(c['hybrid-cv']).replace('confidence-only', 'C').replace('uniroute-kmeans', 'U').replace('hybrid-fitted-kmeans', 'H'))
        .join('');
      console.log(
        `| ${name} | ${better} | ${cell(find(d, 'hybrid-cv', 'better part', metric))} (${picks}) | ${cell(find(d, 'hybrid-fitted-kmeans', 'better part', metric))} | ${cell(find(d, 'hybrid-conditional-kmeans', 'better part', metric))} |`,
      );
    }
  }
  console.log('\npicks per seed: C = confidence-only, U = UniRoute k-means, H = hybrid-fitted-kmeans.');
}
const irt = blocks.filter((b) => find(b.set.deltas, 'irt-difficulty', 'uniroute-kmeans', 'area'));
if (irt.length > 0) {
  console.log('\nThe universal-difficulty router (irt-difficulty) against UniRoute k-means, paired Δ:\n');
  console.log('| block | seeds | area | APGR |');
  console.log('| --- | --- | --- | --- |');
  for (const { name, set, seeds } of irt) {
    console.log(
      `| ${name} | ${seeds} | ${cell(find(set.deltas, 'irt-difficulty', 'uniroute-kmeans', 'area'))} | ${cell(find(set.deltas, 'irt-difficulty', 'uniroute-kmeans', 'apgr'))} |`,
    );
  }
}
const localKnn = blocks.filter((b) => find(b.set.deltas, 'hybrid-fitted-knn-local', 'hybrid-fitted-kmeans', 'area'));
if (localKnn.length > 0) {
  console.log("\nThe k-NN predictor of the local model's correctness as a hybrid feature (--local-knn), paired Δ:\n");
  console.log('| block | seeds | area vs hybrid-fitted-kmeans | APGR vs hybrid-fitted-kmeans | area vs better part | APGR vs better part |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const { name, set, seeds } of localKnn) {
    const d = set.deltas;
    console.log(
      `| ${name} | ${seeds} | ${cell(find(d, 'hybrid-fitted-knn-local', 'hybrid-fitted-kmeans', 'area'))} | ${cell(find(d, 'hybrid-fitted-knn-local', 'hybrid-fitted-kmeans', 'apgr'))} | ${cell(find(d, 'hybrid-fitted-knn-local', 'better part', 'area'))} | ${cell(find(d, 'hybrid-fitted-knn-local', 'better part', 'apgr'))} |`,
    );
  }
}
const flagged = blocks.filter((b) => b.set.pairFlags.length > 0);
if (flagged.length > 0) {
  console.log('\nAPGR flagged (strong model not the best, or weak ≈ strong):');
  for (const { name, set } of flagged) console.log(`- ${name}: ${set.pairFlags.join('; ')}`);
}
