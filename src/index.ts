/**
 * edgeroute: an in-page LLM router. The stable public entry (ESM): createRouter, its
 * configuration and report types, the errors, and the validation-set helpers. Lower-level
 * pieces (the worker, the cloud client, IndexedDB helpers) are in 'edgeroute/advanced'.
 */
export { EdgeRouteError, isEdgeRouteErrorCode, type EdgeRouteErrorCode } from './common/errors';
export { ROUTER_MODES, type RouterMode } from './common/modes';
export {
  createRouter,
  checkRouterConfig,
  type RouterConfig,
  type Router,
  type StartProgress,
  type WorkerHandle,
} from './page/create-router';
export type { LocalReadiness, RoutingReport, RoutedCompletion, RoutedChunk, CreateOptions } from './page/router';
export { validateValidationSet, validationSetHash, withCalibratedModel, type CalibratedModel, type ValidationSet } from './common/validation-set';
export type { CloudModelConfig } from './page/cloud-client';
export type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage } from './common/openai';
export type {
  EmbedderConfig,
  EmbedderStatus,
  EmbedResult,
  GpuAdapterSummary,
  GpuComputeCheck,
  GpuProbe,
  JobProgress,
  LambdaTarget,
  LoadProgress,
  LocalEngineConfig,
  LocalEngineStatus,
  EscalationRule,
  EscalationRuleName,
  PreRouterName,
  MeasuredProfileSummary,
  ProfileSummary,
  WebLlmAppConfig,
  WebLlmModelRecord,
} from './worker/protocol';
export { createOpenAIFetch, type OpenAIFetch } from './page/openai-fetch';
