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
  readonly qnc?: Stat;
  readonly apgr?: Stat;
  readonly cpt50?: Stat;
  readonly cpt80?: Stat;
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

export function summariseSet(
  results: readonly SeedResult[],
  info: { prompts: number; models: readonly string[]; pair?: { weak: string; strong: string }; localModel?: string },
): SetSummary {
  const routers: Record<string, RouterSummary> = {};
  for (const name of Object.keys(results[0]!.routers)) {
    const all = results.map((r) => r.routers[name]!);
    const optional = (key: 'apgr' | 'cpt50' | 'cpt80'): Stat | undefined =>
      all[0]![key] === undefined ? undefined : stat(all.map((r) => r[key]!));
    routers[name] = {
      area: stat(all.map((r) => r.area)),
      areaOverZeroRouter: stat(results.map((r) => r.routers[name]!.area - r.routers['zero-router']!.area)),
      qnc: stat(all.map((r) => r.qnc)),
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

/** One text table per set, routers sorted by area. */
export function formatSetTable(name: string, set: SetSummary): string {
  const pair = Boolean(set.pair);
  const header = ['router', 'area', 'Δ area vs zero-router', 'QNC', ...(pair ? ['APGR', 'CPT(50%)', 'CPT(80%)'] : [])];
  const oracleArea = set.routers['oracle']?.area.mean ?? NaN;
  const rows = Object.entries(set.routers)
    .sort((a, b) => b[1].area.mean - a[1].area.mean)
    .map(([router, r]) => [
      router,
      `${fmt(r.area)}${router === 'oracle' ? '' : `  (oracle −${(oracleArea - r.area.mean).toFixed(3)})`}`,
      signed(r.areaOverZeroRouter),
      fmt(r.qnc),
      ...(pair ? [fmt(r.apgr), fmt(r.cpt50, 1, true) + (r.cpt50 ? ' %' : ''), fmt(r.cpt80, 1, true) + (r.cpt80 ? ' %' : '')] : []),
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const singles = Object.entries(set.singleModels)
    .map(([id, s]) => `${id} ${s.quality.mean.toFixed(3)} @ $${(s.cost.mean * 1000).toPrecision(3)}/1k`)
    .join('; ');
  const ks = [...new Set(set.clusters)].join(', ');
  return [
    `== ${name}  (${set.prompts} prompts, ${set.models.length} models${set.localModel ? `, local ${set.localModel} at cost 0` : ''}${set.pair ? `, pair ${set.pair.weak} → ${set.pair.strong}` : ''}; K chosen on validation: ${ks}; ${set.seconds.toFixed(1)} s)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `single models (test quality @ cost per 1k prompts): ${singles}`,
  ].join('\n');
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
    const qualities = [
      ...Object.values(seed.routers).flatMap((r) => r.curve.map((p) => p.quality)),
      ...seed.singleModels.map((s) => s.quality),
    ];
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
      parts.push(`<path d="${path}" fill="none" stroke="${COLORS[router] ?? '#000'}" stroke-width="1.6"${dash}><title>${escapeXml(router)} area ${r.area.toFixed(3)}</title></path>`);
    }
    for (const s of seed.singleModels) {
      parts.push(`<circle cx="${x(s.cost / seed.maxCost).toFixed(1)}" cy="${y(s.quality).toFixed(1)}" r="3" fill="#000"><title>${escapeXml(s.modelId)}</title></circle>`);
    }
    parts.push('</g>');
  });
  const names = Object.keys(COLORS);
  names.forEach((n, i) => {
    const lx = 10 + (i % 6) * 175;
    const ly = rows * panelH + 14 + Math.floor(i / 6) * 16;
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${COLORS[n]}" stroke-width="2"/><text x="${lx + 22}" y="${ly}" font-size="11">${n}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>\n`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
