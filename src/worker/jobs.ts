/**
 * The worker's running jobs: each gets an AbortController, named ones can be cancelled by id
 * from the page, and all of them can be stopped at once (a lost GPU ends every job).
 */
import { raceAbort } from '../common/abort';
import { EdgeRouteError } from '../common/errors';

/** Early cancels remembered at most (a page cancels its own job ids, each once). */
const MAX_EARLY_CANCELS = 256;

function cancelledError(jobId: string): EdgeRouteError {
  return new EdgeRouteError('aborted', `job "${jobId}" was cancelled`);
}

export class JobRegistry {
  readonly #named = new Map<string, AbortController>();
  /** Every running job, named or not. */
  readonly #running = new Set<AbortController>();
  /**
   * Ids cancelled before their job started: the page cancels as soon as its caller aborts,
   * which can be before the worker reaches run() (a generation waits for the model's load).
   * Kept few, oldest dropped first.
   */
  readonly #cancelledEarly = new Set<string>();

  /** Jobs running now (named or not). */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Runs `work` with an AbortSignal registered under `jobId` (when given, non-empty), so cancel(jobId) can
   * stop it. Rejects with the abort reason as soon as the job is stopped: an engine stuck in a
   * GPU or WASM call cannot hold a cancelled job.
   */
  async run<T>(jobId: string | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    if (jobId) {
      if (this.#named.has(jobId)) throw new EdgeRouteError('invalid-input', `job id "${jobId}" is already running`);
      this.#named.set(jobId, controller);
      if (this.#cancelledEarly.delete(jobId)) controller.abort(cancelledError(jobId));
    }
    this.#running.add(controller);
    try {
      return await raceAbort(work(controller.signal), controller.signal, (s) => s.reason);
    } finally {
      this.#running.delete(controller);
      if (jobId) this.#named.delete(jobId);
    }
  }

  /** Aborts the job running under `jobId` with EdgeRouteError('aborted'), or the one that starts under it next. */
  cancel(jobId: string): void {
    const running = this.#named.get(jobId);
    if (running) {
      running.abort(cancelledError(jobId));
      return;
    }
    this.#cancelledEarly.add(jobId);
    if (this.#cancelledEarly.size > MAX_EARLY_CANCELS) this.#cancelledEarly.delete(this.#cancelledEarly.values().next().value!);
  }

  /** Aborts every running job with `reason`. */
  abortAll(reason: unknown): void {
    for (const controller of this.#running) controller.abort(reason);
  }
}
