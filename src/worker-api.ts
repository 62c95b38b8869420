/**
 * The contract across the worker boundary (web-llm's engine/handler split): the page holds a
 * comlink proxy of this interface; workers/edgeroute.worker.ts implements it. Only structured-
 * cloneable data crosses, so everything here is plain data.
 */
import type { GpuProbe } from './engines/webgpu';

export interface EdgeWorkerApi {
  /** Protocol version, so a page and a stale cached worker file can detect a mismatch. */
  readonly protocolVersion: number;
  /** WebGPU status of the worker's context, with one checked compute pass. */
  probeGpu(): Promise<GpuProbe>;
}

export const WORKER_PROTOCOL_VERSION = 1;
