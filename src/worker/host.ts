/// <reference lib="webworker" />
/**
 * The edgeroute worker: hosts everything heavy (embedder, local LLM, UniRoute state) off the
 * page's main thread, exposed through comlink. This file only wires the parts together:
 * api.ts (the EdgeWorkerApi over one state object), jobs.ts (cancellable jobs),
 * engine-factory.ts (embedder and local engine, heavy libraries imported lazily) and
 * confidence.ts (the local answer's confidence).
 */
import { expose } from 'comlink';
import { createWorkerApi, createWorkerHostState, deviceLostError } from './api';
import { watchGpuDevices } from './gpu/gpu-watch';
import { installErrorTransfer } from './protocol-errors';
import { openKvStore } from './storage/kv';

/**
 * Runs this worker's side of the protocol: called once by the worker entry
 * (workers/edgeroute.worker.ts). An explicit call, not import side effects, so that no bundler
 * can drop it.
 */
export function startWorkerHost(): void {
  // Error codes must survive the trip to the page (comlink alone sends name and message only).
  installErrorTransfer();
  // Before any engine asks for a GPU device: a lost device poisons this worker (see gpu-watch.ts).
  const gpu = watchGpuDevices();
  const state = createWorkerHostState({
    gpu,
    context: { scriptUrl: self.location.href },
    openStore: () => openKvStore('edgeroute', 'profiles'),
  });
  void gpu.whenLost.then((loss) => state.jobs.abortAll(deviceLostError(loss, 'a job was running')));
  expose(createWorkerApi(state));
}
