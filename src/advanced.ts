/**
 * edgeroute/advanced: the pieces createRouter is built from, for apps that wire their own:
 * the worker (startEdgeWorker and its protocol), the router over a worker and a cloud
 * (EdgeRouter), the cloud client, and the IndexedDB helpers the worker caches profiles with.
 * Less stable than 'edgeroute': these follow the worker protocol's version.
 */
export { startEdgeWorker, type EdgeWorker, type EdgeWorkerOptions, type WorkerExit } from './page/worker-client';
export { EdgeRouter, EscalationController, type RouterCloud, type RouterOptions, type RouterWorker, type OnlineCheck } from './page/router';
export { WorkerSupervisor, type SupervisorOptions } from './page/supervisor';
export { CloudClient, validateCloudModelConfig } from './page/cloud-client';
export { openKvStore, kvGet, kvSet, kvDelete, kvKeys, type KvStore } from './worker/storage/kv';
export { WORKER_PROTOCOL_VERSION } from './worker/protocol';
export type {
  EdgeWorkerApi,
  GenerateOptions,
  GenerateResult,
  LocalConfidence,
  ProfileOptions,
  RankedModel,
  RouteResult,
  TransformersSource,
  WorkerConfig,
} from './worker/protocol';
