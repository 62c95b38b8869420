/**
 * edgeroute: an in-page LLM router. Public entry point (ESM).
 */
export { EdgeRouteError, isEdgeRouteErrorCode, type EdgeRouteErrorCode } from './common/errors';
export { startEdgeWorker, type EdgeWorker, type EdgeWorkerOptions, type WorkerExit } from './page/worker-client';
export type { EdgeWorkerApi } from './worker/protocol';
export type { GpuProbe, GpuAdapterSummary, GpuComputeCheck } from './worker/gpu/webgpu';
export { openKvStore, kvGet, kvSet, kvDelete, kvKeys, type KvStore } from './worker/storage/kv';
export { createRouter, checkRouterConfig, type RouterConfig, type Router } from './page/create-router';
export { EdgeRouter, type RouterMode, type RoutingReport, type RoutedCompletion, type RoutedChunk } from './page/router';
export { validateValidationSet, validationSetHash, withCalibratedModel, type CalibratedModel, type ValidationSet } from './common/validation-set';
export { CloudClient, validateCloudModelConfig, type CloudModelConfig } from './page/cloud-client';
export type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage } from './common/openai';
export type { WorkerConfig, EmbedderConfig, LocalEngineConfig, LambdaTarget, WebLlmAppConfig, WebLlmModelRecord } from './worker/protocol';
export { createOpenAIFetch, type OpenAIFetch } from './page/openai-fetch';
