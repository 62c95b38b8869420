/**
 * The demo page: chat, routing lab and settings around one router. The router is rebuilt when
 * settings are applied; model downloads report progress into the header, with the WebGPU / WASM
 * status of the worker beside them.
 */
import type { LoadProgress } from '../src/worker/engines/local-engine';
import { createRouter, type Router } from '../src/page/create-router';
import { mountChat } from './chat';
import { byId, errorText } from './dom';
import { mountLab } from './lab';
import { bestCloudModel } from './savings';
import { mountSettings } from './settings-form';
import { assetsFor, loadSettings, saveSettings, toRouterConfig, type DemoCloudModel, type DemoSettings } from './settings';

type Stage = 'embedder' | 'profile' | 'local';

function showProgress(stage: Stage, p: { progress: number; text: string }): void {
  const row = document.getElementById(`progress-${stage}`);
  if (!row) return;
  row.hidden = false;
  row.querySelector('progress')!.value = Math.max(0, Math.min(1, p.progress));
  row.querySelector('span')!.textContent = p.text;
}

const status = byId('router-status');
const gpuStatus = byId('gpu-status');
const stored = loadSettings(localStorage);
let settings: DemoSettings = stored.settings;
let current: Promise<Router> | undefined;
let best: DemoCloudModel | undefined;

async function start(next: DemoSettings, apiKey?: string): Promise<Router> {
  const previous = current;
  current = undefined;
  if (previous) await previous.then((r) => r.close(), () => undefined);
  status.textContent = 'Starting the router: loading the embedder and the routing profile…';
  status.dataset.state = 'loading';
  const config = toRouterConfig(next, assetsFor(location.href), apiKey);
  const router = await createRouter({
    ...config,
    onProgress: (p: LoadProgress & { stage: Stage }) => showProgress(p.stage, p),
  });
  showProgress('embedder', { progress: 1, text: 'ready' });
  best = bestCloudModel(next.cloudModels, router.profile.models);
  const p = router.profile;
  status.textContent = `Router ready (${next.mode}): profile "${p.validationSet}" (${p.prompts} prompts, K=${p.clusters}, ${p.source === 'hit' ? 'from IndexedDB' : 'computed now'}), embedder ${p.embedderId}.`;
  status.dataset.state = 'ready';
  void describeDevice(router, next);
  return router;
}

/** WebGPU / WASM status, and the local model's download with its progress bar. */
async function describeDevice(router: Router, s: DemoSettings): Promise<void> {
  const [gpu, embedder] = await Promise.all([router.probeGpu(), router.embedderStatus()]);
  const gpuText = gpu.available
    ? `WebGPU: ${gpu.adapter?.vendor || 'unknown vendor'} ${gpu.adapter?.architecture ?? ''}${gpu.adapter?.isFallbackAdapter ? ' (software fallback adapter)' : ''}, shader-f16 ${gpu.shaderF16 ? 'yes' : 'no'}`
    : `No WebGPU (${gpu.reason ?? 'unknown reason'}): WASM only`;
  gpuStatus.textContent = `${gpuText} · embedder on ${embedder.backend}${embedder.fallbackReason ? ` (${embedder.fallbackReason})` : ''}`;
  gpuStatus.dataset.state = gpu.available ? 'webgpu' : 'wasm';
  if (s.local.kind === 'none') return;
  try {
    const local = await router.loadLocal((p: LoadProgress) => showProgress('local', p));
    showProgress('local', { progress: 1, text: `${local.modelId} ready` });
  } catch (error) {
    showProgress('local', { progress: 0, text: `The local model did not load: ${errorText(error)}. Answers come from the cloud.` });
  }
}

function router(): Promise<Router> {
  current ??= start(settings);
  return current;
}

function showTab(name: string): void {
  for (const tab of ['chat', 'lab', 'settings']) {
    byId(`tab-${tab}`).hidden = tab !== name;
    byId(`nav-${tab}`).setAttribute('aria-selected', String(tab === name));
  }
}

const chat = mountChat({ router, bestCloud: () => best, localId: () => ('profileId' in settings.local ? settings.local.profileId : undefined),
  maxTokens: () => settings.maxTokens,
});
mountLab({ router });
mountSettings(settings, {
  async apply(next, apiKey) {
    settings = next;
    saveSettings(localStorage, next);
    current = start(next, apiKey);
    chat.reset();
    await current;
  },
});
for (const tab of ['chat', 'lab', 'settings']) byId(`nav-${tab}`).addEventListener('click', () => { location.hash = tab; });
window.addEventListener('hashchange', () => showTab(location.hash.slice(1) || 'chat'));
showTab(['chat', 'lab', 'settings'].includes(location.hash.slice(1)) ? location.hash.slice(1) : 'chat');
if (stored.problem) byId('settings-problem').textContent = stored.problem;

router().catch((error: unknown) => {
  status.textContent = `The router did not start: ${errorText(error)}. Check the settings tab.`;
  status.dataset.state = 'error';
});
