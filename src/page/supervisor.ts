/**
 * Keeps a router's worker alive across crashes. The router talks to a WorkerSupervisor (a
 * RouterWorker) instead of the worker itself; the supervisor
 * - runs each call through EdgeWorker.call, so a worker that dies mid-call (terminate(), a
 *   crash, its own close()) fails that call with 'worker-failed' instead of leaving it pending;
 * - retires a worker that died or reported 'device-lost' (its GPU state cannot come back) and
 *   starts a fresh one for the next call: configure, load the embedder, prepare the profile
 *   (from the IndexedDB cache when it is there, else computed again); with `preloadLocal`
 *   the local model starts loading in the background on every new worker (progressive start:
 *   `localReadiness()` says how far it is), else it loads on its first generation;
 * - retries once, on the fresh worker, the calls that are safe to repeat (route, λ
 *   calibration). A generation is not repeated: the router answers it from the cloud.
 * Concurrent calls share one restart; a restart that fails fails the calls waiting for it, and
 * the next call tries again.
 */
import { EdgeRouteError, errorCode, messageOf } from '../common/errors';
import { proxy } from 'comlink';
import type { ChatCompletionChunk, LocalChatRequest as ChatCompletionRequest } from '../common/openai';
import type { EdgeWorker } from './worker-client';
import type {
  EmbedderStatus,
  EmbedResult,
  GenerateResult,
  GpuProbe,
  JobProgress,
  LambdaTarget,
  LoadProgress,
  LocalEngineStatus,
  ProfileSummary,
  RouteResult,
  MeasuredProfileSummary,
} from '../worker/protocol';
import type { LocalReadiness, RouterWorker } from './router';

export interface SupervisorOptions {
  /** Starts a bare worker. */
  readonly start: () => Promise<EdgeWorker>;
  /** Makes a started worker ready to route (configure, embedder, profile); returns the profile. */
  readonly setup: (worker: EdgeWorker) => Promise<ProfileSummary>;
  /** Told after each restart (tests, logging). */
  readonly onRestart?: (event: { readonly restarts: number; readonly reason: string }) => void;
  /**
   * Starts loading the local model on a set-up worker, reporting progress; not awaited by
   * create or a restart (the cloud answers local-routed requests meanwhile).
   */
  readonly preloadLocal?: (worker: EdgeWorker, onProgress: (progress: LoadProgress) => void) => Promise<unknown>;
}

export class WorkerSupervisor implements RouterWorker {
  private worker: EdgeWorker;
  private summary: ProfileSummary;
  private restarting: Promise<{ worker: EdgeWorker; reason: string }> | undefined;
  private retiredReason = '';
  private closed = false;
  private restartCount = 0;
  /** The current worker's local model load; 'ready' when nothing preloads (it loads on first use). */
  private readiness: LocalReadiness = { state: 'ready' };

  private constructor(
    private readonly options: SupervisorOptions,
    worker: EdgeWorker,
    summary: ProfileSummary,
  ) {
    this.worker = worker;
    this.summary = summary;
    this.preload(worker);
  }

  /** Where the current worker's local model load stands. */
  localReadiness(): LocalReadiness {
    return this.readiness;
  }

  private preload(worker: EdgeWorker): void {
    const { preloadLocal } = this.options;
    if (!preloadLocal) return;
    this.readiness = { state: 'loading', progress: 0 };
    const current = (): boolean => worker === this.worker;
    preloadLocal(worker, (p) => {
      if (current() && this.readiness.state === 'loading') this.readiness = { state: 'loading', progress: Math.min(1, Math.max(0, p.progress)) };
    }).then(
      () => {
        if (current()) this.readiness = { state: 'ready' };
      },
      (error: unknown) => {
        if (current()) this.readiness = { state: 'failed', reason: messageOf(error) };
      },
    );
  }

  /** Starts and sets up the first worker; a failure there is createRouter's failure. */
  static async create(options: SupervisorOptions): Promise<WorkerSupervisor> {
    const worker = await options.start();
    try {
      return new WorkerSupervisor(options, worker, await options.setup(worker));
    } catch (error) {
      worker.terminate();
      throw error;
    }
  }

  /** The worker in use now (a new one after a restart). */
  get current(): EdgeWorker {
    return this.worker;
  }

  /** The profile as the current worker prepared it. */
  get profile(): ProfileSummary {
    return this.summary;
  }

  /** Workers started to replace one that died. */
  get restarts(): number {
    return this.restartCount;
  }

  async route(prompt: string, lambda: number, candidates?: readonly string[]): Promise<RouteResult> {
    const { value, restartedAfter } = await this.run((w) => w.call((api) => api.route(prompt, lambda, candidates)), true);
    return restartedAfter === undefined
      ? value
      : { ...value, notes: [...value.notes, `The worker had stopped (${restartedAfter}); a new one was started for this request.`] };
  }

  async calibrateLambda(target: LambdaTarget, candidates?: readonly string[]): Promise<{ lambda: number; achieved: number; feasible: boolean }> {
    return (await this.run((w) => w.call((api) => api.calibrateLambda(target, candidates)), true)).value;
  }

  /** `onChunk`: each chunk as the local model generates it (sent across as a comlink proxy). */
  async generate(request: ChatCompletionRequest, options?: { jobId?: string }, onChunk?: (chunk: ChatCompletionChunk) => void): Promise<GenerateResult> {
    return (await this.run((w) => w.call((api) => api.generate(request, options, onChunk ? proxy(onChunk) : undefined)), false)).value;
  }

  /** Loads the local model now (or waits for the load in flight), reporting its progress. */
  async loadLocal(onProgress?: (progress: LoadProgress) => void): Promise<LocalEngineStatus> {
    const status = (await this.run((w) => w.call((api) => api.loadLocal(onProgress ? proxy(onProgress) : undefined)), true)).value;
    this.readiness = { state: 'ready' };
    return status;
  }

  /** Embeds texts with the router's embedder (the same vectors routing uses). */
  async embed(texts: readonly string[], options?: { jobId?: string }): Promise<EmbedResult> {
    return (await this.run((w) => w.call((api) => api.embed(texts, options)), true)).value;
  }

  /** Runs the local model on the validation prompts, grades it, and adds it to the profile under `id`. */
  async measureLocalModel(model: { id: string }, options?: { jobId?: string }, onProgress?: (progress: JobProgress) => void): Promise<MeasuredProfileSummary> {
    const summary = (await this.run((w) => w.call((api) => api.measureLocalModel(model, options, onProgress ? proxy(onProgress) : undefined)), false)).value;
    this.summary = summary;
    return summary;
  }

  /** The embedder as loaded (backend, and why not WebGPU when it is not). */
  async embedderStatus(): Promise<EmbedderStatus> {
    return (await this.run((w) => w.call((api) => api.loadEmbedder()), true)).value;
  }

  /** WebGPU as the worker sees it, with one checked compute pass. */
  async probeGpu(): Promise<GpuProbe> {
    return (await this.run((w) => w.call((api) => api.probeGpu()), true)).value;
  }

  cancel(jobId: string): void {
    const worker = this.worker;
    if (!worker.alive) return;
    worker.call((api) => api.cancel(jobId)).catch(() => undefined);
  }

  /** Stops the worker for good; later calls fail with 'worker-failed'. */
  close(): void {
    this.closed = true;
    this.worker.terminate();
  }

  /**
   * Runs `fn` on a live worker. When the worker dies under it (or loses its GPU) and the call
   * is `repeatable`, runs it once more on a fresh worker. `restartedAfter`: why the worker this
   * call ended on replaced another, if it did.
   */
  private async run<T>(fn: (worker: EdgeWorker) => Promise<T>, repeatable: boolean): Promise<{ value: T; restartedAfter?: string }> {
    let restartedAfter: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const { worker, restartedAfter: reason } = await this.ready();
      restartedAfter ??= reason;
      try {
        const value = await fn(worker);
        return restartedAfter === undefined ? { value } : { value, restartedAfter };
      } catch (error) {
        const lostGpu = errorCode(error) === 'device-lost';
        if (lostGpu) this.retire(worker, 'its GPU device was lost');
        const gone = lostGpu || !worker.alive;
        if (!gone || !repeatable || attempt > 0 || this.closed) throw error;
      }
    }
  }

  /** Ends a worker that cannot go on; the next call starts another. */
  private retire(worker: EdgeWorker, reason: string): void {
    if (worker !== this.worker || !worker.alive) return;
    this.retiredReason = reason;
    worker.terminate();
  }

  /** The current worker if it lives, else a fresh one (one restart shared by concurrent callers). */
  private async ready(): Promise<{ worker: EdgeWorker; restartedAfter?: string }> {
    if (this.closed) throw new EdgeRouteError('worker-failed', 'This router was closed (router.close()); create a new one with createRouter.');
    if (this.worker.alive) return { worker: this.worker };
    if (!this.restarting) {
      const reason = this.retiredReason || 'it crashed, closed itself or was terminated';
      this.restarting = this.restart(reason)
        .then((worker) => ({ worker, reason }))
        .finally(() => {
          this.restarting = undefined;
        });
    }
    const { worker, reason } = await this.restarting;
    return { worker, restartedAfter: reason };
  }

  private async restart(reason: string): Promise<EdgeWorker> {
    let worker: EdgeWorker;
    try {
      worker = await this.options.start();
    } catch (cause) {
      throw new EdgeRouteError('worker-failed', `The edgeroute worker stopped (${reason}) and a new one could not start: ${messageOf(cause)}`, { cause });
    }
    try {
      const summary = await this.options.setup(worker);
      if (this.closed) throw new EdgeRouteError('worker-failed', 'This router was closed while its worker restarted.');
      this.worker = worker;
      this.summary = summary;
      this.retiredReason = '';
      this.restartCount++;
      this.preload(worker);
      this.options.onRestart?.({ restarts: this.restartCount, reason });
      return worker;
    } catch (error) {
      worker.terminate();
      if (errorCode(error) === 'worker-failed') throw error;
      throw new EdgeRouteError('worker-failed', `The edgeroute worker stopped (${reason}) and the new one could not be set up: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
}
