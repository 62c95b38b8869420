/**
 * One config, four builds, chosen by --mode:
 *   worker — dist/edgeroute.worker.js (ESM, every dependency bundled; heavy engines in lazy chunks)
 *   lib    — dist/index.js (ESM for bundlers; dependencies stay imports)
 *   iife   — dist/edgeroute.iife.js (one file for a <script> tag, global EdgeRoute)
 *   demo   — dist-site/ (the demo page as a static site); also what `vite` serves in dev
 * Declarations come from `tsc -p tsconfig.build.json` (dist/types).
 */
import { resolve } from 'node:path';
import { defineConfig, type Plugin, type UserConfig } from 'vite';

const root = import.meta.dirname;
const WORKER_URL = "new URL('./edgeroute.worker.js', import.meta.url)";

/**
 * src/worker-client.ts names the worker as `new URL('./edgeroute.worker.js', import.meta.url)`.
 * For the npm build that exact text must survive, because it is what Vite and webpack detect in
 * a user's app to bundle the worker; Vite itself would try to resolve it at build time. The IIFE
 * has no import.meta and resolves the worker beside its own <script>; the demo points at the
 * worker's source so Vite bundles it.
 */
function workerUrl(target: 'lib' | 'iife' | 'app'): Plugin {
  const replacement = {
    lib: "new URL('./edgeroute.worker.js', import.meta.__edgerouteUrl)",
    iife: "new URL('./edgeroute.worker.js', getScriptBase())",
    app: "new URL('../workers/edgeroute.worker.ts', import.meta.url)",
  }[target];
  return {
    name: 'edgeroute-worker-url',
    enforce: 'pre',
    transform(code, id) {
      if (!id.endsWith('src/worker-client.ts') || !code.includes(WORKER_URL)) return null;
      return { code: code.replace(WORKER_URL, replacement), map: null };
    },
    renderChunk(code) {
      return target === 'lib' ? code.replaceAll('import.meta.__edgerouteUrl', 'import.meta.url') : null;
    },
  };
}

type LibOptions = { formats: ('es' | 'iife')[]; fileName: () => string; name?: string };

const libraryBuild = (entry: string, lib: LibOptions, extra: UserConfig['build'] = {}): UserConfig['build'] => ({
  outDir: resolve(root, 'dist'),
  emptyOutDir: false,
  sourcemap: true,
  target: 'es2022',
  ...extra,
  lib: { entry: resolve(root, entry), ...lib },
});

export default defineConfig(({ mode }) => {
  const test = {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'bench/**/*.test.ts', 'tools/**/*.test.ts'],
    environment: 'node' as const,
    testTimeout: 60_000,
  };
  if (mode === 'worker') {
    return {
      publicDir: false,
      base: './',
      build: libraryBuild('workers/edgeroute.worker.ts', { formats: ['es'], fileName: () => 'edgeroute.worker.js' }, {
        emptyOutDir: true,
        rollupOptions: { output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
      }),
    };
  }
  if (mode === 'lib') {
    return {
      publicDir: false,
      base: './',
      plugins: [workerUrl('lib')],
      build: libraryBuild('src/index.ts', { formats: ['es'], fileName: () => 'index.js' }, {
        rollupOptions: { external: [/^comlink/, /^idb-keyval/] },
      }),
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
    plugins: [workerUrl('app')],
    worker: { format: 'es' as const },
    build: { outDir: resolve(root, 'dist-site'), emptyOutDir: true, target: 'es2022', sourcemap: true },
    test,
  };
});
