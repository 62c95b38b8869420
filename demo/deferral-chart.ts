/**
 * The lab's deferral-curve chart as an SVG string: quality against cost relative to the priciest
 * model, one line per router, a dot per single model, and the current operating point. A string
 * (not DOM calls) so it is tested in Node; every label is escaped.
 */
import type { DeferralCurve } from '../src/core/types';

export interface ChartSeries {
  readonly name: string;
  readonly curve: DeferralCurve;
  readonly color: string;
  /** SVG stroke-dasharray; solid when absent. Baselines get distinct patterns, not colour alone. */
  readonly dash?: string;
}

export interface ChartInput {
  readonly series: readonly ChartSeries[];
  readonly singles: readonly { readonly modelId: string; readonly cost: number; readonly quality: number }[];
  /** Divides every cost: the priciest model's mean cost per prompt. */
  readonly maxCost: number;
  readonly point?: { readonly cost: number; readonly quality: number; readonly label: string };
  readonly width?: number;
  readonly height?: number;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Tick values at a 1, 2 or 5 × 10^n step covering [min, max] (at most ~`count` + 1 ticks). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

const tickText = (v: number): string => String(Number(v.toFixed(3)));

export function deferralChartSvg(input: ChartInput): string {
  const width = input.width ?? 640;
  const height = input.height ?? 400;
  const pad = { left: 52, right: 170, top: 16, bottom: 40 };
  const qualities = [...input.series.flatMap((s) => s.curve.map((p) => p.quality)), ...input.singles.map((s) => s.quality)];
  if (!(input.maxCost > 0)) throw new Error(`deferral chart: maxCost must be > 0, got ${input.maxCost}`);
  if (qualities.length === 0) throw new Error('deferral chart: nothing to draw');
  let qMin = Math.min(...qualities);
  let qMax = Math.max(...qualities);
  if (qMax - qMin < 0.05) {
    qMin -= 0.025;
    qMax += 0.025;
  }
  qMin = Math.max(0, Math.floor(qMin * 20) / 20);
  qMax = Math.min(1, Math.ceil(qMax * 20) / 20);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (cost: number): number => pad.left + (Math.min(1.05, cost / input.maxCost) / 1.05) * plotW;
  const y = (quality: number): number => pad.top + (1 - (quality - qMin) / (qMax - qMin || 1)) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Deferral curves: quality against relative cost">`,
    `<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#999"/>`,
  ];
  for (const c of niceTicks(0, 1, 5)) {
    parts.push(`<text x="${fmt(x(c * input.maxCost))}" y="${height - pad.bottom + 16}" font-size="11" text-anchor="middle">${tickText(c)}</text>`);
  }
  for (const q of niceTicks(qMin, qMax, 5)) {
    parts.push(`<line x1="${pad.left}" x2="${pad.left + plotW}" y1="${fmt(y(q))}" y2="${fmt(y(q))}" stroke="#eee"/>`);
    parts.push(`<text x="${pad.left - 6}" y="${fmt(y(q) + 4)}" font-size="11" text-anchor="end">${tickText(q)}</text>`);
  }
  parts.push(`<text x="${pad.left + plotW / 2}" y="${height - 6}" font-size="12" text-anchor="middle">cost relative to the priciest model</text>`);
  parts.push(`<text x="14" y="${pad.top + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${pad.top + plotH / 2})">quality</text>`);

  input.series.forEach((s, i) => {
    if (s.curve.length === 0) return;
    // A deferral curve is a staircase of operating points; joining them shows the trade-off.
    const d = s.curve.map((p, j) => `${j === 0 ? 'M' : 'L'}${fmt(x(p.cost))},${fmt(y(p.quality))}`).join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2"${s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : ''} data-router="${escapeXml(s.name)}"/>`,
    );
    const ly = pad.top + 14 + i * 16;
    parts.push(
      `<line x1="${width - pad.right + 10}" x2="${width - pad.right + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${escapeXml(s.color)}" stroke-width="2"${s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : ''}/>`,
    );
    parts.push(`<text x="${width - pad.right + 36}" y="${ly}" font-size="11">${escapeXml(s.name)}</text>`);
  });
  // Each single model's dot is labelled; a label that would overlap the previous one is skipped
  // (its name stays in the dot's tooltip and in the table).
  const placed: { x: number; y: number }[] = [];
  for (const m of [...input.singles].sort((a, b) => a.cost - b.cost)) {
    const cx = x(m.cost);
    const cy = y(m.quality);
    parts.push(
      `<circle cx="${fmt(cx)}" cy="${fmt(cy)}" r="3.5" fill="#444" data-single="${escapeXml(m.modelId)}"><title>${escapeXml(m.modelId)}: quality ${m.quality.toFixed(3)}</title></circle>`,
    );
    const lx = Math.min(cx + 6, pad.left + plotW - 4);
    const ly = cy - 6;
    if (placed.some((p) => Math.abs(p.x - lx) < 60 && Math.abs(p.y - ly) < 11)) continue;
    placed.push({ x: lx, y: ly });
    const anchor = cx + 6 > pad.left + plotW - 60 ? 'end' : 'start';
    parts.push(
      `<text x="${fmt(anchor === 'end' ? cx - 6 : lx)}" y="${fmt(ly)}" font-size="10" fill="#333" text-anchor="${anchor}" class="single-label">${escapeXml(m.modelId)}</text>`,
    );
  }
  const ly = pad.top + 14 + input.series.length * 16;
  parts.push(
    `<circle cx="${width - pad.right + 20}" cy="${ly - 4}" r="3.5" fill="#444"/><text x="${width - pad.right + 36}" y="${ly}" font-size="11">single models</text>`,
  );
  if (input.point) {
    const p = input.point;
    parts.push(
      `<circle cx="${fmt(x(p.cost))}" cy="${fmt(y(p.quality))}" r="7" fill="none" stroke="#d00" stroke-width="2.5" data-operating-point="1"><title>${escapeXml(p.label)}</title></circle>`,
    );
    parts.push(
      `<circle cx="${width - pad.right + 20}" cy="${ly + 12}" r="6" fill="none" stroke="#d00" stroke-width="2.5"/><text x="${width - pad.right + 36}" y="${ly + 16}" font-size="11">operating point</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}
