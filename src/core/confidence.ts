/**
 * Confidence of a generated answer, from the model's own token log-probabilities (one answer)
 * or from the agreement among several sampled answers (semantic entropy, Kuhn et al. 2023, as
 * used for routing labels by Zhang et al. 2025). Every score is "higher = surer"; turning a
 * score into P(correct) is the job of confidence-calibration.ts.
 *
 * Log-probabilities are natural logs (as OpenAI and web-llm return them); entropies are in nats.
 */

import { cosine } from './linalg';

/** One alternative token at a position (OpenAI `top_logprobs[]` entry). */
export interface TopLogprob {
  readonly token: string;
  readonly logprob: number;
  readonly bytes?: readonly number[] | null;
}

/**
 * One generated token with its log-probability and the top-k alternatives, in the shape of
 * OpenAI's `choices[].logprobs.content[]` (web-llm returns the same shape).
 */
export interface TokenLogprob {
  readonly token: string;
  readonly logprob: number;
  readonly bytes?: readonly number[] | null;
  readonly top_logprobs: readonly TopLogprob[];
}

/** Sum of the token log-probabilities: log P(answer | prompt). 0 for an empty answer. */
export function sequenceLogProb(tokens: readonly TokenLogprob[]): number {
  let s = 0;
  for (const t of tokens) s += t.logprob;
  return s;
}

/**
 * Mean token log-probability (length-normalised sequence likelihood), ≤ 0, higher = surer.
 * NaN for an empty answer (no evidence either way).
 */
export function meanLogProb(tokens: readonly TokenLogprob[]): number {
  if (tokens.length === 0) return NaN;
  return sequenceLogProb(tokens) / tokens.length;
}

/**
 * Lowest token log-probability: the single least certain step, ≤ 0, higher = surer.
 * NaN for an empty answer.
 */
export function minLogProb(tokens: readonly TokenLogprob[]): number {
  if (tokens.length === 0) return NaN;
  let m = Infinity;
  for (const t of tokens) if (t.logprob < m) m = t.logprob;
  return m;
}

/**
 * Entropy (nats) of one position's top-k alternatives, renormalised to sum to 1. The sampled
 * token is added when it is missing from `top_logprobs` (it was sampled, so it had mass).
 * Only the top k are seen, so this is a lower-resolution estimate of the true entropy.
 */
function topKEntropy(t: TokenLogprob): number {
  const lps: number[] = t.top_logprobs.map((a) => a.logprob);
  if (!t.top_logprobs.some((a) => a.token === t.token)) lps.push(t.logprob);
  let max = -Infinity;
  for (const lp of lps) if (lp > max) max = lp;
  if (!Number.isFinite(max)) return 0;
  // Log-sum-exp for the normaliser, stable for very negative log-probs.
  let z = 0;
  for (const lp of lps) z += Math.exp(lp - max);
  const logZ = max + Math.log(z);
  let h = 0;
  for (const lp of lps) {
    const logp = lp - logZ;
    const p = Math.exp(logp);
    if (p > 0) h -= p * logp;
  }
  return h;
}

/**
 * Mean over generated tokens of the entropy (nats, ≥ 0) of the renormalised top-k
 * alternatives. NOTE: this is an uncertainty (higher = less sure); use
 * `topKEntropyConfidence` (= −meanTopKEntropy) where a confidence is wanted.
 * NaN for an empty answer.
 */
export function meanTopKEntropy(tokens: readonly TokenLogprob[]): number {
  if (tokens.length === 0) return NaN;
  let s = 0;
  for (const t of tokens) s += topKEntropy(t);
  return s / tokens.length;
}

/** −meanTopKEntropy: a confidence ≤ 0, higher = surer (0 = every step had one candidate). */
export function topKEntropyConfidence(tokens: readonly TokenLogprob[]): number {
  return -meanTopKEntropy(tokens);
}

/** Which single-answer score `answerConfidence` returns. */
export type AnswerConfidenceMethod = 'mean-logprob' | 'min-logprob' | 'neg-entropy' | 'weighted';

export interface AnswerConfidenceOptions {
  /** default 'mean-logprob'. */
  readonly method?: AnswerConfidenceMethod;
  /**
   * For 'weighted': confidence = Σ weight·score over meanLogProb, minLogProb and −meanTopKEntropy.
   * The scale is arbitrary; Platt scaling afterwards maps it to P(correct).
   * Default { meanLogProb: 1, minLogProb: 0, negEntropy: 0 }.
   */
  readonly weights?: {
    readonly meanLogProb?: number;
    readonly minLogProb?: number;
    readonly negEntropy?: number;
  };
}

/**
 * One confidence number for one generated answer, higher = surer; NaN for an empty answer (a
 * calibrated router treats a non-finite confidence as "unknown" and falls back to its prior).
 */
export function answerConfidence(tokens: readonly TokenLogprob[], options: AnswerConfidenceOptions = {}): number {
  const method = options.method ?? 'mean-logprob';
  switch (method) {
    case 'mean-logprob':
      return meanLogProb(tokens);
    case 'min-logprob':
      return minLogProb(tokens);
    case 'neg-entropy':
      return topKEntropyConfidence(tokens);
    case 'weighted': {
      const w = options.weights ?? {};
      const wMean = w.meanLogProb ?? 1;
      const wMin = w.minLogProb ?? 0;
      const wEnt = w.negEntropy ?? 0;
      let c = 0;
      // Skip zero weights so an unused score cannot inject NaN.
      if (wMean !== 0) c += wMean * meanLogProb(tokens);
      if (wMin !== 0) c += wMin * minLogProb(tokens);
      if (wEnt !== 0) c += wEnt * topKEntropyConfidence(tokens);
      return tokens.length === 0 ? NaN : c;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Agreement among n sampled answers.

/** One sampled answer: its (sentence) embedding and, optionally, its sequence log-probability. */
export interface SampledAnswer {
  readonly embedding: Float32Array;
  /** log P(answer | prompt), e.g. `sequenceLogProb(tokens)`. */
  readonly logprob?: number;
}

export interface SemanticEntropyOptions {
  /** Two answers mean the same when their cosine similarity is ≥ this (e.g. 0.9). */
  readonly similarityThreshold: number;
}

export interface SemanticEntropyResult {
  /** −Σ_c p_c ln p_c over meaning classes c, in nats; 0 when all answers agree. */
  readonly entropy: number;
  /** answer indices of each class, classes ordered by their smallest index. */
  readonly clusters: number[][];
  /** p_c of each class, same order as `clusters`. */
  readonly clusterProbabilities: number[];
  /** max_c p_c: the share of the most common meaning. */
  readonly majorityShare: number;
}

/**
 * Semantic entropy of n sampled answers. Answers are grouped into meaning classes by the
 * transitive closure of "cosine similarity ≥ threshold" (union-find: deterministic and
 * independent of answer order). Class probabilities are the summed sequence probabilities
 * exp(logprob), renormalised, when every answer has a finite `logprob`; otherwise the counts
 * (discrete semantic entropy). Empty input → entropy 0, no clusters, majorityShare NaN.
 */
export function semanticEntropy(answers: readonly SampledAnswer[], options: SemanticEntropyOptions): SemanticEntropyResult {
  const n = answers.length;
  if (n === 0) return { entropy: 0, clusters: [], clusterProbabilities: [], majorityShare: NaN };

  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!; // path halving
      i = parent[i]!;
    }
    return i;
  };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (cosine(answers[i]!.embedding, answers[j]!.embedding) >= options.similarityThreshold) {
        const ri = find(i);
        const rj = find(j);
        // Smaller index becomes the root, so class order is by first member.
        if (ri !== rj) parent[Math.max(ri, rj)] = Math.min(ri, rj);
      }
    }
  }
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const list = byRoot.get(r);
    if (list) list.push(i);
    else byRoot.set(r, [i]);
  }
  const clusters = [...byRoot.values()].sort((a, b) => a[0]! - b[0]!);

  const useLogprob = answers.every((a) => a.logprob !== undefined && Number.isFinite(a.logprob));
  let weights: number[];
  if (useLogprob) {
    // Σ exp(logprob) per class, via a shared max shift for stability.
    let max = -Infinity;
    for (const a of answers) if (a.logprob! > max) max = a.logprob!;
    weights = clusters.map((c) => c.reduce((s, i) => s + Math.exp(answers[i]!.logprob! - max), 0));
  } else {
    weights = clusters.map((c) => c.length);
  }
  const total = weights.reduce((s, w) => s + w, 0);
  const probs = weights.map((w) => w / total);
  let entropy = 0;
  for (const p of probs) if (p > 0) entropy -= p * Math.log(p);
  return {
    entropy,
    clusters,
    clusterProbabilities: probs,
    majorityShare: Math.max(...probs),
  };
}

export interface AgreementConfidenceOptions extends SemanticEntropyOptions {
  /** 'majority-share' (default, in [1/n, 1]) or 'neg-entropy' (−semantic entropy, ≤ 0). */
  readonly measure?: 'majority-share' | 'neg-entropy';
}

/** Confidence from agreement among sampled answers, higher = surer. */
export function agreementConfidence(answers: readonly SampledAnswer[], options: AgreementConfidenceOptions): number {
  const r = semanticEntropy(answers, options);
  return (options.measure ?? 'majority-share') === 'majority-share' ? r.majorityShare : -r.entropy;
}
