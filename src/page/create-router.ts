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
import { CloudClient, validateCloudModelConfig, type CloudModelConfig } from './cloud-client';
import { EdgeRouteError } from '../common/errors';
import type { LoadProgress } from '../worker/engines/local-engine';
import { startEdgeWorker, type EdgeWorker, type EdgeWorkerOptions } from './worker-client';
import type { EmbedderConfig, LambdaTarget, LocalEngineConfig, ProfileSummary } from '../worker/protocol';
import { EdgeRouter, type RouterMode } from './router';
import { validateValidationSet, type ValidationSet } from '../common/validation-set';
import { WorkerSupervisor } from './supervisor';

export interface RouterConfig {
  readonly embedder: EmbedderConfig;
  /** The on-device model, and which model of the profile stands for it (its feature vector Ψ). */
  readonly local?: LocalEngineConfig & { readonly profileId: string };
  /** Cloud models; each `id` must be a model of the profile. */
  readonly cloud: readonly CloudModelConfig[];
  /** The validation set that defines the routing profile, or the URL of its JSON. */
  readonly profile: ValidationSet | string;
  readonly mode?: RouterMode;
  readonly lambda?: number | LambdaTarget;
  readonly confidenceThreshold?: number;
  readonly worker?: EdgeWorkerOptions;
  /** Where the worker finds ort/ and tfjs/ (default: beside the worker script). */
  readonly runtimeBaseUrl?: string;
  readonly onProgress?: (progress: LoadProgress & { readonly stage: 'embedder' | 'profile' | 'local' }) => void;
}

export interface Router extends EdgeRouter {
  /** The worker in use now: after a crash, the one started to replace it. */
  readonly worker: EdgeWorker;
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
  if (!response.ok) throw new EdgeRouteError('invalid-config', `The routing profile at ${source} answered HTTP ${response.status}; serve the validation-set JSON there.`);
  return validateValidationSet(await response.json());
}

/** Checks the parts of the configuration that need no network, with messages that say what to fix. */
export function checkRouterConfig(config: RouterConfig, set: ValidationSet): void {
  const known = set.models.map((m) => m.id);
  const ids = new Set<string>();
  for (const model of config.cloud) {
    validateCloudModelConfig(model);
    if (!known.includes(model.id)) {
      throw new EdgeRouteError('invalid-config', `cloud model "${model.id}" is not in the routing profile "${set.name}"; known models: ${known.join(', ')}. Measure it first (npm run calibrate) and add it to the profile.`);
    }
    if (ids.has(model.id)) throw new EdgeRouteError('invalid-config', `cloud model "${model.id}" is configured twice`);
    ids.add(model.id);
  }
  if (config.local && !known.includes(config.local.profileId)) {
    throw new EdgeRouteError('invalid-config', `local.profileId "${config.local.profileId}" is not in the routing profile "${set.name}"; known models: ${known.join(', ')}.`);
  }
  if (config.confidenceThreshold !== undefined && !Number.isFinite(config.confidenceThreshold)) {
    throw new EdgeRouteError('invalid-config', `confidenceThreshold must be a finite number, got ${config.confidenceThreshold}`);
  }
}

export async function createRouter(config: RouterConfig): Promise<Router> {
  if (!config || typeof config !== 'object') throw new EdgeRouteError('invalid-config', 'createRouter needs a configuration object.');
  if (!Array.isArray(config.cloud)) throw new EdgeRouteError('invalid-config', 'config.cloud must be an array of cloud models (it may be empty with mode "local-only").');
  const set = await loadProfile(config.profile);
  checkRouterConfig(config, set);

  const { profileId: _profileId, ...local } = config.local ?? { profileId: '' };
  const workerConfig = {
    embedder: config.embedder,
    ...(config.local ? { local: local as LocalEngineConfig } : {}),
    ...(config.runtimeBaseUrl ? { runtimeBaseUrl: config.runtimeBaseUrl } : {}),
  };
  const report = config.onProgress;
  let first = true;
  const supervisor = await WorkerSupervisor.create({
    start: () => startEdgeWorker(config.worker ?? {}),
    // The same steps for the first worker and for any that replaces it; progress is reported
    // for the first load only (a restart happens behind a request, not in front of the user).
    setup: async (worker) => {
      const progress = first && report;
      first = false;
      await worker.api.configure(workerConfig);
      await worker.api.loadEmbedder(progress ? proxyProgress((p) => progress({ ...p, stage: 'embedder' })) : undefined);
      return worker.api.prepareProfile(set);
    },
  });
  try {
    const costs = new Map(set.models.map((m) => [m.id, m.cost]));
    const router = new EdgeRouter({
      worker: supervisor,
      cloud: new CloudClient({ models: config.cloud }),
      ...(config.local ? { localModel: config.local.profileId } : {}),
      cloudModels: config.cloud.map((m) => ({ id: m.id, cost: costs.get(m.id) ?? 0 })),
      ...(config.mode ? { mode: config.mode } : {}),
      ...(config.lambda !== undefined ? { lambda: config.lambda } : {}),
      ...(config.confidenceThreshold !== undefined ? { confidenceThreshold: config.confidenceThreshold } : {}),
    });
    await router.lambda();
    Object.defineProperties(router, {
      worker: { get: () => supervisor.current, enumerable: true },
      profile: { get: () => supervisor.profile, enumerable: true },
      workerRestarts: { get: () => supervisor.restarts, enumerable: true },
      close: { value: () => supervisor.close(), enumerable: true },
    });
    return router as Router;
  } catch (error) {
    supervisor.close();
    throw error;
  }
}

/** Callbacks cross the worker boundary as comlink proxies. */
function proxyProgress(fn: (p: LoadProgress) => void): (p: LoadProgress) => void {
  return proxy(fn);
}
