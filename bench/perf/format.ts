/** Text output of the performance benchmark: markdown tables and number formatting. */
import type { Distribution } from './stats';

/** Three significant-ish digits: 1234 → "1234", 12.3 → "12.3", 1.234 → "1.23", 0.01234 → "0.0123". */
export function num(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(3);
}

/** "p50 / p95" of a distribution. */
export function pp(d: Distribution | undefined): string {
  return d ? `${num(d.p50)} / ${num(d.p95)}` : '–';
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined ? '–' : `${(bytes / 2 ** 20).toFixed(bytes >= 10 * 2 ** 20 ? 1 : 2)} MiB`;
}

export function kb(bytes: number): string {
  return bytes >= 2 ** 20 ? mb(bytes) : `${(bytes / 1024).toFixed(1)} KiB`;
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
