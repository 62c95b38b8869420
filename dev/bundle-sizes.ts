/** Sizes of the shipped files, raw and gzip-compressed (level 9), from dist/. Node only. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface FileSize {
  readonly file: string;
  readonly role: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

const ROLES: readonly [RegExp, string][] = [
  [/^index\.js$/, 'ESM entry'],
  [/^advanced\.js$/, 'ESM advanced entry'],
  [/^[\w.-]+-[\w-]{8}\.js$/, 'ESM shared or lazy chunk'],
  [/^edgeroute\.iife\.js$/, 'script-tag entry'],
  [/^edgeroute\.worker\.js$/, 'worker entry'],
  [/^chunks\/.*\.js$/, 'worker lazy chunk'],
  [/^ort\/.*\.mjs$/, 'ONNX Runtime glue'],
  [/^ort\/.*\.wasm$/, 'ONNX Runtime WASM'],
  [/^tfjs\/.*\.wasm$/, 'TF.js WASM'],
];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** Every shipped runtime file (no source maps, no declarations), entries first, then by size. */
export function bundleSizes(dist: string): FileSize[] {
  const rows: FileSize[] = [];
  for (const full of walk(dist)) {
    const file = relative(dist, full).split('\\').join('/');
    const role = ROLES.find(([re]) => re.test(file))?.[1];
    if (!role) continue;
    const data = readFileSync(full);
    rows.push({ file, role, bytes: data.length, gzipBytes: gzipSync(data, { level: 9 }).length });
  }
  const rank = (r: FileSize): number => ROLES.findIndex(([, role]) => role === r.role);
  return rows.sort((a, b) => rank(a) - rank(b) || b.bytes - a.bytes);
}

/**
 * What importing `entry` loads before any of its code runs: the file and, recursively, every
 * chunk it imports statically (`import … from './x.js'`, `export … from './x.js'`); dynamic
 * `import('./x.js')` chunks load later and are listed apart.
 */
export function staticImportClosure(dist: string, entry: string): { files: FileSize[]; gzipBytes: number; lazy: string[] } {
  const seen = new Set<string>();
  const lazy = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(join(dist, file), 'utf8');
    for (const m of code.matchAll(/\b(?:import|export)\s*(?:[\w*{}\s,$]*?\bfrom\s*)?["']\.\/([^"']+\.js)["']/g)) visit(m[1]!);
    for (const m of code.matchAll(/\bimport\(\s*["']\.\/([^"']+\.js)["']\s*\)/g)) lazy.add(m[1]!);
  };
  visit(entry);
  const files = [...seen].map((file) => {
    const data = readFileSync(join(dist, file));
    return { file, role: file === entry ? 'entry' : 'static import', bytes: data.length, gzipBytes: gzipSync(data, { level: 9 }).length };
  });
  return { files, gzipBytes: files.reduce((a, f) => a + f.gzipBytes, 0), lazy: [...lazy].filter((f) => !seen.has(f)).sort() };
}
