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
