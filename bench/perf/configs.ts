/** The embedders and backends the benchmark runs, as the worker is configured for each (browser and Node). */
import type { EmbedderConfig } from '../../src/worker/protocol';

export type EmbedderKey = 'tiny-webgpu' | 'tiny-wasm' | 'use-wasm';

export interface EmbedderCase {
  readonly key: EmbedderKey;
  readonly label: string;
  /** The backend asked for; the worker reports the one it got. */
  readonly wanted: 'webgpu' | 'wasm';
  readonly config: EmbedderConfig;
}

/**
 * Served by the benchmark's static server: /models/ = public/models, /use-lite/ = the npm weights.
 * WASM first: both tiny cases have the same embedder id, so the WebGPU case finds the routing
 * profile the WASM case computed (SwiftShader takes minutes to embed the validation prompts).
 */
export const EMBEDDER_CASES: readonly EmbedderCase[] = [
  {
    key: 'tiny-wasm',
    label: 'edgeroute-tiny-embed (transformers.js)',
    wanted: 'wasm',
    config: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'wasm' },
  },
  {
    key: 'tiny-webgpu',
    label: 'edgeroute-tiny-embed (transformers.js)',
    wanted: 'webgpu',
    config: { kind: 'transformers', model: 'edgeroute-tiny-embed', localModelPath: '/models/', device: 'webgpu' },
  },
  {
    key: 'use-wasm',
    label: 'USE lite (TF.js)',
    wanted: 'wasm',
    config: { kind: 'use', modelUrl: '/use-lite/model.json', vocabUrl: '/use-lite/vocab.json' },
  },
];

export function embedderCase(key: string | null): EmbedderCase {
  const found = EMBEDDER_CASES.find((c) => c.key === key);
  if (!found) throw new Error(`unknown embedder case ${String(key)}; known: ${EMBEDDER_CASES.map((c) => c.key).join(', ')}`);
  return found;
}

/** The prompt of the first routed answer after a page load. */
export const FIRST_PROMPT = 'A train travels 60 miles per hour for 3 hours. How far does it go?';
export const VALIDATION_SET_URL = '/profiles/default-validation.json';
/** What a page with one local model and two cloud models routes between (as in e2e/router.e2e.ts). */
export const LOCAL_MODEL = 'llama3.2-1b';
export const CANDIDATES: readonly string[] = [LOCAL_MODEL, 'gpt-4o-mini', 'gpt-4o'];
