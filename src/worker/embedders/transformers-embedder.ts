/**
 * A transformers.js sentence embedder (feature-extraction pipeline, mean pooling, L2
 * normalisation) as an Embedder: 'Xenova/all-MiniLM-L6-v2' from the Hub, or a model folder
 * served by our own origin such as public/models/edgeroute-tiny-embed.
 *
 * transformers.js is imported lazily on creation (pages that never embed never fetch it) and
 * the import is injectable for tests. Backend: WebGPU when 'auto' finds an adapter and the
 * model loads on it, else WASM (onnxruntime-node's CPU backend under Node); the embedder says
 * which it got and, for 'auto', why not WebGPU.
 */
import type { DataType } from '@huggingface/transformers';
import type { Embedding } from '../../core/types';
import { messageOf } from '../../common/errors';
import { EmbedderError, normalizeInPlace, throwIfAborted, type EmbedOptions, type Embedder } from './embedder';
import type { LoadProgress } from '../engines/local-engine';
import {
  configureTransformersEnv,
  createProgressAggregator,
  describeLoadFailure,
  planBackends,
  type GpuLike,
  type TransformersBackend,
  type TransformersDevice,
  type TransformersEnvLike,
  type TransformersEnvOptions,
  type TransformersLibrary,
  type TransformersProgressEvent,
} from '../engines/transformers-env';

export interface TransformersEmbedderOptions {
  /** Hub id ('Xenova/all-MiniLM-L6-v2') or a folder name under env.localModelPath ('edgeroute-tiny-embed'). */
  readonly model: string;
  /** Default 'auto'. */
  readonly device?: TransformersDevice;
  /**
   * Weights variant ('fp32', 'fp16', 'q8', ...). Default: the model's config.json
   * ("transformers.js_config".dtype), else transformers.js's default for the backend.
   */
  readonly dtype?: DataType;
  /** Hub revision (branch, tag or commit); named in the id when not 'main'. */
  readonly revision?: string;
  /** Applied to transformers.js's env before loading (see configureTransformersEnv). */
  readonly env?: TransformersEnvOptions;
  /** Texts per model call (default 16); abort is checked between calls. */
  readonly batchSize?: number;
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Aborts loading: creation then rejects with EmbedderError('aborted'). */
  readonly signal?: AbortSignal;
  /** Default: `import('@huggingface/transformers')`. */
  readonly loadLibrary?: () => Promise<TransformersLibrary>;
  /** Stand-in for navigator.gpu ('auto' asks it for an adapter); null = no WebGPU. */
  readonly gpu?: GpuLike | null;
}

export interface TransformersEmbedder extends Embedder {
  /** What runs the model: 'webgpu', 'wasm', or 'cpu' (onnxruntime-node). */
  readonly backend: TransformersBackend;
  /** For device 'auto' without WebGPU: why (no adapter, or the WebGPU load error). */
  readonly fallbackReason?: string;
  readonly model: string;
  /** The weights variant actually loaded ('fp32', 'q8', ...). */
  readonly dtype: string;
}

/** The parts of transformers.js's FeatureExtractionPipeline used here. */
interface FeaturePipe {
  (texts: string[], options: { pooling: 'mean'; normalize: boolean }): Promise<{ data: ArrayLike<number>; dims: readonly number[] }>;
  readonly model?: {
    readonly config?: { readonly hidden_size?: unknown; readonly 'transformers.js_config'?: { readonly dtype?: unknown } };
    readonly sessions?: Record<string, { readonly config?: { readonly dtype?: unknown } } | undefined>;
  };
  dispose?(): Promise<unknown>;
}

const DEFAULT_BATCH_SIZE = 16;

/**
 * Id naming library, model, revision and weights: 'transformers:<model>@<dtype>' or
 * 'transformers:<model>#<revision>@<dtype>'. Caches and trained routers are keyed by it.
 */
export function transformersEmbedderId(model: string, dtype: string, revision?: string): string {
  return `transformers:${model}${revision && revision !== 'main' ? `#${revision}` : ''}@${dtype}`;
}

function abortedError(signal: AbortSignal): EmbedderError {
  return new EmbedderError('aborted', 'loading the embedder was aborted by the caller', { cause: signal.reason });
}

/** Loads the model and resolves with an embedder that is ready to use. */
export async function createTransformersEmbedder(options: TransformersEmbedderOptions): Promise<TransformersEmbedder> {
  const { model, signal } = options;
  if (typeof model !== 'string' || model.trim() === '') {
    throw new EmbedderError('invalid-input', 'createTransformersEmbedder needs a model id or folder name.');
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new EmbedderError('invalid-input', `batchSize must be a positive integer, got ${batchSize}.`);
  }
  if (signal?.aborted) throw abortedError(signal);

  let lib: TransformersLibrary;
  try {
    lib = await (options.loadLibrary ?? (() => import('@huggingface/transformers')))();
  } catch (error) {
    throw new EmbedderError('load-failed', `could not load @huggingface/transformers: ${messageOf(error)}`, { cause: error });
  }
  const env = lib.env as unknown as TransformersEnvLike;
  if (options.env) {
    try {
      configureTransformersEnv(env, options.env);
    } catch (error) {
      throw new EmbedderError('invalid-input', messageOf(error), { cause: error });
    }
  }

  const plan = await planBackends(options.device ?? 'auto', options.gpu === undefined ? {} : { gpu: options.gpu });
  const progress = createProgressAggregator(model, options.onProgress);
  let fallbackReason = plan.reason;
  const failures: string[] = [];
  let pipe: FeaturePipe | undefined;
  let backend: TransformersBackend | undefined;

  for (const candidate of plan.candidates) {
    if (signal?.aborted) throw abortedError(signal);
    try {
      const loaded = await lib.pipeline('feature-extraction', model, {
        device: candidate,
        ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
        ...(options.revision !== undefined ? { revision: options.revision } : {}),
        progress_callback: (e: unknown) => progress.callback(e as TransformersProgressEvent),
      });
      pipe = loaded as unknown as FeaturePipe;
      backend = candidate;
      break;
    } catch (error) {
      const failure = describeLoadFailure(error, model, env);
      // A missing model is missing on every backend: report it now.
      if (failure.kind === 'not-found' || candidate === plan.candidates[plan.candidates.length - 1]) {
        const prior = failures.length ? ` (earlier: ${failures.join('; ')})` : '';
        throw new EmbedderError(failure.kind === 'backend' ? 'backend-unavailable' : 'load-failed', failure.message + prior, { cause: error });
      }
      failures.push(`${candidate}: ${messageOf(error)}`);
      fallbackReason = `loading on WebGPU failed (${messageOf(error)}); using ${plan.candidates[plan.candidates.length - 1]}`;
      progress.note(`${model}: WebGPU failed, retrying on WASM`);
    }
  }
  if (!pipe || !backend) throw new EmbedderError('backend-unavailable', `no backend could load ${model}.`);
  if (signal?.aborted) {
    await pipe.dispose?.().catch(() => undefined);
    throw abortedError(signal);
  }

  const config = pipe.model?.config;
  const sessionDtype = pipe.model?.sessions?.['model']?.config?.dtype;
  const configDtype = config?.['transformers.js_config']?.dtype;
  const dtype = String(typeof sessionDtype === 'string' ? sessionDtype : (options.dtype ?? (typeof configDtype === 'string' ? configDtype : 'default')));

  const embedder = new LoadedTransformersEmbedder(pipe, {
    id: transformersEmbedderId(model, dtype, options.revision),
    model,
    dtype,
    backend,
    batchSize,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    ...(typeof config?.hidden_size === 'number' ? { dimension: config.hidden_size } : {}),
  });
  // No hidden_size in the config (some exports): learn the dimension from one output.
  if (embedder.dimension === 0) await embedder.embed(['dimension probe']);
  progress.finish(`${model} ready on ${backend}`);
  return embedder;
}

interface LoadedInfo {
  readonly id: string;
  readonly model: string;
  readonly dtype: string;
  readonly backend: TransformersBackend;
  readonly batchSize: number;
  readonly fallbackReason?: string;
  readonly dimension?: number;
}

class LoadedTransformersEmbedder implements TransformersEmbedder {
  readonly id: string;
  readonly model: string;
  readonly dtype: string;
  readonly backend: TransformersBackend;
  readonly fallbackReason?: string;
  #dimension: number;
  #pipe: FeaturePipe | undefined;
  readonly #batchSize: number;

  constructor(pipe: FeaturePipe, info: LoadedInfo) {
    this.#pipe = pipe;
    this.id = info.id;
    this.model = info.model;
    this.dtype = info.dtype;
    this.backend = info.backend;
    if (info.fallbackReason !== undefined) this.fallbackReason = info.fallbackReason;
    this.#dimension = info.dimension ?? 0;
    this.#batchSize = info.batchSize;
  }

  get dimension(): number {
    return this.#dimension;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Embedding[]> {
    const { signal } = options;
    if (!this.#pipe) throw new EmbedderError('disposed', `${this.id} was disposed; create a new embedder.`);
    if (!Array.isArray(texts)) throw new EmbedderError('invalid-input', 'embed() takes an array of strings.');
    texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new EmbedderError('invalid-input', `texts[${i}] is ${typeof t}, not a string.`);
    });
    throwIfAborted(signal);
    // Similar lengths share a batch, so little compute goes to padding (mean pooling masks it).
    const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
    const out = new Array<Embedding>(texts.length);
    for (let start = 0; start < order.length; start += this.#batchSize) {
      throwIfAborted(signal);
      const idx = order.slice(start, start + this.#batchSize);
      const pipe = this.#pipe;
      if (!pipe) throw new EmbedderError('disposed', `${this.id} was disposed during embed().`);
      let result: { data: ArrayLike<number>; dims: readonly number[] };
      try {
        result = await pipe(
          idx.map((i) => texts[i]),
          { pooling: 'mean', normalize: true },
        );
      } catch (error) {
        throw new EmbedderError('inference-failed', `${this.id} failed on a batch of ${idx.length} texts: ${messageOf(error)}`, { cause: error });
      }
      const [rows, dim] = result.dims;
      if (result.dims.length !== 2 || rows !== idx.length || !dim) {
        throw new EmbedderError(
          'inference-failed',
          `${this.id} returned shape [${result.dims.join(', ')}] for ${idx.length} texts; expected [${idx.length}, dim].`,
        );
      }
      if (this.#dimension === 0) this.#dimension = dim;
      if (dim !== this.#dimension) {
        throw new EmbedderError('inference-failed', `${this.id} returned ${dim}-d vectors; expected ${this.#dimension}.`);
      }
      idx.forEach((textIndex, r) => {
        const v = Float32Array.from({ length: dim }, (_, k) => result.data[r * dim + k]);
        out[textIndex] = normalizeInPlace(v); // already unit-norm; this also rejects NaN
      });
    }
    throwIfAborted(signal);
    return out;
  }

  async dispose(): Promise<void> {
    const pipe = this.#pipe;
    this.#pipe = undefined;
    await pipe?.dispose?.();
  }
}
