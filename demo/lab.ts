/**
 * The routing lab tab: pick a data set, embed its prompts with the router's own embedder (in the
 * worker; cached in IndexedDB), run every router and baseline with the routing core in this
 * page, and move λ or a target to watch the operating point travel along the deferral curves.
 */
import type { CalibrationTarget } from '../src/core/lambda-calibration';
import { paretoClean } from '../src/core/metrics';
import type { DeferralPoint, LabelledPrompt, ModelSpec } from '../src/core/types';
import { textForEmbedding } from '../src/core/prompt-text';
import { lambdaRange, LAMBDA_ROUTERS, operatingPoint, pointForTarget, runRoutingLab, type LambdaRouterName, type RoutingLab } from '../research/routing-lab';
import type { DemoRouter } from './demo-router';
import type { ValidationPrompt, ValidationSet } from '../src/common/validation-set';
import { validationSetHash } from 'edgeroute';
import { kvGet, kvSet, type KvStore, openKvStore } from 'edgeroute/advanced';
import type { ProfileEntry } from '../src/worker/storage/profile-cache';
import { deferralChartSvg, type ChartSeries } from './deferral-chart';
import { byId, errorText, h } from './dom';

export interface LabContext {
  router(): Promise<DemoRouter>;
  /** The static catalog (demo/lab/sets.json), relative to the page. */
  readonly setsUrl: string;
  /** The shipped profile's validation set. */
  readonly profileUrl: string;
}

interface LabEntry {
  readonly id: string;
  readonly label: string;
  readonly prompts: number;
  readonly models: number;
  /** Static sets: the file beside sets.json. */
  readonly file?: string;
}

/** λ for people: 0, 1.2e-4, 35, 1,200. */
export function formatLambda(lambda: number): string {
  if (lambda === 0) return '0';
  if (lambda >= 1000) return Math.round(lambda).toLocaleString('en');
  if (lambda >= 0.01) return String(Number(lambda.toPrecision(3)));
  return lambda
    .toExponential(1)
    .replace('e-', '×10⁻')
    .replace(/⁻(\d+)/, (_m, d: string) => `⁻${[...d].map((c) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(c)]).join('')}`);
}

type LabSetJson = Omit<ValidationSet, 'prompts'> & { readonly prompts: readonly (ValidationPrompt & { readonly costs?: Record<string, number> })[] };

const COLORS: Readonly<Record<string, string>> = {
  'uniroute-kmeans': '#1f77b4',
  'uniroute-learned-map': '#2ca02c',
  knn: '#9467bd',
  'zero-router': '#7f7f7f',
  random: '#bcbd22',
  oracle: '#ff7f0e',
};
const SHIPPED_PROFILE: LabEntry = { id: 'profile:edgeroute-default', label: 'edgeroute-default — the routing profile the demo uses', prompts: 400, models: 9 };
/** Baselines get their own dash patterns: random dotted, oracle long dashes, ZeroRouter dash-dot. */
const DASH: Readonly<Record<string, string>> = { random: '2 4', oracle: '10 4', 'zero-router': '8 3 2 3' };
const EMBED_BATCH = 16;
const SLIDER_STEPS = 1000;

export function mountLab(context: LabContext): void {
  const setSelect = byId<HTMLSelectElement>('lab-set');
  const limitSelect = byId<HTMLSelectElement>('lab-limit');
  const kSelect = byId<HTMLSelectElement>('lab-k');
  const runButton = byId<HTMLButtonElement>('lab-run');
  const progress = byId<HTMLProgressElement>('lab-progress');
  const message = byId('lab-message');
  const routerSelect = byId<HTMLSelectElement>('lab-router');
  const lambdaSlider = byId<HTMLInputElement>('lab-lambda');
  const targetSlider = byId<HTMLInputElement>('lab-target');
  const lambdaOut = byId('lab-lambda-value');
  const targetLabel = byId('lab-target-label');
  const targetOut = byId('lab-target-value');
  const pointOut = byId('lab-point');
  const chart = byId('lab-chart');
  const table = byId<HTMLTableSectionElement>('lab-table-body');
  let store: KvStore | undefined;
  let lab: RoutingLab | undefined;
  let running: AbortController | undefined;

  for (const name of LAMBDA_ROUTERS) routerSelect.append(h('option', { value: name }, name));

  void loadCatalog();

  const entries = new Map<string, LabEntry>();

  /** The shipped profile and the static sets; `npm start` adds the full sets of ../shared/data. */
  async function loadCatalog(): Promise<void> {
    const list: LabEntry[] = [SHIPPED_PROFILE];
    const tryJson = async (url: URL | string): Promise<LabEntry[]> => {
      try {
        const response = await fetch(url);
        return response.ok ? ((await response.json()) as { sets: LabEntry[] }).sets : [];
      } catch {
        return [];
      }
    };
    list.push(...(await tryJson(context.setsUrl)));
    // Only a demo server has this (a static host answers 404): full sets, sampled on request.
    list.push(...(await tryJson(new URL('lab/sets.json', location.href))).filter((e) => e.id.startsWith('full:')));
    for (const e of list) entries.set(e.id, e);
    setSelect.replaceChildren(...list.map((e) => h('option', { value: e.id }, `${e.label} (${e.prompts} prompts, ${e.models} models)`)));
    runButton.disabled = false;
  }

  async function fetchSet(id: string, limit: number): Promise<LabSetJson> {
    const entry = entries.get(id);
    const url =
      id === SHIPPED_PROFILE.id
        ? new URL(context.profileUrl)
        : entry?.file
          ? new URL(entry.file, context.setsUrl)
          : new URL(`lab/set.json?id=${encodeURIComponent(id)}&limit=${limit}`, location.href);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`The lab could not load ${id}: HTTP ${response.status}.`);
    const set = (await response.json()) as LabSetJson;
    return set.prompts.length > limit ? { ...set, prompts: set.prompts.slice(0, limit) } : set;
  }

  /** Embeddings of the set's prompts, from IndexedDB when this embedder has seen the set before. */
  /**
   * The shipped profile's prompts were embedded already, by the same embedder with the same text
   * (textForEmbedding): the router's IndexedDB entry keeps those embeddings, in prompt order, and
   * the lab's sample of that set is a prefix of it. Undefined when the entry has none.
   */
  async function profileEmbeddings(router: DemoRouter, n: number): Promise<Float32Array[] | undefined> {
    try {
      const entry = await kvGet<ProfileEntry>(openKvStore('edgeroute', 'profiles'), router.profile.cacheKey);
      const flat = entry?.validationEmbeddings;
      const d = entry?.dimension ?? 0;
      if (!flat || entry.embedderId !== router.profile.embedderId || flat.length < n * d) return undefined;
      return Array.from({ length: n }, (_, i) => flat.slice(i * d, (i + 1) * d));
    } catch {
      return undefined;
    }
  }

  async function embed(router: DemoRouter, set: LabSetJson, signal: AbortSignal, shipped: boolean): Promise<Float32Array[]> {
    if (shipped) {
      const known = await profileEmbeddings(router, set.prompts.length);
      if (known) {
        message.textContent = `Using the ${set.prompts.length} embeddings the router already holds for its profile.`;
        chart.dataset.embeddings = 'profile';
        return known;
      }
    }
    const key = `lab:${router.profile.embedderId}:${await validationSetHash(set)}`;
    try {
      store ??= openKvStore('edgeroute-demo', 'lab-embeddings');
      const cached = await kvGet<Float32Array[]>(store, key);
      if (cached?.length === set.prompts.length) {
        chart.dataset.embeddings = 'cache';
        return cached;
      }
    } catch {
      store = undefined; // no IndexedDB: embed every time
    }
    const out: Float32Array[] = [];
    progress.max = set.prompts.length;
    for (let i = 0; i < set.prompts.length; i += EMBED_BATCH) {
      if (signal.aborted) throw new Error('Stopped.');
      const batch = set.prompts.slice(i, i + EMBED_BATCH).map((p) => textForEmbedding(p.prompt));
      out.push(...(await router.embed(batch)).embeddings);
      progress.value = out.length;
      message.textContent = `Embedding prompts with ${router.profile.embedderId}: ${out.length} / ${set.prompts.length}`;
    }
    if (store) await kvSet(store, key, out).catch(() => undefined);
    chart.dataset.embeddings = 'computed';
    return out;
  }

  runButton.addEventListener('click', () => {
    if (running) {
      running.abort();
      return;
    }
    void run();
  });

  async function run(): Promise<void> {
    running = new AbortController();
    runButton.textContent = 'Stop';
    progress.value = 0;
    chart.dataset.state = 'running';
    delete chart.dataset.embeddings;
    try {
      message.textContent = 'Loading the set…';
      const set = await fetchSet(setSelect.value, Number(limitSelect.value));
      message.textContent = 'Waiting for the router (embedder)…';
      const router = await context.router();
      const embeddings = await embed(router, set, running.signal, setSelect.value === SHIPPED_PROFILE.id);
      const models: ModelSpec[] = set.models.map((m) => ({ id: m.id, cost: m.cost }));
      const prompts: LabelledPrompt[] = set.prompts.map((p, i) => ({
        id: p.id,
        embedding: embeddings[i]!,
        scores: p.scores,
        ...(p.costs ? { costs: p.costs } : {}),
      }));
      message.textContent = 'Running the routers…';
      await new Promise((r) => setTimeout(r, 0)); // let the message paint before the work
      lab = runRoutingLab(prompts, models, { k: Number(kSelect.value), seed: 1 });
      const free = models.some((m) => m.cost === 0);
      targetLabel.textContent = free ? 'Target cloud share' : "Target budget (share of the priciest model's cost)";
      message.textContent = `${set.name}: ${lab.sizes.fit} prompts to fit (k-means K=${lab.k}, Ψ, k-NN, λ calibration), ${lab.sizes.test} to test; computed in this page in ${Math.round(lab.millis)} ms.`;
      fillTable(lab);
      fromTarget();
      chart.dataset.state = 'ready';
    } catch (error) {
      message.textContent = errorText(error);
      chart.dataset.state = 'error';
    } finally {
      running = undefined;
      runButton.textContent = 'Run';
    }
  }

  function fillTable(result: RoutingLab): void {
    const rows = Object.entries(result.routers).sort((a, b) => b[1].area - a[1].area);
    table.replaceChildren(
      ...rows.map(([name, r]) =>
        h(
          'tr',
          { 'data-router': name },
          h('th', { scope: 'row' }, name),
          h('td', {}, r.area.toFixed(3)),
          h('td', {}, Number.isFinite(r.qnc) ? `${(100 * r.qnc).toFixed(0)}%` : 'never'),
        ),
      ),
    );
    table.append(
      ...result.singles.map((s) =>
        h(
          'tr',
          { class: 'single' },
          h('th', { scope: 'row' }, `${s.modelId} alone`),
          h('td', {}, `quality ${s.quality.toFixed(3)}`),
          h('td', {}, `cost ${(s.cost / result.maxCost).toFixed(2)}`),
        ),
      ),
    );
  }

  const routerName = (): LambdaRouterName => routerSelect.value as LambdaRouterName;

  function lambdaFromSlider(result: RoutingLab): number {
    const v = Number(lambdaSlider.value);
    if (v === 0) return 0;
    const { min, max } = lambdaRange(result);
    return min * Math.pow(max / min, v / SLIDER_STEPS);
  }

  function sliderFromLambda(result: RoutingLab, lambda: number): number {
    const { min, max } = lambdaRange(result);
    if (lambda <= min) return 0;
    return Math.min(SLIDER_STEPS, Math.round((SLIDER_STEPS * Math.log(lambda / min)) / Math.log(max / min)));
  }

  function target(result: RoutingLab): CalibrationTarget {
    const share = Number(targetSlider.value) / 100;
    if (result.models.some((m) => m.cost === 0)) return { kind: 'cloudShare', share };
    const priciest = Math.max(...result.models.map((m) => m.cost));
    return { kind: 'budget', usdPer1000: share * priciest * 1000 };
  }

  function draw(result: RoutingLab, point: DeferralPoint, label: string): void {
    // Pareto-cleaned, as the areas in the table are: a point beaten on both cost and quality is
    // never an operating point anyone would pick.
    const series: ChartSeries[] = Object.entries(result.routers).map(([name, r]) => ({
      name,
      curve: paretoClean(r.curve),
      color: COLORS[name] ?? '#000',
      ...(DASH[name] ? { dash: DASH[name] } : {}),
    }));
    chart.innerHTML = deferralChartSvg({
      series,
      singles: result.singles,
      maxCost: result.maxCost,
      point: { cost: point.cost, quality: point.quality, label },
    });
    const cloud = Object.entries(point.shares ?? {})
      .filter(([id]) => (result.models.find((m) => m.id === id)?.cost ?? 0) > 0)
      .reduce((s, [, v]) => s + v, 0);
    pointOut.textContent = `${label}: quality ${point.quality.toFixed(3)}, cost ${((100 * point.cost) / result.maxCost).toFixed(0)}% of the priciest model's, cloud share ${(100 * cloud).toFixed(0)}%`;
    pointOut.dataset.quality = point.quality.toFixed(4);
  }

  function fromLambda(): void {
    if (!lab) return;
    const lambda = lambdaFromSlider(lab);
    lambdaOut.textContent = formatLambda(lambda);
    draw(lab, operatingPoint(lab, routerName(), lambda), `${routerName()} at λ = ${formatLambda(lambda)}`);
  }

  function fromTarget(): void {
    if (!lab) return;
    const t = target(lab);
    const p = pointForTarget(lab, routerName(), t);
    lambdaSlider.value = String(sliderFromLambda(lab, p.lambda));
    lambdaOut.textContent = formatLambda(p.lambda);
    targetOut.textContent = `${targetSlider.value}%${p.feasible ? '' : ' (not reachable; closest point)'}`;
    draw(lab, p.test, `${routerName()} calibrated to ${targetSlider.value}% on the fit prompts (λ = ${formatLambda(p.lambda)})`);
  }

  lambdaSlider.max = String(SLIDER_STEPS);
  lambdaSlider.addEventListener('input', fromLambda);
  targetSlider.addEventListener('input', fromTarget);
  routerSelect.addEventListener('change', fromTarget);
}
