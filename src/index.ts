/**
 * edgeroute: an in-page LLM router. Public entry point (ESM).
 */
export { EdgeRouteError, isEdgeRouteErrorCode, type EdgeRouteErrorCode } from './errors';
export { startEdgeWorker, type EdgeWorker, type EdgeWorkerOptions, type WorkerExit } from './worker-client';
export type { EdgeWorkerApi } from './worker-api';
export type { GpuProbe, GpuAdapterSummary, GpuComputeCheck } from './engines/webgpu';
export { openKvStore, kvGet, kvSet, kvDelete, kvKeys, type KvStore } from './storage/kv';
export { createRouter, checkRouterConfig, type RouterConfig, type Router } from './router/create-router';
export { EdgeRouter, type RouterMode, type RoutingReport, type RoutedCompletion, type RoutedChunk } from './router/router';
export { validateValidationSet, validationSetHash, withCalibratedModel, type CalibratedModel, type ValidationSet } from './router/validation-set';
export { CloudClient, validateCloudModelConfig, type CloudModelConfig } from './engines/cloud-client';
export type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage } from './protocol/openai';
export type { WorkerConfig, EmbedderConfig, LocalEngineConfig, LambdaTarget, WebLlmAppConfig, WebLlmModelRecord } from './worker-api';
