/**
 * Starting the edgeroute worker from the page and talking to it through comlink.
 */
import { wrap, releaseProxy, type Remote } from 'comlink';
import { EdgeRouteError } from './errors';
import { getScriptBase } from './script-base';
import { WORKER_PROTOCOL_VERSION, type EdgeWorkerApi } from './worker-api';

export interface EdgeWorkerOptions {
  /**
   * Where the worker script lives, when the default cannot be found (a CDN copy, a custom
   * path). By default the worker file shipped beside edgeroute is used, written so that Vite
   * and webpack bundle it as a worker asset.
   */
  readonly workerUrl?: string | URL;
}

export interface EdgeWorker {
  readonly api: Remote<EdgeWorkerApi>;
  /** Stops the worker and releases the proxy. */
  terminate(): void;
}

/** The worker shipped with edgeroute; the build rewrites this line per target (see vite.config.ts). */
function defaultWorker(): Worker {
  void getScriptBase; // referenced by the IIFE build's rewrite of the line below
  return new Worker(new URL('./edgeroute.worker.js', import.meta.url), { type: 'module' });
}

export async function startEdgeWorker(options: EdgeWorkerOptions = {}): Promise<EdgeWorker> {
  if (typeof Worker === 'undefined') {
    throw new EdgeRouteError('worker-failed', 'Web Workers are not available in this context; edgeroute needs a browser page.');
  }
  let worker: Worker;
  try {
    worker = options.workerUrl ? new Worker(options.workerUrl, { type: 'module' }) : defaultWorker();
  } catch (cause) {
    throw new EdgeRouteError('worker-failed', `Could not start the edgeroute worker: ${String(cause)}. Pass workerUrl pointing at edgeroute.worker.js.`, { cause });
  }
  const api = wrap<EdgeWorkerApi>(worker);
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (event) => {
      reject(new EdgeRouteError('worker-failed', `The edgeroute worker failed to load (${event.message || 'script error'}); check that edgeroute.worker.js is served from the URL the page asked for.`));
    }, { once: true });
  });
  const version = await Promise.race([api.protocolVersion, failed]);
  if (version !== WORKER_PROTOCOL_VERSION) {
    worker.terminate();
    throw new EdgeRouteError('worker-failed', `edgeroute worker speaks protocol ${String(version)} but the page expects ${WORKER_PROTOCOL_VERSION}; serve the worker file from the same edgeroute version.`);
  }
  return {
    api,
    terminate() {
      api[releaseProxy]();
      worker.terminate();
    },
  };
}
