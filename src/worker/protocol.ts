/**
 * The contract across the worker boundary (web-llm's engine/handler split): the page holds a
 * comlink proxy of this interface; src/worker/host.ts implements it. Only structured-
 * cloneable data crosses (and comlink proxies for progress callbacks), so everything here is
 * plain data.
 */
import type { GpuAdapterSummary, GpuComputeCheck, GpuProbe } from './gpu/webgpu';
export type { GpuAdapterSummary, GpuComputeCheck, GpuProbe };
import type { LoadProgress, LocalEngineStatus } from './engines/local-engine';
export type { LoadProgress, LocalEngineStatus };
import type { ChatCompletion, ChatCompletionChunk, LocalChatRequest } from '../common/openai';
import type { UniRouteSummary } from './profile-state';
import type { CalibratedModel, ValidationSet } from '../common/validation-set';
import type { EscalationRule, EscalationRuleName } from '../core/escalation-rule';
import type { PreRouterName } from '../core/router-choice';
export type { EscalationRule, EscalationRuleName, PreRouterName };

/**
 * Bump on every change to this file's types (see src/worker/README.md): a page and a stale
 * cached worker script must detect that they no longer speak the same protocol.
 * 3: RouteResult gained clusterMillis, truncated and notes; errors cross with their codes.
 * 4: RouteResult gained `ranking` (every candidate, best first); prepareProfile's progress counts
 *    validation prompts; LocalEngineStatus may carry the backend and why WebGPU was not used.
 * 6: RouteResult gained `preRouter` and `clusterErrors` (predictedErrors may come from the
 *    universal-difficulty router); ProfileSummary `preRouting`.
 * 5: RouteResult gained `escalationRule`; ProfileSummary `escalation`; LocalConfidence.method
 *    may name a recorded kind.
 */
export const WORKER_PROTOCOL_VERSION = 6;

/** Where the worker's transformers.js finds models and ONNX Runtime's WASM files. */
export interface TransformersSource {
  /** Model id: a folder under localModelPath, or a hub id when allowRemoteModels is true. */
  readonly model: string;
  /**
   * Same-origin path of self-hosted model folders (e.g. '/models/'). For another origin use a
   * hub mirror instead: transformers.js treats full URLs here as remote.
   */
  readonly localModelPath?: string;
  /** Default false: nothing is fetched from a model hub unless the site allows it. */
  readonly allowRemoteModels?: boolean;
  /** 'auto' (default) = WebGPU when an adapter exists, else WASM. */
  readonly device?: 'auto' | 'webgpu' | 'wasm';
  readonly dtype?: string;
}

export type EmbedderConfig =
  | ({ readonly kind: 'transformers' } & TransformersSource)
  | {
      readonly kind: 'use';
      /** URL of the Universal Sentence Encoder lite model.json (shards beside it). */
      readonly modelUrl: string;
      readonly vocabUrl: string;
    };

/**
 * web-llm's model record: the fields edgeroute passes through to web-llm's AppConfig (declared
 * here so the package's types do not depend on web-llm's).
 */
export interface WebLlmModelRecord {
  /** URL of the MLC weights folder (mlc-chat-config.json, ndarray-cache.json, shards). */
  readonly model: string;
  readonly model_id: string;
  /** URL of the model library (.wasm). */
  readonly model_lib: string;
  readonly overrides?: Readonly<Record<string, unknown>>;
  readonly vram_required_MB?: number;
  readonly low_resource_required?: boolean;
  readonly required_features?: readonly string[];
}

export interface WebLlmAppConfig {
  readonly model_list: readonly WebLlmModelRecord[];
  /** Cache weights in IndexedDB instead of Cache Storage. */
  readonly useIndexedDBCache?: boolean;
}

export type LocalEngineConfig =
  | ({ readonly kind: 'transformers' } & TransformersSource)
  | {
      readonly kind: 'web-llm';
      /** A model family ('Llama-3.2-1B-Instruct') or an exact MLC model_id. */
      readonly model: string;
      /**
       * Where web-llm finds weights and WASM libraries: its model_list records (`model`,
       * `model_id`, `model_lib` URLs) pointing at self-hosted copies. Without it web-llm's
       * prebuilt list is used (Hugging Face and GitHub URLs), which needs allowRemoteModels.
       */
      readonly appConfig?: WebLlmAppConfig;
      /** Opt-in to web-llm's prebuilt list, i.e. downloading weights from the Hugging Face hub. */
      readonly allowRemoteModels?: boolean;
    }
  | { readonly kind: 'prompt-api' };

export interface WorkerConfig {
  readonly embedder: EmbedderConfig;
  readonly local?: LocalEngineConfig;
  /**
   * URL of the folder holding ONNX Runtime's and TF.js's WASM files (ort/, tfjs/). Default: the
   * folder of the worker script itself, where the build puts them.
   */
  readonly runtimeBaseUrl?: string;
}

export interface EmbedderStatus {
  readonly id: string;
  readonly dimension: number;
  /** 'webgpu' | 'wasm' | 'cpu' | a TF.js backend name. */
  readonly backend: string;
  /** Why WebGPU was not used, when it was asked for and not used. */
  readonly fallbackReason?: string;
  readonly loadMillis: number;
}

export interface EmbedResult {
  readonly embeddings: Float32Array[];
  readonly millis: number;
}

/** Confidence of one local answer: the score and how it was obtained. */
export interface LocalConfidence {
  /** Higher = surer. Mean token log-probability, or the share of agreeing samples. */
  readonly score: number;
  /**
   * What the score measures: the worker's 'mean-logprob' or 'sample-agreement', or (for an
   * answer replayed from a recording) the recorded kind. The profile's escalation rule applies
   * only to confidences of the kind it was fitted on.
   */
  readonly method: 'mean-logprob' | 'sample-agreement' | (string & {});
  /** For 'sample-agreement': semantic entropy (nats) over the sampled answers. */
  readonly semanticEntropy?: number;
  readonly samples?: number;
}

export interface GenerateOptions {
  /** Also sample `samples` answers and measure their agreement (needs an embedder). */
  readonly samples?: number;
  readonly jobId?: string;
}

export interface GenerateResult {
  readonly completion: ChatCompletion;
  readonly confidence: LocalConfidence;
  readonly millis: number;
}

export interface ProfileOptions {
  readonly k?: number | 'auto';
  readonly jobId?: string;
}

/** The routing profile as the page sees it (counters tell whether anything was computed). */
export interface ProfileSummary extends UniRouteSummary {
  readonly millis: number;
}

/** The profile after measureLocalModel, with the measurement itself. */
export interface MeasuredProfileSummary extends ProfileSummary {
  readonly measured: CalibratedModel;
}

/** One model in a routing decision's ranking. */
export interface RankedModel {
  readonly id: string;
  /** The pre-generation router's predicted error (RouteResult.preRouter). */
  readonly predictedError: number;
  /** USD per call. */
  readonly cost: number;
  /** predictedError + λ·cost; for λ = Infinity the predicted error (the order is then by cost). */
  readonly objective: number;
}

export interface RouteResult {
  /** P(k | x) for each cluster. */
  readonly clusterProbabilities: number[];
  /**
   * model id → the predicted error the decision used: Σ_k P(k|x)·Ψ_k(model) under UniRoute, or
   * the universal-difficulty router's, whichever the profile's cross-validation chose for this
   * pool (`preRouter`).
   */
  readonly predictedErrors: Record<string, number>;
  /** Which router predicted `predictedErrors`; absent on a route the page built without a decision. */
  readonly preRouter?: PreRouterName;
  /** model id → UniRoute's Σ_k P(k|x)·Ψ_k(model), the escalation rule's feature (equal to predictedErrors under UniRoute). */
  readonly clusterErrors?: Record<string, number>;
  readonly chosenModel: string;
  /**
   * Every candidate model, best first, ordered as the decision orders them (objective, then the
   * cheaper, then profile order), so ranking[0].id === chosenModel and the best cloud model is
   * the first cloud entry: the page never recomputes the argmin. Always set by the worker;
   * optional only so results the page builds itself without a decision stay valid.
   */
  readonly ranking?: readonly RankedModel[];
  readonly lambda: number;
  /** Embedding the prompt (in the worker, without the message round trip). */
  readonly embedMillis: number;
  /** Cluster assignment: P(k|x) from the embedding. */
  readonly clusterMillis: number;
  /** Every model's predicted error, the argmin over the candidates and their ranking. */
  readonly decideMillis: number;
  /** Characters of the prompt, and of the text embedded for the decision (see textForEmbedding). */
  readonly promptChars: number;
  readonly embeddedChars: number;
  /** True when the prompt was longer than the embedder's window and only its head and tail were embedded. */
  readonly truncated: boolean;
  /** What the caller should know about this decision, in words (truncation, a restarted worker). */
  readonly notes: readonly string[];
  /**
   * How a local answer's confidence decides escalation for this pool: the rule the profile's
   * cross-validation chose (confidence-only, UniRoute or the fitted hybrid) with its
   * coefficients. Absent when the profile has none for the pool's local model (no recorded
   * confidences, or no cloud model): a fixed threshold decides then.
   */
  readonly escalationRule?: EscalationRule;
}

/** A λ target the page can send across the worker boundary (no functions). */
export type LambdaTarget =
  | { readonly kind: 'cloudShare'; readonly share: number }
  | { readonly kind: 'budget'; readonly usdPer1000: number }
  | { readonly kind: 'qualityFloor'; readonly quality: number };

export type JobProgress = { readonly done: number; readonly total: number; readonly text?: string };

export interface EdgeWorkerApi {
  /** Protocol version, so a page and a stale cached worker file can detect a mismatch. */
  readonly protocolVersion: number;
  /** WebGPU status of the worker's context, with one checked compute pass. */
  probeGpu(): Promise<GpuProbe>;
  configure(config: WorkerConfig): Promise<void>;
  loadEmbedder(onProgress?: (p: LoadProgress) => void): Promise<EmbedderStatus>;
  embed(texts: readonly string[], options?: { jobId?: string }): Promise<EmbedResult>;
  loadLocal(onProgress?: (p: LoadProgress) => void): Promise<LocalEngineStatus>;
  /**
   * The local model's answer and its confidence. With `onChunk` (a comlink proxy from the
   * page) and an engine that streams, each chunk is also sent as it is generated; the result
   * is the same completion, assembled from them. An older worker ignores `onChunk`.
   */
  generate(request: LocalChatRequest, options?: GenerateOptions, onChunk?: (chunk: ChatCompletionChunk) => void | Promise<void>): Promise<GenerateResult>;
  /**
   * Loads the cached profile or computes it. `onProgress` counts validation prompts: done/total
   * after each embedded batch (the long part of a first visit), then total/total when ready;
   * `text` names the phase.
   */
  prepareProfile(set: ValidationSet, options?: ProfileOptions, onProgress?: (p: JobProgress) => void): Promise<ProfileSummary>;
  /** UniRoute's decision for one prompt, over `candidates` (default: every model of the profile). */
  route(prompt: string, lambda: number, candidates?: readonly string[]): Promise<RouteResult>;
  /** λ meeting a target on the validation prompts (cloud share, budget, or quality floor). */
  calibrateLambda(target: LambdaTarget, candidates?: readonly string[]): Promise<{ lambda: number; achieved: number; feasible: boolean }>;
  addModel(model: { id: string; cost: number; scores: Record<string, number> }): Promise<ProfileSummary>;
  /**
   * Runs the configured local model on the validation prompts, grades it, records its confidence
   * in each answer, and adds it under `id`. `measured` is that measurement, to ship with the
   * profile (withCalibratedModel) so the model routes as `id` on later visits.
   */
  measureLocalModel(model: { id: string }, options?: { jobId?: string }, onProgress?: (p: JobProgress) => void): Promise<MeasuredProfileSummary>;
  /** Aborts the job started with this id (embed, generate, prepareProfile, measureLocalModel). */
  cancel(jobId: string): void;
  /**
   * Takes the Web Lock `name` and holds it until the worker is gone, so the page learns of a
   * crash or close() by being granted the lock (see worker-client.ts). Resolves once it is
   * held; false where the worker has no Web Locks.
   */
  holdLiveLock(name: string): Promise<boolean>;
  /** JS heap of the worker, where the browser exposes it. */
  memory(): Promise<{ usedJSHeapSize?: number }>;
}
