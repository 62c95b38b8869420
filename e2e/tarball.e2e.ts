/**
 * What an app developer gets from npm: `npm pack` the built package, install the tarball into a
 * scratch Vite app made from e2e/fixtures/vite-app (from npm's cache where it has the package, else
 * the registry, as a new machine's first install does), build it
 * with the app's own scripts, serve the output and get a routed answer in Chromium; then the same
 * app under Vite's dev server. This is the recipe docs/bundlers.md documents: if it breaks here
 * it is broken for users.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from '@playwright/test';
import { createLogger, createServer, type Logger } from 'vite';
import { startStaticServer, type StaticServer } from '../dev/static-server';
import { expect, recordedPrompts, test } from './fixtures';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const template = resolve(import.meta.dirname, 'fixtures/vite-app');
const prompt = recordedPrompts[0]!;
const viteVersion = (JSON.parse(readFileSync(resolve(root, 'node_modules/vite/package.json'), 'utf8')) as { version: string }).version;

/**
 * The child npm must see the scratch app's own configuration: under `npm test` the parent npm
 * exports this repo's (its .npmrc, its folder as npm_config_local_prefix) as npm_config_*
 * variables, which would hide a recipe that only works here. Kept: the cache `npm ci` filled,
 * which the install reads first, and where the machine's user and global npmrc files are.
 */
const KEPT_NPM_VARIABLES = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_cafile']);
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || KEPT_NPM_VARIABLES.has(key.toLowerCase())));
}

const timings: string[] = [];
async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    timings.push(`${label} ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
}

interface PackageJson { version: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; overrides?: Record<string, string> }

/**
 * The versions this checkout's `npm ci` installed for `names` and everything they depend on.
 * npm's cache holds exactly those tarballs, but its cached registry metadata may already list
 * newer releases inside the same ranges (it is fetched fresh by every `npm ci`); an offline
 * install that picked one of those would fail with ENOTCACHED. Pinning the scratch app to our
 * lockfile's versions keeps the install offline for as long as the lockfile is current.
 */
function installedVersions(names: readonly string[]): Record<string, string> {
  const versions: Record<string, string> = {};
  const queue = names.map((name) => ({ name, from: root }));
  for (let next = queue.pop(); next; next = queue.pop()) {
    let manifest = '';
    // Node's lookup: the nearest node_modules/<name> from the dependent's folder up to ours.
    for (let dir = next.from; !manifest; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', next.name, 'package.json');
      if (existsSync(candidate)) manifest = candidate;
      else if (dir === root) break;
    }
    if (!manifest) continue; // an optional dependency for another platform
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
    if (versions[next.name] === pkg.version) continue;
    if (versions[next.name]) throw new Error(`${next.name} is installed at ${versions[next.name]} and ${pkg.version}; pin one of them for the scratch app`);
    versions[next.name] = pkg.version;
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push({ name: dep, from: dirname(manifest) });
  }
  return versions;
}

/** Files under `dir`, as paths relative to it. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

/** Asks the app's form one question and returns what the page shows of the answer. */
async function askOnPage(page: Page): Promise<Record<string, string>> {
  await expect(page.locator('#status')).toHaveText(/^ready: 400 validation prompts$/, { timeout: 60_000 });
  await page.locator('textarea').fill(prompt);
  await page.locator('button').click();
  await expect(page.locator('#answer')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('#status')).toHaveText('answered');
  return Object.fromEntries(await Promise.all(['content', 'model', 'routed-to', 'escalated', 'confidence', 'cost', 'latency']
    .map(async (id) => [id, (await page.locator(`#${id}`).textContent()) ?? ''] as const)));
}

function expectRoutedAnswer(shown: Record<string, string>): void {
  expect(['llama3.2-1b', 'gpt-4o']).toContain(shown.model);
  expect(['llama3.2-1b', 'gpt-4o']).toContain(shown['routed-to']);
  expect(shown.content).not.toBe('');
  // A cloud answer came through the same-origin proxy from the replay cloud's recording.
  if (shown.model === 'gpt-4o') expect(shown.content).toMatch(/^[ABCD]/);
  expect(shown.cost).toMatch(/^\$\d+\.\d{6}$/);
  expect(shown.latency).toMatch(/^\d+ ms$/);
}

/** Paths of the successful responses the page and its workers get. */
function recordFetches(page: Page): string[] {
  const fetched: string[] = [];
  page.context().on('requestfinished', (request) => {
    void request.response().then((r) => {
      const url = new URL(request.url());
      if (r?.ok()) fetched.push(url.pathname + url.search);
    });
  });
  return fetched;
}

test.describe.serial('the npm tarball in a Vite app', () => {
  let scratch = '';
  let app = '';

  test.beforeAll(async () => {
    test.setTimeout(60_000);
    for (const file of ['dist/index.js', 'dist/edgeroute.worker.js', 'dist/types/index.d.ts', 'dist/ort', 'dist/tfjs']) {
      if (!existsSync(resolve(root, file))) throw new Error(`${file} is missing: run \`npm run build\` before the tarball test.`);
    }
    scratch = mkdtempSync(join(tmpdir(), 'edgeroute-tarball-'));
    app = join(scratch, 'app');
    const packed = await timed('pack', () => run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, env: cleanEnv(), maxBuffer: 16 << 20 }));
    const [entry] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const packedPaths = entry!.files.map((f) => f.path);
    // The worker fetches these at run time; a bundler cannot see them, so the tarball must carry them.
    for (const f of ['dist/ort/ort-wasm-simd-threaded.asyncify.mjs', 'dist/ort/ort-wasm-simd-threaded.asyncify.wasm', 'dist/tfjs/tfjs-backend-wasm.wasm']) {
      expect(packedPaths, `${f} is not in the tarball`).toContain(f);
    }

    cpSync(template, app, { recursive: true });
    const appPackage = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as PackageJson;
    const published = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as PackageJson;
    appPackage.overrides = installedVersions(['vite', ...Object.keys(published.dependencies ?? {})]);
    writeFileSync(join(app, 'package.json'), `${JSON.stringify(appPackage, null, 2)}\n`);
    // --prefer-offline: npm's cache where it holds a package (`npm ci` filled it with the
    // tarballs), the registry for the rest. `npm ci` caches tarballs but not every packument
    // (registry metadata), so on a new machine with an empty cache an --offline install fails
    // with ENOTCACHED for vite. The tarball's published dependency ranges must admit the
    // versions pinned above.
    await timed('install', () => run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(scratch, entry!.filename), `vite@${viteVersion}`], { cwd: app, env: cleanEnv(), maxBuffer: 16 << 20 })
      .catch((error: unknown) => {
        throw new Error(`npm install of the tarball into the scratch app failed (it needs the npm registry for what npm's cache lacks).\n${String((error as { stderr?: string }).stderr ?? error)}`);
      }));
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/edgeroute/package.json'), 'utf8')) as PackageJson;
    expect(installed.version).toBe(published.version);
    // The worker bundles its engines, so the published dependencies are only the page's two
    // small ones: no transformers.js, and so no onnxruntime-node with its download script.
    for (const heavy of ['@huggingface/transformers', '@mlc-ai/web-llm', 'onnxruntime-node', 'onnxruntime-web']) {
      expect(existsSync(join(app, 'node_modules', heavy)), `${heavy} was installed with edgeroute`).toBe(false);
    }
    // The app's code compiles against the shipped declarations (no skipLibCheck).
    await timed('typecheck', () => run(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app }));
  });

  test.afterAll(() => {
    console.log(`vite ${viteVersion} app from the tarball: ${timings.join(', ')}`);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('vite build: the worker is emitted, the WASM runtimes are copied, and the built app answers a routed prompt', async ({ page, cloud }) => {
    // The app's own build script: copy edgeroute's WASM runtimes into public/, then vite build.
    const build = await timed('build', () => run('npm', ['run', 'build'], { cwd: app, env: cleanEnv(), maxBuffer: 16 << 20 }));
    // Nothing in the package asks the app's bundler to resolve a file that is not there.
    expect(`${build.stdout}${build.stderr}`).not.toMatch(/doesn't exist at build time/);

    const built = listFiles(join(app, 'dist'));
    // Vite recognised `new Worker(new URL('./edgeroute.worker.js', import.meta.url))` in the
    // package entry and emitted the worker (re-bundled, hashed) as its own file…
    const workerFile = built.find((f) => /^assets\/edgeroute\.worker-[\w-]+\.js$/.test(f));
    expect(workerFile, `no worker among ${built.join(', ')}`).toBeDefined();
    // worker.format 'es' in the app's vite.config.js keeps the engines as lazy chunks.
    expect(built.filter((f) => /^assets\/(transformers\.web|webllm-engine|use-embedder)-[\w-]+\.js$/.test(f))).toHaveLength(3);
    const entryFile = built.find((f) => /^assets\/index-[\w-]+\.js$/.test(f))!;
    expect(readFileSync(join(app, 'dist', entryFile), 'utf8')).toContain(workerFile!.slice('assets/'.length));
    // …but not the WASM runtimes it fetches at run time: those come from the app's copy.
    for (const f of ['ort/ort-wasm-simd-threaded.asyncify.mjs', 'ort/ort-wasm-simd-threaded.asyncify.wasm', 'tfjs/tfjs-backend-wasm.wasm', 'tfjs/tfjs-backend-wasm-simd.wasm']) {
      expect(statSync(join(app, 'dist/edgeroute', f)).size, f).toBe(statSync(resolve(root, 'dist', f)).size);
    }

    let site: StaticServer | undefined;
    try {
      site = await startStaticServer({
        mounts: [
          { prefix: '/models/', dir: resolve(root, 'public/models') },
          { prefix: '/profiles/', dir: resolve(root, 'public/profiles') },
          { prefix: '/', dir: join(app, 'dist') },
        ],
        proxies: [{ prefix: '/api/llm/', target: new URL('/', cloud.url).href }],
      });
      const fetched = recordFetches(page);
      await page.goto(`${site.url}/`);
      const shown = await timed('built app in the browser', () => askOnPage(page));
      console.log(`built app: ${JSON.stringify(shown)}`);
      expectRoutedAnswer(shown);
      // The worker ran from the bundler's copy and took ONNX Runtime from the app's public copy.
      expect(fetched).toContain(`/${workerFile}`);
      expect(fetched).toContain('/edgeroute/ort/ort-wasm-simd-threaded.asyncify.wasm');
      mkdirSync(resolve(root, 'reports/screenshots'), { recursive: true });
      await page.screenshot({ path: resolve(root, 'reports/screenshots/vite-app.png'), fullPage: true });
    } finally {
      await site?.close();
    }
  });

  test('vite dev server: the same app answers with the worker served from node_modules, without cross-origin isolation', async ({ page, cloud }) => {
    // The same copy as before `vite build` (the dev server serves public/ at the site root)…
    await run('npm', ['run', 'copy-edgeroute-runtime'], { cwd: app, env: cleanEnv() });
    // …and the test's models and profiles there too, as the static server mounts them above.
    symlinkSync(resolve(root, 'public/models'), join(app, 'public/models'));
    symlinkSync(resolve(root, 'public/profiles'), join(app, 'public/profiles'));
    const problems: string[] = [];
    const logger = createLogger('warn');
    const keep = (log: Logger['warn']): Logger['warn'] => (msg, options) => { problems.push(msg); log(msg, options); };
    logger.warn = keep(logger.warn);
    logger.error = keep(logger.error);
    const server = await createServer({
      root: app,
      configFile: join(app, 'vite.config.js'),
      customLogger: logger,
      server: { host: '127.0.0.1', port: 0, proxy: { '/api/llm/': { target: new URL('/', cloud.url).origin, rewrite: (path) => path.slice('/api/llm'.length) } } },
    });
    try {
      await server.listen();
      const fetched = recordFetches(page);
      await page.goto(server.resolvedUrls!.local[0]!);
      const shown = await timed('dev server in the browser', () => askOnPage(page));
      console.log(`dev server: ${JSON.stringify(shown)}`);
      expectRoutedAnswer(shown);
      expect(fetched).toContain('/node_modules/edgeroute/dist/edgeroute.worker.js?worker_file&type=module');
      expect(fetched).toContain('/edgeroute/ort/ort-wasm-simd-threaded.asyncify.wasm');
      // E.g. "Failed to load source map" for each chunk when the package points at maps it leaves out.
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
