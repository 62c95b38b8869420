/**
 * Floating-point work of one embedding (batch of one prompt, no padding), counted from the
 * models' own files. Only matrix products are counted (2 FLOPs per multiply-add); layer norms,
 * GELU/softmax, biases and pooling add O(L·H) and are left out, so the counts are lower bounds.
 * Node only (reads the tokenizers and model files).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import { USE_MAX_TOKENS, type UseVocabulary } from '../../src/worker/embedders/use-embedder';

export interface BertConfig {
  readonly num_hidden_layers: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_attention_heads: number;
  readonly max_position_embeddings: number;
}

/**
 * A BERT encoder on L tokens, per layer: Q, K, V and output projections 4·(2·L·H²), scores
 * QKᵀ and weighted values 2·(2·L²·H), feed-forward 2·(2·L·H·I).
 */
export function bertFlops(config: BertConfig, tokens: number): number {
  const L = tokens;
  const H = config.hidden_size;
  const I = config.intermediate_size;
  return config.num_hidden_layers * (8 * L * H * H + 4 * L * L * H + 4 * L * H * I);
}

interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
}
interface ModelJson {
  readonly weightsManifest: readonly { readonly weights: readonly WeightEntry[] }[];
}

/** USE lite's work, inferred from the weight shapes of its TF.js graph (model.json). */
export interface UseWork {
  /** Multiply-adds per token of every weight matrix applied to each token. */
  readonly perTokenMacs: number;
  /** Width d of each attention layer (its fused QKV kernel is d×3d): scores and values cost 2·L²·d. */
  readonly attentionWidths: readonly number[];
  /** Multiply-adds once per sentence (the tanh layer after pooling). */
  readonly perSentenceMacs: number;
  readonly matrices: readonly string[];
  readonly how: string;
}

export function useWorkFromModelJson(json: ModelJson): UseWork {
  let perTokenMacs = 0;
  let perSentenceMacs = 0;
  let table = 'none';
  const attentionWidths: number[] = [];
  const matrices: string[] = [];
  for (const w of json.weightsManifest.flatMap((g) => g.weights)) {
    const dims = w.shape.filter((n) => n > 1);
    if (w.dtype !== 'float32' || dims.length !== 2) continue; // biases, norms, scalars, int constants
    // The token table is a lookup and the timing signal is added, not multiplied.
    const [a, b] = dims as [number, number];
    if (/Embeddings_en$/.test(w.name)) table = `${a}×${b}`;
    if (/Embeddings_en$|TimingSignal/.test(w.name)) continue;
    if (/hidden_layers/.test(w.name)) perSentenceMacs += a * b;
    else perTokenMacs += a * b;
    if (/qkv_transform/.test(w.name)) attentionWidths.push(b / 3);
    matrices.push(`${w.name.replace(/^module(_apply_default)?\/Encoder_en\//, '')} ${a}×${b}`);
  }
  return {
    perTokenMacs,
    attentionWidths,
    perSentenceMacs,
    matrices,
    how:
      `model.json weight shapes: ${matrices.length} float matrices; those inside the transformer are applied to every token `
      + `(${(perTokenMacs / 1e6).toFixed(2)} M multiply-adds a token), attention adds 2·L²·d per layer `
      + `(d = ${attentionWidths.join(', ')} from the fused QKV kernels), the tanh layer runs once per sentence; `
      + `the token table (${table}) is a lookup`,
  };
}

export function useFlops(work: UseWork, tokens: number): number {
  const L = tokens;
  const attention = work.attentionWidths.reduce((a, d) => a + 2 * L * L * d, 0);
  return 2 * (L * work.perTokenMacs + attention + work.perSentenceMacs);
}

export interface TokenCounter {
  readonly name: string;
  count(text: string): number;
}

/** The tiny BERT's WordPiece tokenizer through transformers.js (with [CLS] and [SEP], as the pipeline embeds). */
export async function tinyTokenCounter(modelsDir: string, model: string): Promise<TokenCounter> {
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.localModelPath = modelsDir.endsWith('/') ? modelsDir : `${modelsDir}/`;
  env.allowRemoteModels = false;
  const tokenizer = await AutoTokenizer.from_pretrained(model);
  return { name: `${model} WordPiece`, count: (text) => tokenizer.encode(text).length };
}

/** USE lite's SentencePiece tokenizer, cut at the 128 tokens the graph reads (as UseEmbedder does). */
export function useTokenCounter(vocabPath: string): TokenCounter {
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(vocabPath, 'utf8')) as UseVocabulary);
  return { name: 'USE lite SentencePiece', count: (text) => Math.max(1, Math.min(USE_MAX_TOKENS, tokenizer.encode(text).length)) };
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(resolve(path), 'utf8')) as T;
}
