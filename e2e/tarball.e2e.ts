/**
 * What an app developer gets from npm: `npm pack` the built package, install the tarball into a
 * scratch Vite app made from e2e/fixtures/vite-app (from npm's cache where it has the package, else
 * the registry, as a new machine's first install does), build it
 * with the app's own scripts, serve the output and get a routed answer in Chromium; then the same
 * app under Vite's dev server. This is the recipe docs/bundlers.md documents: if it breaks here
 * it is broken for users.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from '@playwright/test';
import { createLogger, createServer, type Logger } from 'vite';
import { startStaticServer, type StaticServer } from '../dev/static-server';
import { staticImportClosure } from '../dev/bundle-sizes';
import { expect, recordedPrompts, test } from './fixtures';
import { cleanEnv, installTarball, packInto, root, run, viteVersion, type PackageJson } from './scratch-app';

const template = resolve(import.meta.dirname, 'fixtures/vite-app');
const prompt = recordedPrompts[0]!;

const timings: string[] = [];
async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    timings.push(`${label} ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
}

/** Files under `dir`, as paths relative to it. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

/** Asks the app's form one question and returns what the page shows of the answer. */
async function askOnPage(page: Page): Promise<Record<string, string>> {
  await expect(page.locator('#status')).toHaveText(/^ready: 400 validation prompts$/, { timeout: 60_000 });
  await page.locator('textarea').fill(prompt);
  await page.locator('button').click();
  await expect(page.locator('#answer')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('#status')).toHaveText('answered');
  return Object.fromEntries(
    await Promise.all(
      ['content', 'model', 'routed-to', 'escalated', 'confidence', 'cost', 'latency'].map(
        async (id) => [id, (await page.locator(`#${id}`).textContent()) ?? ''] as const,
      ),
    ),
  );
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

test('importing edgeroute loads at most 15 KiB gzip; the cloud transport, the OpenAI fetch adapter and the local-answer judgement load on demand', () => {
  const closure = staticImportClosure(resolve(root, 'dist'), 'index.js');
  console.log(
    `import 'edgeroute': ${closure.files.map((f) => `${f.file} ${f.gzipBytes} B`).join(' + ')} = ${closure.gzipBytes} B gzip; lazy: ${closure.lazy.join(', ')}`,
  );
  expect(closure.files.map((f) => f.file)).toContain('index.js');
  expect(closure.gzipBytes).toBeLessThanOrEqual(15 * 1024);
  expect(closure.lazy).toEqual([
    expect.stringMatching(/^local-judgement-[\w-]+\.js$/),
    expect.stringMatching(/^openai-fetch-handler-[\w-]+\.js$/),
    expect.stringMatching(/^transport-[\w-]+\.js$/),
  ]);
});

test.describe
  .serial('the npm tarball in a Vite app', () => {
    let scratch = '';
    let app = '';

    test.beforeAll(async () => {
      test.setTimeout(60_000);
      scratch = mkdtempSync(join(tmpdir(), 'edgeroute-tarball-'));
      app = join(scratch, 'app');
      const { tarball, files: packedPaths } = await timed('pack', () => packInto(scratch));
      // The worker fetches these at run time; a bundler cannot see them, so the tarball must carry them.
      for (const f of [
        'dist/ort/ort-wasm-simd-threaded.asyncify.mjs',
        'dist/ort/ort-wasm-simd-threaded.asyncify.wasm',
        'dist/tfjs/tfjs-backend-wasm.wasm',
        'dist/profiles/default-validation.json',
      ]) {
        expect(packedPaths, `${f} is not in the tarball`).toContain(f);
      }
      cpSync(template, app, { recursive: true });
      await timed('install', () => installTarball(app, tarball));
      const installed = JSON.parse(readFileSync(join(app, 'node_modules/edgeroute/package.json'), 'utf8')) as PackageJson;
      const published = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as PackageJson;
      expect(installed.version).toBe(published.version);
      // The worker bundles its engines, so the published dependencies are the page's two small
      // ones and USE lite's weights: no transformers.js, and so no onnxruntime-node with its
      // download script.
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
      // The page chunk that starts it (edgeroute's supervisor chunk, which the app's entry imports
      // statically) names it; the worker's own lazy chunks name it too, as their importer.
      const naming = built.filter(
        (f) => /^assets\/[\w-]+\.js$/.test(f) && readFileSync(join(app, 'dist', f), 'utf8').includes(workerFile!.slice('assets/'.length)),
      );
      expect(naming).toContainEqual(expect.stringMatching(/^assets\/supervisor-[\w-]+\.js$/));
      // …but not the WASM runtimes it fetches at run time: those come from the app's copy.
      for (const f of [
        'ort/ort-wasm-simd-threaded.asyncify.mjs',
        'ort/ort-wasm-simd-threaded.asyncify.wasm',
        'tfjs/tfjs-backend-wasm.wasm',
        'tfjs/tfjs-backend-wasm-simd.wasm',
      ]) {
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
      const keep =
        (log: Logger['warn']): Logger['warn'] =>
        (msg, options) => {
          problems.push(msg);
          log(msg, options);
        };
      logger.warn = keep(logger.warn);
      logger.error = keep(logger.error);
      const server = await createServer({
        root: app,
        configFile: join(app, 'vite.config.js'),
        customLogger: logger,
        server: {
          host: '127.0.0.1',
          port: 0,
          proxy: { '/api/llm/': { target: new URL('/', cloud.url).origin, rewrite: (path) => path.slice('/api/llm'.length) } },
        },
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
