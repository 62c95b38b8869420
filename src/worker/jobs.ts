/**
 * The worker's running jobs: each gets an AbortController, named ones can be cancelled by id
 * from the page, and all of them can be stopped at once (a lost GPU ends every job).
 */
import { raceAbort } from '../common/abort';
import { EdgeRouteError } from '../common/errors';

export class JobRegistry {
  readonly #named = new Map<string, AbortController>();
  /** Every running job, named or not. */
  readonly #running = new Set<AbortController>();

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
    }
    this.#running.add(controller);
    try {
      return await raceAbort(work(controller.signal), controller.signal, (s) => s.reason);
    } finally {
      this.#running.delete(controller);
      if (jobId) this.#named.delete(jobId);
    }
  }

  /** Aborts the job running under `jobId`, if any, with EdgeRouteError('aborted'). */
  cancel(jobId: string): void {
    this.#named.get(jobId)?.abort(new EdgeRouteError('aborted', `job "${jobId}" was cancelled`));
  }

  /** Aborts every running job with `reason`. */
  abortAll(reason: unknown): void {
    for (const controller of this.#running) controller.abort(reason);
  }
}
