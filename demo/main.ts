/**
 * The demo page: chat, routing lab and settings around one router. Everything it needs is a
 * static file relative to the page (so it runs from any static host, under any sub-path): the
 * routing profile, the recorded prompts and answers, the precomputed profile cache and the lab's
 * sets. The cloud is the in-page replay cloud unless Settings name a real endpoint.
 *
 * Start-up: the profile cache for USE lite is written to IndexedDB first (profile-seed.ts), so
 * the worker finds its centroids and Ψ there and a first visit embeds no validation prompt.
 */
import { proxy } from 'comlink';
import { type LoadProgress, validateValidationSet, type ValidationSet, validationSetHash } from 'edgeroute';
import { openKvStore } from 'edgeroute/advanced';
import { mountChat } from './chat';
import { startDemoRouter, type DemoRouter, type Stage } from './demo-router';
import { byId, errorText } from './dom';
import { ExampleBook, parseExamples } from './examples';
import { mountLab } from './lab';
import { seedProfileCache, USE_LITE_EMBEDDER_ID, type SeedMeta, type SeedOutcome } from './profile-seed';
import { createReplayFetch } from './replay-fetch';
import { bestCloudModel } from './savings';
import { mountSettings } from './settings-form';
import { assetsFor, loadSettings, saveSettings, toRouterConfig, usesReplayCloud, type DemoCloudModel, type DemoSettings } from './settings';
import { mountTabs } from './tabs';

const STAGE_TEXT: Record<Stage, string> = { embedder: 'Embedder', profile: 'Routing profile', local: 'Local model' };

function showProgress(stage: Stage, p: { progress: number; text: string }): void {
  const row = document.getElementById(`progress-${stage}`);
  if (!row) return;
  row.hidden = false;
  const bar = row.querySelector('progress')!;
  bar.value = Math.max(0, Math.min(1, p.progress));
  bar.setAttribute('aria-valuetext', `${STAGE_TEXT[stage]}: ${p.text}`);
  row.querySelector('.progress-text')!.textContent = p.text;
}

const assets = assetsFor(location.href);
const status = byId('router-status');
const gpuStatus = byId('gpu-status');
const stored = loadSettings(localStorage);
let settings: DemoSettings = stored.settings;
let current: Promise<DemoRouter> | undefined;
let best: DemoCloudModel | undefined;

async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.json();
}

const book: Promise<ExampleBook | undefined> = fetchJson(assets.examplesUrl)
  .then((raw) => new ExampleBook(parseExamples(raw)))
  .catch((error: unknown) => {
    console.warn(`The recorded prompts did not load (${errorText(error)}); the chat has no examples.`);
    return undefined;
  });
let bookNow: ExampleBook | undefined;
void book.then((b) => {
  bookNow = b;
});
const profileSet: Promise<ValidationSet> = fetchJson(assets.profileUrl).then((raw) => validateValidationSet(raw));

/** Writes the shipped profile cache into IndexedDB when the router uses USE lite. */
async function seed(next: DemoSettings, set: ValidationSet): Promise<SeedOutcome> {
  if (next.embedder.kind !== 'use') return { status: 'skipped', reason: 'the shipped cache is for USE lite' };
  // ?seed=0 starts as a page without the shipped cache would (to measure what it saves).
  if (new URLSearchParams(location.search).get('seed') === '0') return { status: 'skipped', reason: 'turned off by ?seed=0' };
  try {
    const meta = (await fetchJson(assets.seedMetaUrl)) as SeedMeta;
    return await seedProfileCache(openKvStore('edgeroute', 'profiles'), meta, async () => (await fetch(assets.seedBytesUrl)).arrayBuffer(), {
      embedderId: USE_LITE_EMBEDDER_ID,
      validationHash: await validationSetHash(set),
      promptCount: set.prompts.length,
      models: set.models,
    });
  } catch (error) {
    return { status: 'skipped', reason: errorText(error) };
  }
}

async function start(next: DemoSettings, apiKey?: string): Promise<DemoRouter> {
  const started = performance.now();
  const previous = current;
  current = undefined;
  if (previous)
    await previous.then(
      (r) => r.close(),
      () => undefined,
    );
  status.textContent = 'Starting the router: loading the embedder and the routing profile…';
  status.dataset.state = 'loading';
  const set = await profileSet;
  const seeded = await seed(next, set);
  const replay = usesReplayCloud(next, location.href);
  const demo = await startDemoRouter({
    config: { ...toRouterConfig(next, assets, apiKey), profile: set },
    ...(replay ? { cloudFetch: createReplayFetch({ book: () => bookNow }) } : {}),
    recorded: (prompt) => bookNow?.find(prompt),
    onProgress: (p: LoadProgress & { stage: Stage }) => showProgress(p.stage, p),
  });
  const millis = performance.now() - started;
  showProgress('embedder', { progress: 1, text: 'ready' });
  showProgress('profile', {
    progress: 1,
    text: demo.profile.source === 'hit' ? 'ready (precomputed, no prompt embedded)' : 'ready (computed in this browser)',
  });
  best = bestCloudModel(next.cloudModels, demo.profile.models);
  const p = demo.profile;
  const from = p.source === 'hit' ? (seeded.status === 'seeded' ? 'precomputed cache shipped with the page' : 'IndexedDB') : 'computed now';
  status.textContent = `Router ready in ${(millis / 1000).toFixed(1)} s (${next.mode}): profile "${p.validationSet}" (${p.prompts} prompts, K=${p.clusters}, ${from}), embedder ${p.embedderId}. Cloud: ${replay ? 'in-page replay of recorded answers' : next.cloudBaseUrl}.`;
  status.dataset.state = 'ready';
  status.dataset.readyMs = String(Math.round(millis));
  status.dataset.profileSource = p.source;
  status.dataset.seed = seeded.status;
  void describeDevice(demo, next);
  return demo;
}

/** WebGPU / WASM status, and the local model's download with its progress bar. */
async function describeDevice(demo: DemoRouter, s: DemoSettings): Promise<void> {
  const api = demo.worker.api;
  const [gpu, embedder] = await Promise.all([api.probeGpu(), api.loadEmbedder()]);
  const gpuText = gpu.available
    ? `WebGPU: ${gpu.adapter?.vendor || 'unknown vendor'} ${gpu.adapter?.architecture ?? ''}${gpu.adapter?.isFallbackAdapter ? ' (software fallback adapter)' : ''}, shader-f16 ${gpu.shaderF16 ? 'yes' : 'no'}`
    : `No WebGPU (${gpu.reason ?? 'unknown reason'}): WASM only`;
  gpuStatus.textContent = `${gpuText} · embedder on ${embedder.backend}${embedder.fallbackReason ? ` (${embedder.fallbackReason})` : ''}`;
  gpuStatus.dataset.state = gpu.available ? 'webgpu' : 'wasm';
  if (s.local.kind === 'none') return;
  try {
    const local = await api.loadLocal(proxy((p: LoadProgress) => showProgress('local', p)));
    const what =
      s.local.kind === 'transformers' && s.local.model.startsWith('edgeroute-tiny')
        ? `${local.modelId} ready (the repo's ~1M-parameter test model: it answers typed questions; recorded prompts replay Llama-3.2-1B)`
        : `${local.modelId} ready`;
    showProgress('local', { progress: 1, text: what });
  } catch (error) {
    showProgress('local', { progress: 0, text: `The local model did not load: ${errorText(error)}. Answers come from the cloud.` });
  }
}

function router(): Promise<DemoRouter> {
  current ??= start(settings);
  return current;
}

const chat = mountChat({
  router,
  bestCloud: () => best,
  localId: () => ('profileId' in settings.local ? settings.local.profileId : undefined),
  localEngine: () => ('model' in settings.local ? settings.local.model : settings.local.kind),
  maxTokens: () => settings.maxTokens,
  book: () => book,
  replayCloud: () => usesReplayCloud(settings, location.href),
});
mountLab({ router, setsUrl: assets.labSetsUrl, profileUrl: assets.profileUrl });
mountSettings(settings, {
  async apply(next, apiKey) {
    settings = next;
    saveSettings(localStorage, next);
    current = start(next, apiKey);
    chat.reset();
    await current;
  },
});
mountTabs(['chat', 'lab', 'settings']);
if (stored.problem) byId('settings-problem').textContent = stored.problem;

router().catch((error: unknown) => {
  status.textContent = `The router did not start: ${errorText(error)}. Check the settings tab.`;
  status.dataset.state = 'error';
});
