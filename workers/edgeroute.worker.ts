/// <reference lib="webworker" />
/**
 * The edgeroute worker: hosts everything heavy (embedder, local LLM, UniRoute state) off the
 * page's main thread, exposed through comlink.
 */
import { expose } from 'comlink';
import { probeWebGpu } from '../src/engines/webgpu';
import { WORKER_PROTOCOL_VERSION, type EdgeWorkerApi } from '../src/worker-api';

const api: EdgeWorkerApi = {
  protocolVersion: WORKER_PROTOCOL_VERSION,
  probeGpu: () => probeWebGpu(),
};

expose(api);
