/**
 * edgeroute: an in-page LLM router. Public entry point (ESM).
 */
export { EdgeRouteError, type EdgeRouteErrorCode } from './errors';
export { startEdgeWorker, type EdgeWorker, type EdgeWorkerOptions } from './worker-client';
export type { EdgeWorkerApi } from './worker-api';
export type { GpuProbe, GpuAdapterSummary, GpuComputeCheck } from './engines/webgpu';
export { openKvStore, kvGet, kvSet, kvDelete, kvKeys, type KvStore } from './storage/kv';
