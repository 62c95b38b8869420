/**
 * The demo's router: createRouter's steps (src/page/create-router.ts) with two things a demo
 * needs and an app does not, both outside the library:
 * - the cloud client gets a `fetch` (the in-page replay cloud on static hosts);
 * - for a recorded prompt the local side returns what Llama-3.2-1B really answered in the
 *   cascade sets, with its real confidence, instead of running the repo's tiny test model. The
 *   routing (embedding, UniRoute's decision, the escalation rule) runs for real on top.
 * Before the worker starts, the shipped profile cache is written to IndexedDB (profile-seed.ts),
 * so a first visit embeds no validation prompt.
 */
import { proxy } from 'comlink';
import { type ChatCompletionRequest, checkRouterConfig, EdgeRouteError, type LoadProgress, type RouterConfig, type ValidationSet } from 'edgeroute';
import { CloudClient, EdgeRouter, type EdgeWorker, type RouterWorker, startEdgeWorker, WorkerSupervisor } from 'edgeroute/advanced';
import type { EmbedResult, GenerateResult, LocalEngineConfig, ProfileSummary } from '../src/worker/protocol';
import type { DemoExample } from './examples';

export type Stage = 'embedder' | 'profile' | 'local';

export interface DemoRouterOptions {
  /** createRouter's configuration, with the profile already loaded. */
  readonly config: RouterConfig & { readonly profile: ValidationSet };
  readonly cloudFetch?: typeof fetch;
  /** The recorded item for a prompt, when the local side should replay it. */
  readonly recorded?: (prompt: string) => DemoExample | undefined;
  /** Delay of a replayed local answer, ms (default 250: a 1B model answering one letter). */
  readonly replayDelayMs?: number;
  readonly onProgress?: (p: LoadProgress & { readonly stage: Stage }) => void;
}

export interface DemoRouter {
  readonly router: EdgeRouter;
  readonly worker: EdgeWorker;
  readonly profile: ProfileSummary;
  /** Completion ids of local answers that were replayed recordings. */
  readonly replayedIds: ReadonlySet<string>;
  /** The router's embedder on texts (the lab embeds its sets with it). */
  embed(texts: readonly string[]): Promise<EmbedResult>;
  close(): void;
}

/** Profile id of the model whose recorded answers the local side replays. */
export const RECORDED_LOCAL_ID = 'llama3.2-1b';

function lastUserText(request: ChatCompletionRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new EdgeRouteError('aborted', 'the request was aborted by the caller'));
      },
      { once: true },
    );
  });
}

export async function startDemoRouter(options: DemoRouterOptions): Promise<DemoRouter> {
  const { config } = options;
  const set = config.profile;
  checkRouterConfig(config, set);
  const { profileId: _profileId, ...local } = config.local ?? { profileId: '' };
  if (!config.embedder) throw new Error('The demo names its embedder in its settings.');
  const workerConfig = {
    embedder: config.embedder,
    ...(config.local ? { local: local as LocalEngineConfig } : {}),
    ...(config.runtimeBaseUrl ? { runtimeBaseUrl: config.runtimeBaseUrl } : {}),
  };
  const report = options.onProgress;
  let first = true;
  const supervisor = await WorkerSupervisor.create({
    start: () => startEdgeWorker(config.worker ?? {}),
    setup: async (worker) => {
      const progress = first ? report : undefined;
      first = false;
      await worker.api.configure(workerConfig);
      await worker.api.loadEmbedder(progress ? proxy((p: LoadProgress) => progress({ ...p, stage: 'embedder' })) : undefined);
      return worker.api.prepareProfile(
        set,
        {},
        progress
          ? proxy((p: { done: number; total: number; text?: string }) =>
              progress({ progress: p.total > 0 ? p.done / p.total : 0, text: p.text ?? '', stage: 'profile' } as LoadProgress & { stage: Stage }),
            )
          : undefined,
      );
    },
  });

  const replayedIds = new Set<string>();
  const replays = new Map<string, AbortController>();
  const localId = config.local?.profileId;
  const recordedKind = set.models.find((m) => m.id === RECORDED_LOCAL_ID)?.confidenceKind ?? 'answer-logprob';
  let counter = 0;
  const worker: RouterWorker = {
    route: (prompt, lambda, candidates) => supervisor.route(prompt, lambda, candidates),
    calibrateLambda: (target, candidates) => supervisor.calibrateLambda(target, candidates),
    cancel: (jobId) => {
      replays.get(jobId)?.abort();
      supervisor.cancel(jobId);
    },
    async generate(request, generateOptions): Promise<GenerateResult> {
      const item = localId === RECORDED_LOCAL_ID ? options.recorded?.(lastUserText(request)) : undefined;
      const answer = item?.responses[RECORDED_LOCAL_ID];
      if (!item || answer === undefined) return supervisor.generate(request, generateOptions);
      const started = performance.now();
      const abort = new AbortController();
      const jobId = generateOptions?.jobId ?? `replay-${++counter}`;
      replays.set(jobId, abort);
      try {
        await wait(options.replayDelayMs ?? 250, abort.signal);
      } finally {
        replays.delete(jobId);
      }
      const id = `recorded-${++counter}`;
      replayedIds.add(id);
      return {
        completion: {
          id,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: RECORDED_LOCAL_ID,
          choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop', logprobs: null }],
        },
        // The log-probability of the answer letter as the cascade sets recorded it: the kind the
        // profile's recorded confidences are, so its escalation rule (fitted on them) applies.
        confidence: { score: item.localConfidence, method: recordedKind },
        millis: performance.now() - started,
      };
    },
  };

  try {
    const costs = new Map(set.models.map((m) => [m.id, m.cost]));
    const router = new EdgeRouter({
      worker,
      cloud: new CloudClient({ models: config.cloud, ...(options.cloudFetch ? { fetch: options.cloudFetch } : {}) }),
      ...(localId ? { localModel: localId } : {}),
      cloudModels: config.cloud.map((m) => ({ id: m.id, cost: costs.get(m.id) ?? 0 })),
      ...(config.mode ? { mode: config.mode } : {}),
      ...(config.lambda !== undefined ? { lambda: config.lambda } : {}),
      ...(config.confidenceThreshold !== undefined ? { confidenceThreshold: config.confidenceThreshold } : {}),
    });
    await router.lambda();
    return {
      router,
      get worker() {
        return supervisor.current;
      },
      get profile() {
        return supervisor.profile;
      },
      replayedIds,
      embed: (texts) => supervisor.embed(texts),
      close: () => supervisor.close(),
    };
  } catch (error) {
    supervisor.close();
    throw error;
  }
}
