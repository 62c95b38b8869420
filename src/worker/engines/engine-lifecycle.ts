/**
 * The load/unload lifecycle every LocalEngine shares (transformers.js, web-llm, Prompt API):
 * the status, one load at a time with progress (a second load() while loading shares the first
 * one's promise, a load() when ready resolves at once), unload() cutting off work started
 * before it, and typed errors. An engine supplies only what loading means for it and how its
 * errors map to EdgeRouteErrors.
 */
import { EdgeRouteError } from '../../common/errors';
import { engineStatus, type LoadOptions, type LoadProgress, type LocalEngineCapabilities, type LocalEngineState, type LocalEngineStatus } from './local-engine';

/** What one load sees of the lifecycle. */
export interface LoadRun {
  /** The unload generation this load started in (see EngineLifecycle.isCurrent). */
  readonly epoch: number;
  /** Records `p` as the status's progress and passes it on; a throwing callback is ignored. */
  report(p: LoadProgress): void;
  /** True once unload() has run since this load started. */
  readonly cutOff: boolean;
}

export class EngineLifecycle {
  readonly #capabilities: LocalEngineCapabilities;
  #state: LocalEngineState = 'unloaded';
  #progress: LoadProgress | undefined;
  #error: EdgeRouteError | undefined;
  #loading: Promise<void> | undefined;
  /** Bumped by unload(), so work started before it can tell it was cut off. */
  #epoch = 0;

  constructor(capabilities: LocalEngineCapabilities) {
    this.#capabilities = capabilities;
  }

  get state(): LocalEngineState {
    return this.#state;
  }

  /** Why the engine is 'failed' (or why the last load failed). */
  get error(): EdgeRouteError | undefined {
    return this.#error;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** False once unload() has run since `epoch` was read. */
  isCurrent(epoch: number): boolean {
    return this.#epoch === epoch;
  }

  status(modelId: string): LocalEngineStatus {
    return engineStatus(this.#state, modelId, this.#capabilities, this.#progress, this.#error);
  }

  /**
   * Idempotent: resolves at once when ready; a second call while loading shares the first.
   * `run` does the engine's loading; anything it throws goes through `mapError`. A load that
   * failed leaves the engine 'failed' with the error in its status; an aborted one (code
   * 'aborted') leaves it 'unloaded'. A load cut off by unload() changes nothing afterwards.
   * A run that ends after an unload() without noticing rejects with 'aborted' (`what` names it).
   */
  load(options: LoadOptions, what: string, run: (load: LoadRun) => Promise<void>, mapError: (error: unknown) => EdgeRouteError): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#loading) return this.#loading;
    const loading = this.#load(options, what, run, mapError).finally(() => {
      if (this.#loading === loading) this.#loading = undefined;
    });
    this.#loading = loading;
    return loading;
  }

  async #load({ onProgress }: LoadOptions, what: string, run: (load: LoadRun) => Promise<void>, mapError: (error: unknown) => EdgeRouteError): Promise<void> {
    const epoch = this.#epoch;
    this.#state = 'loading';
    this.#error = undefined;
    this.#progress = undefined;
    const lifecycle = this;
    const context: LoadRun = {
      epoch,
      report: (p) => {
        if (this.#epoch !== epoch) return;
        this.#progress = p;
        try {
          onProgress?.(p);
        } catch {
          /* a throwing UI callback must not break the load */
        }
      },
      get cutOff() {
        return !lifecycle.isCurrent(epoch);
      },
    };
    try {
      await run(context);
      if (this.#epoch !== epoch) throw new EdgeRouteError('aborted', `${what} was cut off by unload().`);
      this.#state = 'ready';
    } catch (error) {
      const mapped = mapError(error);
      if (this.#epoch === epoch) {
        this.#state = mapped.code === 'aborted' ? 'unloaded' : 'failed';
        this.#error = mapped.code === 'aborted' ? undefined : mapped;
      }
      throw mapped;
    }
  }

  /** Marks the engine unloaded and cuts off work started before (the engine frees its model). */
  unload(): void {
    this.#epoch++;
    this.#state = 'unloaded';
    this.#progress = undefined;
    this.#error = undefined;
  }

  /** The engine broke after loading (a lost GPU device): 'failed' until load() again. */
  fail(error: EdgeRouteError): void {
    this.#state = 'failed';
    this.#error = error;
  }

  /** Throws unless ready: names the engine, its state, and the last load failure. */
  requireReady(engineId: string): void {
    if (this.#state === 'ready') return;
    throw new EdgeRouteError(
      'local-engine-failed',
      `${engineId} is not loaded (state: ${this.#state}); call load() and wait for it before chat().`
        + (this.#error ? ` Last load failed: ${this.#error.message}` : ''),
    );
  }
}
