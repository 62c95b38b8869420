/**
 * Confidence of the local answer, measured in the worker: token log-probabilities when the
 * engine has them (answerConfidence), else agreement among sampled answers grouped by the
 * embedder (majority share, with the semantic entropy of the groups).
 */
import { agreementConfidence, answerConfidence, semanticEntropy } from '../core/confidence';
import type { ChatCompletion, LocalChatRequest as ChatCompletionRequest } from '../common/openai';
import { sampleAnswers, type LocalEngine } from './engines/local-engine';
import type { LocalConfidence } from './protocol';

/** Embeds texts for sample agreement (the worker's embedder). */
export type EmbedTexts = (texts: readonly string[], signal: AbortSignal) => Promise<Float32Array[]>;

/** Cosine similarity at which two sampled answers count as the same answer. */
export const AGREEMENT_SIMILARITY = 0.9;

/** Fewest samples that agreement is measured on (fewer say little). */
export const MIN_AGREEMENT_SAMPLES = 3;

/**
 * The confidence of `firstAnswer` to `request`. Log-probabilities are used when the engine gives
 * them and the caller asked for no samples (`samples` ≤ 1); otherwise max(samples, 3) answers
 * are sampled and their agreement measured.
 */
export async function measureConfidence(
  engine: LocalEngine,
  request: ChatCompletionRequest,
  firstAnswer: ChatCompletion,
  samples: number,
  signal: AbortSignal,
  embed: EmbedTexts,
): Promise<LocalConfidence> {
  const tokens = firstAnswer.choices[0]?.logprobs?.content ?? [];
  const useSamples = samples > 1 || !engine.status().logprobs || tokens.length === 0;
  if (!useSamples) return { score: answerConfidence(tokens, { method: 'mean-logprob' }), method: 'mean-logprob' };
  const n = Math.max(samples, MIN_AGREEMENT_SAMPLES);
  const answers = await sampleAnswers(engine, request, n, { signal });
  const embeddings = await embed(
    answers.map((a) => a.message.content ?? ''),
    signal,
  );
  const grouped = answers.map((_, i) => ({ embedding: embeddings[i]! }));
  const options = { similarityThreshold: AGREEMENT_SIMILARITY };
  return {
    score: agreementConfidence(grouped, { ...options, measure: 'majority-share' }),
    method: 'sample-agreement',
    semanticEntropy: semanticEntropy(grouped, options).entropy,
    samples: n,
  };
}
