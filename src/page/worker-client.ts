/**
 * Starting the edgeroute worker from the page and talking to it through comlink.
 *
 * A worker can go away under the page: terminate(), a crash, or its own close(). comlink then
 * never settles the calls in flight, so the page could wait forever. Each EdgeWorker therefore
 * knows when its worker is gone (`exited`): terminate() says so at once, and a worker that
 * stops by itself is noticed through a Web Lock it holds for its whole life (the browser
 * releases it when the worker's global is destroyed, however that happens; no polling, and a
 * busy worker is never mistaken for a dead one). `call()` rejects with 'worker-failed' when the
 * worker exits before answering.
 */
import { wrap, releaseProxy, type Remote } from 'comlink';
import { EdgeRouteError } from '../common/errors';
import { getScriptBase } from './script-base';
import { WORKER_PROTOCOL_VERSION, type EdgeWorkerApi } from '../worker/protocol';
import { installErrorTransfer } from '../worker/protocol-errors';

export interface EdgeWorkerOptions {
  /**
   * Where the worker script lives, when the default cannot be found (a CDN copy, a custom
   * path). By default the worker file shipped beside edgeroute is used, written so that Vite
   * and webpack bundle it as a worker asset.
   */
  readonly workerUrl?: string | URL;
}

/** Why a worker is gone. */
export interface WorkerExit {
  /** 'terminated': terminate() was called; 'lost': it crashed or closed itself. */
  readonly reason: 'terminated' | 'lost';
  readonly message: string;
}

export interface EdgeWorker {
  readonly api: Remote<EdgeWorkerApi>;
  /** Settles (never rejects) when the worker is gone. */
  readonly exited: Promise<WorkerExit>;
  /** False once the worker is known to be gone. */
  readonly alive: boolean;
  /**
   * True when an exit the worker makes by itself (a crash, close()) is noticed: the page has
   * Web Locks (secure contexts). Without them only terminate() is, and a call to a worker that
   * died by itself waits for ever.
   */
  readonly watched: boolean;
  /** Runs `fn` on the api; rejects with EdgeRouteError('worker-failed') if the worker exits first. */
  call<T>(fn: (api: Remote<EdgeWorkerApi>) => Promise<T>): Promise<T>;
  /** Stops the worker and releases the proxy. */
  terminate(): void;
}

/** The worker shipped with edgeroute; the build rewrites this line per target (see vite.config.ts). */
function defaultWorker(): Worker {
  void getScriptBase; // referenced by the IIFE build's rewrite of the line below
  return new Worker(new URL('./edgeroute.worker.js', import.meta.url), { type: 'module' });
}

function lockManager(): LockManager | undefined {
  return typeof navigator !== 'undefined' ? (navigator as Navigator & { locks?: LockManager }).locks : undefined;
}

function liveLockName(): string {
  const id =
    typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function'
      ? crypto.randomUUID()
      : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `edgeroute-worker-alive:${id}`;
}

export async function startEdgeWorker(options: EdgeWorkerOptions = {}): Promise<EdgeWorker> {
  if (typeof Worker === 'undefined') {
    throw new EdgeRouteError('worker-failed', 'Web Workers are not available in this context; edgeroute needs a browser page.');
  }
  installErrorTransfer();
  let worker: Worker;
  try {
    worker = options.workerUrl ? new Worker(options.workerUrl, { type: 'module' }) : defaultWorker();
  } catch (cause) {
    throw new EdgeRouteError('worker-failed', `Could not start the edgeroute worker: ${String(cause)}. Pass workerUrl pointing at edgeroute.worker.js.`, {
      cause,
    });
  }
  const api = wrap<EdgeWorkerApi>(worker);
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener(
      'error',
      (event) => {
        reject(
          new EdgeRouteError(
            'worker-failed',
            `The edgeroute worker failed to load (${event.message || 'script error'}); check that edgeroute.worker.js is served from the URL the page asked for.`,
          ),
        );
      },
      { once: true },
    );
  });
  failed.catch(() => undefined); // only raced below; a later error event must not surface as unhandled
  const version = await Promise.race([api.protocolVersion, failed]);
  if (version !== WORKER_PROTOCOL_VERSION) {
    worker.terminate();
    throw new EdgeRouteError(
      'worker-failed',
      `edgeroute worker speaks protocol ${String(version)} but the page expects ${WORKER_PROTOCOL_VERSION}; serve the worker file from the same edgeroute version.`,
    );
  }

  // Calls in flight: each registers how to fail itself, so an exit rejects exactly those (no
  // listener piles up on a long-lived promise).
  const pending = new Set<(exit: WorkerExit) => void>();
  let exit: WorkerExit | undefined;
  let settleExited: (exit: WorkerExit) => void = () => undefined;
  const exited = new Promise<WorkerExit>((resolve) => {
    settleExited = resolve;
  });
  const markExited = (next: WorkerExit): void => {
    if (exit) return;
    exit = next;
    for (const fail of [...pending]) fail(next);
    pending.clear();
    settleExited(next);
  };

  let terminated = false;
  let watched = false;
  const locks = lockManager();
  if (locks) {
    const name = liveLockName();
    try {
      // The worker takes the lock first; the page's request is granted only once it is released.
      watched = await Promise.race([api.holdLiveLock(name), failed]);
    } catch (cause) {
      worker.terminate();
      throw new EdgeRouteError('worker-failed', `The edgeroute worker did not start its liveness lock: ${String(cause)}`, { cause });
    }
    if (watched) {
      locks
        .request(name, async () => {
          markExited({ reason: 'lost', message: 'the edgeroute worker stopped (it crashed or closed itself)' });
        })
        .catch(() => undefined);
    }
  }

  return {
    api,
    exited,
    get alive() {
      return exit === undefined;
    },
    watched,
    call<T>(fn: (remote: Remote<EdgeWorkerApi>) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (exit) {
          reject(exitError(exit));
          return;
        }
        const onExit = (e: WorkerExit): void => reject(exitError(e));
        pending.add(onExit);
        let work: Promise<T>;
        try {
          work = fn(api);
        } catch (error) {
          pending.delete(onExit);
          reject(error);
          return;
        }
        work.then(
          (value) => {
            pending.delete(onExit);
            resolve(value);
          },
          (error: unknown) => {
            pending.delete(onExit);
            reject(error);
          },
        );
      });
    },
    terminate() {
      // Also after a crash: the Worker object and the proxy still hold resources.
      if (!terminated) {
        terminated = true;
        api[releaseProxy]();
        worker.terminate();
      }
      markExited({ reason: 'terminated', message: 'the edgeroute worker was terminated' });
    },
  };
}

function exitError(exit: WorkerExit): EdgeRouteError {
  return new EdgeRouteError('worker-failed', `The request could not finish: ${exit.message}.`);
}
