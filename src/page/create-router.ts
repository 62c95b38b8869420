/**
 * createRouter(config): the one call a web app makes. Starts the worker, loads the embedder and
 * the routing profile, connects the cloud models, and returns an EdgeRouter whose
 * `chat.completions.create` has the OpenAI shape. Configuration is checked up front.
 *
 * The worker is supervised (worker-supervisor.ts): if it crashes, closes or loses its GPU, the
 * request in flight is answered by the cloud (or fails with a typed error) and the next one
 * runs on a fresh worker set up the same way.
 */
import { proxy } from 'comlink';
import { validateCloudModelConfig, type CloudModelConfig } from './cloud/config';
import { EdgeRouteError, messageOf } from '../common/errors';
import { startEdgeWorker, type EdgeWorker, type EdgeWorkerOptions } from './worker-client';
import type {
  EmbedderConfig,
  EmbedderStatus,
  EmbedResult,
  GpuProbe,
  JobProgress,
  LambdaTarget,
  LoadProgress,
  LocalEngineConfig,
  LocalEngineStatus,
  ProfileSummary,
  MeasuredProfileSummary,
} from '../worker/protocol';
import { EdgeRouter, type LocalReadiness, type RouterMode } from './router';
import { validateValidationSet, type ValidationSet } from '../common/validation-set';
import { createOpenAIFetch, type OpenAIFetch } from './openai-fetch';
import { scriptBaseIfSet } from './script-base';
import { WorkerSupervisor } from './supervisor';

export interface RouterConfig {
  /**
   * The sentence embedder. Default: Universal Sentence Encoder lite from
   * `<runtimeBaseUrl>models/use-lite/` (what `npx edgeroute copy-assets` copies; nothing is
   * fetched from a model hub).
   */
  readonly embedder?: EmbedderConfig;
  /** The on-device model, and which model of the profile stands for it (its feature vector Ψ). */
  readonly local?: LocalEngineConfig & { readonly profileId: string };
  /** Cloud models; each `id` must be a model of the profile. */
  readonly cloud: readonly CloudModelConfig[];
  /**
   * The validation set that defines the routing profile, or the URL of its JSON. Default:
   * `<runtimeBaseUrl>profiles/default-validation.json`, the profile the package ships.
   */
  readonly profile?: ValidationSet | string;
  readonly mode?: RouterMode;
  readonly lambda?: number | LambdaTarget;
  readonly confidenceThreshold?: number;
  readonly worker?: EdgeWorkerOptions;
  /**
   * Where `npx edgeroute copy-assets <dir>` put its files, as served (e.g. '/edgeroute/'): the
   * worker finds ort/ and tfjs/ there, and the default embedder and profile come from it.
   * Default: beside the worker script for ort/ and tfjs/, and beside the <script> tag's file
   * for the defaults (an ESM import that relies on the defaults must set it).
   */
  readonly runtimeBaseUrl?: string;
  /**
   * Each long start-up step as it goes: 'embedder' (loading it), 'profile' (embedding the
   * validation prompts, skipped when IndexedDB has the profile), 'local' (the local model's
   * download and load).
   */
  readonly onProgress?: (progress: StartProgress) => void;
  /**
   * Progressive start (default true): createRouter resolves once routing is ready and the local
   * model loads in the background; until it is ready the cloud answers the prompts routed to it
   * (each report's notes say so). False: the first local request waits for the whole load.
   * Offline (navigator.onLine false) and in 'local-only' mode requests always wait for it.
   */
  readonly progressiveStart?: boolean;
}

/** One progress event of a start-up step; `progress` in [0, 1]. */
export interface StartProgress extends LoadProgress {
  readonly stage: 'embedder' | 'profile' | 'local';
}

/** The worker as a router's user sees it: whether it lives, and a way to stop it (tests, teardown). */
export interface WorkerHandle {
  readonly alive: boolean;
  terminate(): void;
}

export interface Router {
  readonly chat: EdgeRouter['chat'];
  /**
   * A fetch for OpenAI-SDK clients: `new OpenAI({ baseURL: '/v1', apiKey: 'unused', fetch: router.fetch,
   * dangerouslyAllowBrowser: true })` routes every chat completion through this router.
   */
  readonly fetch: OpenAIFetch;
  /** The λ in use (after calibration, when a target was given). */
  lambda(): Promise<number>;
  /** Re-calibrates λ to a new target (a cloud-call share, a budget per 1,000 prompts, or a quality floor). */
  setTarget(target: number | LambdaTarget): Promise<number>;
  /** Whether the local model is loaded yet (progressive start), or how far its load is. */
  localReadiness(): LocalReadiness;
  /**
   * Loads the local model now, or waits for the load in flight (progressive start), reporting
   * its progress; resolves with what loaded (backend, and why not WebGPU when it is not).
   */
  loadLocal(onProgress?: (progress: LoadProgress) => void): Promise<LocalEngineStatus>;
  /** Embeds texts with the router's embedder, the vectors routing uses. */
  embed(texts: readonly string[]): Promise<EmbedResult>;
  /**
   * Runs the local model on the validation prompts, grades it, records its confidences, and adds
   * it to the profile under `id`; `measured` is what to ship with the profile (withCalibratedModel).
   */
  measureLocalModel(model: { id: string }, onProgress?: (progress: JobProgress) => void): Promise<MeasuredProfileSummary>;
  /** WebGPU as the worker sees it (adapter, features, one checked compute pass). */
  probeGpu(): Promise<GpuProbe>;
  /** The embedder as loaded: its id, dimension, backend, and why not WebGPU when it is not. */
  embedderStatus(): Promise<EmbedderStatus>;
  /** The worker in use now (after a crash, the one started to replace it): alive, and terminate(). */
  readonly worker: WorkerHandle;
  /** The routing profile as the current worker prepared it. */
  readonly profile: ProfileSummary;
  /** How many times the worker was replaced after it crashed, closed or lost its GPU. */
  readonly workerRestarts: number;
  close(): void;
}

async function loadProfile(source: ValidationSet | string): Promise<ValidationSet> {
  if (typeof source !== 'string') return validateValidationSet(source);
  let response: Response;
  try {
    response = await fetch(source);
  } catch (cause) {
    throw new EdgeRouteError('invalid-config', `Could not fetch the routing profile from ${source}: ${String(cause)}`, { cause });
  }
  if (!response.ok)
    throw new EdgeRouteError('invalid-config', `The routing profile at ${source} answered HTTP ${response.status}; serve the validation-set JSON there.`);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Typically a dev server's index.html fallback for a path that does not exist.
    const type = response.headers.get('content-type') ?? 'no content type';
    throw new EdgeRouteError(
      'invalid-config',
      `The routing profile at ${source} is not JSON (${type}; it starts with ${JSON.stringify(text.slice(0, 40))}). `
        + 'Serve the validation-set JSON at that URL (npx edgeroute copy-assets copies the default one).',
    );
  }
  return validateValidationSet(json);
}

/** Checks the parts of the configuration that need no network, with messages that say what to fix. */
export function checkRouterConfig(config: RouterConfig, set: ValidationSet): void {
  const known = set.models.map((m) => m.id);
  const ids = new Set<string>();
  for (const model of config.cloud) {
    validateCloudModelConfig(model);
    if (!known.includes(model.id)) {
      throw new EdgeRouteError(
        'invalid-config',
        `cloud model "${model.id}" is not in the routing profile "${set.name}"; known models: ${known.join(', ')}. Measure it first (npm run calibrate) and add it to the profile.`,
      );
    }
    if (ids.has(model.id)) throw new EdgeRouteError('invalid-config', `cloud model "${model.id}" is configured twice`);
    ids.add(model.id);
  }
  if (config.local && !known.includes(config.local.profileId)) {
    throw new EdgeRouteError(
      'invalid-config',
      `local.profileId "${config.local.profileId}" is not in the routing profile "${set.name}"; known models: ${known.join(', ')}.`,
    );
  }
  if (config.local?.kind === 'web-llm' && !config.local.appConfig && config.local.allowRemoteModels !== true) {
    throw new EdgeRouteError(
      'invalid-config',
      `local web-llm model "${config.local.model}" has no appConfig, so web-llm would download it from the Hugging Face hub. `
        + 'Pass appConfig with the URLs of self-hosted MLC weights, or allowRemoteModels: true to allow that download.',
    );
  }
  if (config.confidenceThreshold !== undefined && !Number.isFinite(config.confidenceThreshold)) {
    throw new EdgeRouteError('invalid-config', `confidenceThreshold must be a finite number, got ${config.confidenceThreshold}`);
  }
}

/**
 * The base URL of the copied assets: runtimeBaseUrl (resolved against the page), else the
 * <script> tag's folder; undefined for an ESM import without runtimeBaseUrl.
 */
function assetsBase(config: RouterConfig): string | undefined {
  const page = typeof location !== 'undefined' ? location.href : undefined;
  if (config.runtimeBaseUrl !== undefined) return new URL(config.runtimeBaseUrl, page).href;
  const script = scriptBaseIfSet();
  return script === undefined ? undefined : new URL('./', script).href;
}

/** The shipped default for `what`, under the assets' base; a clear error when there is no base. */
function shippedAsset(base: string | undefined, path: string, what: string): string {
  if (base === undefined) {
    throw new EdgeRouteError(
      'invalid-config',
      `createRouter has no ${what} configured and no runtimeBaseUrl to find the shipped one: run \`npx edgeroute copy-assets public/edgeroute\` `
        + `and pass runtimeBaseUrl: '/edgeroute/' (or configure ${what} yourself).`,
    );
  }
  return new URL(path, base).href;
}

export async function createRouter(config: RouterConfig): Promise<Router> {
  if (!config || typeof config !== 'object') throw new EdgeRouteError('invalid-config', 'createRouter needs a configuration object.');
  if (!Array.isArray(config.cloud))
    throw new EdgeRouteError('invalid-config', 'config.cloud must be an array of cloud models (it may be empty with mode "local-only").');
  // The cloud transport (retries, streaming, provider errors) is the largest part of the page
  // code; it loads while the profile and the worker do, not with the entry module.
  const cloudTransport = import('./cloud/transport').catch((error: unknown) => {
    throw new EdgeRouteError(
      'invalid-config',
      `edgeroute could not load its cloud client module (${messageOf(error)}); serve every file of edgeroute's build, not only the entry.`,
      { cause: error },
    );
  });
  cloudTransport.catch(() => undefined); // awaited below; not unhandled if setup fails first
  const base = assetsBase(config);
  const set = await loadProfile(config.profile ?? shippedAsset(base, 'profiles/default-validation.json', 'profile'));
  checkRouterConfig(config, set);
  const embedder: EmbedderConfig = config.embedder ?? {
    kind: 'use',
    modelUrl: shippedAsset(base, 'models/use-lite/model.json', 'embedder'),
    vocabUrl: shippedAsset(base, 'models/use-lite/vocab.json', 'embedder'),
  };

  const { profileId: _profileId, ...local } = config.local ?? { profileId: '' };
  const workerConfig = {
    embedder,
    ...(config.local ? { local: local as LocalEngineConfig } : {}),
    ...(config.runtimeBaseUrl ? { runtimeBaseUrl: config.runtimeBaseUrl } : {}),
  };
  const report = config.onProgress;
  let first = true;
  let firstLocal = true;
  const preload = config.local !== undefined && config.progressiveStart !== false && config.mode !== 'cloud-only';
  const supervisor = await WorkerSupervisor.create({
    start: () => startEdgeWorker(config.worker ?? {}),
    // The same steps for the first worker and for any that replaces it; progress is reported
    // for the first load only (a restart happens behind a request, not in front of the user).
    setup: async (worker) => {
      const progress = first && report;
      first = false;
      await worker.api.configure(workerConfig);
      await worker.api.loadEmbedder(progress ? proxy((p: LoadProgress) => progress({ ...p, stage: 'embedder' })) : undefined);
      const onProfile = progress ? proxy((p: JobProgress) => progress(profileProgress(p))) : undefined;
      return worker.api.prepareProfile(set, {}, onProfile);
    },
    ...(preload
      ? {
          preloadLocal: (worker: EdgeWorker, onProgress: (p: LoadProgress) => void) => {
            const progress = firstLocal && report;
            firstLocal = false;
            return worker.call((api) =>
              api.loadLocal(
                proxy((p: LoadProgress) => {
                  onProgress(p);
                  if (progress) progress({ ...p, stage: 'local' });
                }),
              ),
            );
          },
        }
      : {}),
  });
  try {
    const { CloudClient } = await cloudTransport;
    const costs = new Map(set.models.map((m) => [m.id, m.cost]));
    const router = new EdgeRouter({
      worker: supervisor,
      cloud: new CloudClient({ models: config.cloud }),
      ...(config.local ? { localModel: config.local.profileId } : {}),
      cloudModels: config.cloud.map((m) => ({ id: m.id, cost: costs.get(m.id) ?? 0 })),
      // Without a local model the only mode that can run is cloud-only (routing among the cloud models).
      ...(config.mode ? { mode: config.mode } : config.local ? {} : { mode: 'cloud-only' as const }),
      ...(config.lambda !== undefined ? { lambda: config.lambda } : {}),
      ...(config.confidenceThreshold !== undefined ? { confidenceThreshold: config.confidenceThreshold } : {}),
    });
    await router.lambda();
    return {
      chat: router.chat,
      fetch: createOpenAIFetch(router),
      lambda: () => router.lambda(),
      setTarget: (target) => router.setTarget(target),
      localReadiness: () => supervisor.localReadiness(),
      loadLocal: (onProgress) => supervisor.loadLocal(onProgress),
      embed: (texts) => supervisor.embed(texts),
      measureLocalModel: (model, onProgress) => supervisor.measureLocalModel(model, {}, onProgress),
      probeGpu: () => supervisor.probeGpu(),
      embedderStatus: () => supervisor.embedderStatus(),
      get worker(): WorkerHandle {
        const current = supervisor.current;
        return { alive: current.alive, terminate: () => current.terminate() };
      },
      get profile() {
        return supervisor.profile;
      },
      get workerRestarts() {
        return supervisor.restarts;
      },
      close: () => supervisor.close(),
    };
  } catch (error) {
    supervisor.close();
    throw error;
  }
}

/** The worker's count of embedded validation prompts as a start-up progress event. */
function profileProgress(p: JobProgress): StartProgress {
  return {
    stage: 'profile',
    progress: p.total > 0 ? Math.min(1, p.done / p.total) : 1,
    text: `${p.text ?? 'profile'}: ${p.done} / ${p.total}`,
  };
}
