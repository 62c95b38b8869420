/**
 * Aggregation and presentation of the quality benchmark: mean ± std over seeds, a text table
 * per set, the JSON report other tools read, and an SVG of the deferral curves.
 */
import { normalisedFrontier } from '../research/index';
import type { SeedResult } from './protocol';

export interface Stat {
  readonly mean: number;
  readonly std: number;
}

export interface RouterSummary {
  readonly area: Stat;
  /** Paired over seeds: this router's area minus ZeroRouter's on the same split (split noise cancels). */
  readonly areaOverZeroRouter: Stat;
  /** Cost to reach 95 % of the best single model's quality (Infinity in any seed = not always reached). */
  readonly cost95: Stat;
  /** QNC over the seeds where it was reached, and on how many it was. */
  readonly qnc?: Stat;
  readonly qncReached: number;
  readonly apgr?: Stat;
  readonly cpt50?: Stat;
  readonly cpt80?: Stat;
}

/** A paired difference a − b over seeds with its 95 % t-interval. */
export interface PairedDelta {
  readonly a: string;
  readonly b: string;
  readonly metric: 'area' | 'apgr';
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly seeds: number;
}

export interface SetSummary {
  readonly prompts: number;
  readonly models: readonly string[];
  readonly pair?: { readonly weak: string; readonly strong: string };
  readonly localModel?: string;
  readonly clusters: readonly number[];
  readonly seenModels: readonly (readonly string[])[];
  readonly singleModels: Readonly<Record<string, { readonly cost: Stat; readonly quality: Stat }>>;
  readonly routers: Readonly<Record<string, RouterSummary>>;
  /** Router-vs-router paired deltas (see COMPARISONS). */
  readonly deltas: readonly PairedDelta[];
  /** Per seed: what cross-validation chose (k of the k-NN routers, the hybrid's pick). */
  readonly choices: readonly Readonly<Record<string, string | number>>[];
  /** Why APGR/CPT mean little here (union over seeds), if they do. */
  readonly pairFlags: readonly string[];
  /** Data gaps summed over seeds (see SeedResult.gaps). */
  readonly gaps: { readonly testWithoutScores: number; readonly testWithoutConfidence: number; readonly fitWithoutConfidence: number };
  readonly seconds: number;
}

export interface QualityReport {
  readonly embedder: string;
  readonly seeds: number;
  readonly data: string;
  readonly createdAt: string;
  readonly notes: readonly string[];
  readonly sets: Readonly<Record<string, SetSummary>>;
}

/** Mean and sample standard deviation; non-finite values (QNC never reached) make both Infinity/NaN honestly. */
export function stat(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  if (values.some((v) => v === Infinity)) return { mean: Infinity, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** Two-sided 97.5 % quantiles of Student's t for 1…30 degrees of freedom (then the normal's). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean of a − b over seeds with its 95 % t-interval; a single seed gives an interval of ±Infinity. */
export function pairedInterval(a: readonly number[], b: readonly number[]): { mean: number; low: number; high: number; seeds: number } {
  if (a.length !== b.length || a.length === 0) throw new RangeError('pairedInterval: need equally many values, at least one');
  const d = a.map((v, i) => v - b[i]!);
  const n = d.length;
  const mean = d.reduce((x, y) => x + y, 0) / n;
  if (n < 2) return { mean, low: -Infinity, high: Infinity, seeds: n };
  const sd = Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / (n - 1));
  const half = ((T975[n - 2] ?? 1.96) * sd) / Math.sqrt(n);
  return { mean, low: mean - half, high: mean + half, seeds: n };
}

/**
 * The router-vs-router comparisons reported per set: UniRoute against the tuned k-NN and against
 * ZeroRouter, k-NN against ZeroRouter, and each hybrid against the better (by mean area over
 * seeds) of its two parts, confidence-only and UniRoute k-means. `better-part` names that part.
 */
export const COMPARISONS: readonly (readonly [string, string])[] = [
  ['uniroute-kmeans', 'knn'],
  ['uniroute-learned-map', 'knn'],
  ['uniroute-kmeans', 'zero-router'],
  ['knn', 'zero-router'],
  ['hybrid-cv', 'better-part'],
  ['hybrid-fitted-kmeans', 'better-part'],
  ['hybrid-conditional-kmeans', 'better-part'],
  ['hybrid-cv', 'confidence-only'],
  ['hybrid-cv', 'uniroute-kmeans'],
  ['irt-difficulty', 'uniroute-kmeans'],
  ['hybrid-fitted-knn-local', 'hybrid-fitted-kmeans'],
  ['hybrid-fitted-knn-local', 'better-part'],
];

export function pairedDeltas(results: readonly SeedResult[]): PairedDelta[] {
  const routers = results[0]!.routers;
  const series = (name: string, metric: 'area' | 'apgr'): number[] | undefined =>
    routers[name] === undefined || routers[name]![metric] === undefined ? undefined : results.map((r) => r.routers[name]![metric]!);
  const meanOf = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const out: PairedDelta[] = [];
  for (const metric of ['area', 'apgr'] as const) {
    const parts = ['confidence-only', 'uniroute-kmeans'].map((n) => ({ n, v: series(n, metric) }));
    const better = parts.every((p) => p.v) ? parts.reduce((x, y) => (meanOf(y.v!) > meanOf(x.v!) ? y : x)) : undefined;
    for (const [a, b] of COMPARISONS) {
      const va = series(a, metric);
      const vb = b === 'better-part' ? better?.v : series(b, metric);
      if (!va || !vb || va.some((v) => !Number.isFinite(v)) || vb.some((v) => !Number.isFinite(v))) continue;
      out.push({ a, b: b === 'better-part' ? `better part (${better!.n})` : b, metric, ...pairedInterval(va, vb) });
    }
  }
  return out;
}

export function summariseSet(
  results: readonly SeedResult[],
  info: { prompts: number; models: readonly string[]; pair?: { weak: string; strong: string }; localModel?: string },
): SetSummary {
  const routers: Record<string, RouterSummary> = {};
  for (const name of Object.keys(results[0]!.routers)) {
    const all = results.map((r) => r.routers[name]!);
    const optional = (key: 'apgr' | 'cpt50' | 'cpt80'): Stat | undefined => (all[0]![key] === undefined ? undefined : stat(all.map((r) => r[key]!)));
    const reached = all.map((r) => r.qnc).filter((v) => Number.isFinite(v));
    routers[name] = {
      area: stat(all.map((r) => r.area)),
      areaOverZeroRouter: stat(results.map((r) => r.routers[name]!.area - r.routers['zero-router']!.area)),
      cost95: stat(all.map((r) => r.cost95)),
      ...(reached.length > 0 ? { qnc: stat(reached) } : {}),
      qncReached: reached.length,
      ...(info.pair ? { apgr: optional('apgr'), cpt50: optional('cpt50'), cpt80: optional('cpt80') } : {}),
    };
  }
  const singleModels: Record<string, { cost: Stat; quality: Stat }> = {};
  for (const { modelId } of results[0]!.singleModels) {
    const pts = results.map((r) => r.singleModels.find((s) => s.modelId === modelId)!);
    singleModels[modelId] = { cost: stat(pts.map((p) => p.cost)), quality: stat(pts.map((p) => p.quality)) };
  }
  return {
    ...info,
    clusters: results.map((r) => r.clusters),
    seenModels: results.map((r) => r.seenModels),
    singleModels,
    routers,
    deltas: pairedDeltas(results),
    choices: results.map((r) => r.choices),
    pairFlags: [...new Set(results.flatMap((r) => r.pairFlags))],
    gaps: {
      testWithoutScores: results.reduce((a, r) => a + r.gaps.testWithoutScores, 0),
      testWithoutConfidence: results.reduce((a, r) => a + r.gaps.testWithoutConfidence, 0),
      fitWithoutConfidence: results.reduce((a, r) => a + r.gaps.fitWithoutConfidence, 0),
    },
    seconds: results.reduce((a, r) => a + r.millis, 0) / 1000,
  };
}

const fmt = (s: Stat | undefined, digits = 3, percent = false): string => {
  if (!s) return '';
  if (s.mean === Infinity) return 'not reached';
  const k = percent ? 100 : 1;
  const d = percent ? 1 : digits;
  return `${(s.mean * k).toFixed(d)} ± ${(s.std * k).toFixed(d)}`;
};

const signed = (s: Stat): string => `${s.mean >= 0 ? '+' : '−'}${Math.abs(s.mean).toFixed(3)} ± ${s.std.toFixed(3)}`;

const interval = (d: PairedDelta): string => {
  const f = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
  return `${f(d.mean)} [${Number.isFinite(d.low) ? f(d.low) : '−∞'}, ${Number.isFinite(d.high) ? f(d.high) : '+∞'}]`;
};

/** The paired router-vs-router deltas of a set, one line each. */
export function formatDeltas(set: SetSummary): string {
  if (set.deltas.length === 0) return '';
  const rows = set.deltas.map((d) => [`${d.a} − ${d.b}`, d.metric, interval(d), d.low > 0 ? 'a wins' : d.high < 0 ? 'b wins' : 'within noise']);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [
    `paired Δ over ${set.deltas[0]!.seeds} seeds, mean [95 % t-interval]:`,
    ...rows.map((r) => `  ${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]}`),
  ].join('\n');
}

/** One text table per set, routers sorted by area. */
export function formatSetTable(name: string, set: SetSummary): string {
  const pair = Boolean(set.pair);
  const seeds = set.clusters.length;
  const header = ['router', 'area', 'Δ area vs zero-router', 'cost→95% best', 'QNC (seeds reached)', ...(pair ? ['APGR', 'CPT(50%)', 'CPT(80%)'] : [])];
  const oracleArea = set.routers['oracle']?.area.mean ?? NaN;
  const rows = Object.entries(set.routers)
    .sort((a, b) => b[1].area.mean - a[1].area.mean)
    .map(([router, r]) => [
      router,
      `${fmt(r.area)}${router === 'oracle' ? '' : `  (oracle −${(oracleArea - r.area.mean).toFixed(3)})`}`,
      signed(r.areaOverZeroRouter),
      fmt(r.cost95),
      r.qncReached > 0 ? `${fmt(r.qnc)} (${r.qncReached}/${seeds})` : `— (0/${seeds})`,
      ...(pair ? [fmt(r.apgr), fmt(r.cpt50, 1, true) + (r.cpt50 ? ' %' : ''), fmt(r.cpt80, 1, true) + (r.cpt80 ? ' %' : '')] : []),
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const singles = Object.entries(set.singleModels)
    .map(([id, s]) => `${id} ${s.quality.mean.toFixed(3)} @ $${(s.cost.mean * 1000).toPrecision(3)}/1k`)
    .join('; ');
  const ks = [...new Set(set.clusters)].join(', ');
  const chosen = (key: string): string => [...new Set(set.choices.map((c) => c[key]).filter((v) => v !== undefined))].join(', ');
  const gaps = set.gaps;
  return [
    `== ${name}  (${set.prompts} prompts, ${set.models.length} models${set.localModel ? `, local ${set.localModel} at cost 0` : ''}${set.pair ? `, pair ${set.pair.weak} → ${set.pair.strong}` : ''}; K chosen on validation: ${ks}; ${set.seconds.toFixed(1)} s)`,
    `chosen by CV: knn k ${chosen('knnK')}; confidence-knn k ${chosen('confidenceKnnK')}${set.localModel ? `; hybrid-cv picks ${set.choices.map((c) => c['hybrid-cv']).join(', ')}` : ''}`,
    ...(set.pairFlags.length > 0 ? [`APGR/CPT flagged: ${set.pairFlags.join('; ')}`] : []),
    ...(gaps.testWithoutScores + gaps.testWithoutConfidence + gaps.fitWithoutConfidence > 0
      ? [
          `data gaps (summed over seeds): ${gaps.testWithoutScores} test prompts dropped (a model unscored); ${gaps.testWithoutConfidence} test prompts without local confidence (confidence routers fall back); ${gaps.fitWithoutConfidence} train/validation prompts without it (left out of the confidence fits)`,
        ]
      : []),
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `single models (test quality @ cost per 1k prompts): ${singles}`,
    formatDeltas(set),
  ]
    .filter((l) => l.length > 0)
    .join('\n');
}

const COLORS: Record<string, string> = {
  random: '#999999',
  'zero-router': '#555555',
  knn: '#17becf',
  'uniroute-kmeans': '#d62728',
  'uniroute-learned-map': '#ff7f0e',
  'confidence-knn': '#9467bd',
  'confidence-mlp': '#8c564b',
  'confidence-only': '#e377c2',
  'hybrid-conditional-kmeans': '#2ca02c',
  'hybrid-conditional-learned-map': '#bcbd22',
  'hybrid-fitted-kmeans': '#7f7f7f',
  'hybrid-cv': '#000000',
  'irt-difficulty': '#393b79',
  'hybrid-fitted-knn-local': '#637939',
  oracle: '#1f77b4',
};

/** Small multiples: one panel per set (seed 0's curves), x = cost / priciest model, y = quality. */
export function deferralCurvesSvg(sets: readonly { name: string; seed: SeedResult }[]): string {
  const cols = 3;
  const panelW = 360;
  const panelH = 260;
  const pad = { left: 44, right: 12, top: 28, bottom: 34 };
  const rows = Math.ceil(sets.length / cols);
  const legendH = 40;
  const width = cols * panelW;
  const height = rows * panelH + legendH;
  const parts: string[] = [];
  sets.forEach(({ name, seed }, i) => {
    const ox = (i % cols) * panelW;
    const oy = Math.floor(i / cols) * panelH;
    const w = panelW - pad.left - pad.right;
    const h = panelH - pad.top - pad.bottom;
    const qualities = [...Object.values(seed.routers).flatMap((r) => r.curve.map((p) => p.quality)), ...seed.singleModels.map((s) => s.quality)];
    const yMin = Math.max(0, Math.floor(Math.min(...qualities) * 20) / 20);
    const yMax = Math.min(1, Math.ceil(Math.max(...qualities) * 20) / 20);
    const x = (c: number): number => ox + pad.left + Math.min(1, Math.max(0, c)) * w;
    const y = (q: number): number => oy + pad.top + (1 - (q - yMin) / Math.max(1e-9, yMax - yMin)) * h;
    parts.push(`<g><text x="${ox + pad.left}" y="${oy + 18}" font-size="13" font-weight="bold">${escapeXml(name)}</text>`);
    parts.push(`<rect x="${ox + pad.left}" y="${oy + pad.top}" width="${w}" height="${h}" fill="none" stroke="#ccc"/>`);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      parts.push(`<text x="${x(t)}" y="${oy + pad.top + h + 14}" font-size="10" text-anchor="middle">${t}</text>`);
    }
    for (const q of [yMin, (yMin + yMax) / 2, yMax]) {
      parts.push(`<text x="${ox + pad.left - 4}" y="${y(q) + 3}" font-size="10" text-anchor="end">${q.toFixed(2)}</text>`);
    }
    parts.push(`<text x="${ox + pad.left + w / 2}" y="${oy + panelH - 6}" font-size="10" text-anchor="middle">cost / priciest model</text>`);
    for (const [router, r] of Object.entries(seed.routers)) {
      const pts = normalisedFrontier(r.curve, seed.maxCost);
      if (pts.length === 0) continue;
      const last = pts[pts.length - 1]!;
      const path = [...pts, { cost: 1, quality: last.quality }].map((p, j) => `${j ? 'L' : 'M'}${x(p.cost).toFixed(1)},${y(p.quality).toFixed(1)}`).join(' ');
      const dash = router === 'random' || router === 'zero-router' ? ' stroke-dasharray="4 3"' : '';
      parts.push(
        `<path d="${path}" fill="none" stroke="${COLORS[router] ?? '#000'}" stroke-width="1.6"${dash}><title>${escapeXml(router)} area ${r.area.toFixed(3)}</title></path>`,
      );
    }
    for (const s of seed.singleModels) {
      parts.push(
        `<circle cx="${x(s.cost / seed.maxCost).toFixed(1)}" cy="${y(s.quality).toFixed(1)}" r="3" fill="#000"><title>${escapeXml(s.modelId)}</title></circle>`,
      );
    }
    parts.push('</g>');
  });
  const names = Object.keys(COLORS);
  names.forEach((n, i) => {
    const lx = 10 + (i % 6) * 175;
    const ly = rows * panelH + 14 + Math.floor(i / 6) * 16;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${COLORS[n]}" stroke-width="2"/><text x="${lx + 22}" y="${ly}" font-size="11">${n}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>\n`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
