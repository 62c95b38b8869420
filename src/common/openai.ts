/**
 * The OpenAI Chat Completions types edgeroute speaks everywhere: between page and worker, to
 * the local engines and to the cloud model. Defined once here (web-llm's style), as the subset
 * edgeroute uses: text-only messages, no tools. Field names are OpenAI's snake_case, so a
 * request can be sent to any OpenAI-compatible endpoint as-is.
 *
 * Token log-probabilities reuse the types of src/core/confidence.ts, which scores them; core
 * stays free of imports from other folders, so the dependency points this way.
 */
import { EdgeRouteError } from './errors';
import type { TokenLogprob, TopLogprob } from '../core/confidence';

export type { TokenLogprob, TopLogprob };

// ---------------------------------------------------------------------------------------------
// Request

export type ChatRole = 'system' | 'user' | 'assistant';

export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

export interface ChatMessage {
  readonly role: ChatRole;
  /** Plain text. Multi-part (image/audio) content is not supported by edgeroute. */
  readonly content: string;
}

export interface ChatCompletionRequest {
  /** At least one message; a system message may only come first; the last must be 'user'. */
  readonly messages: readonly ChatMessage[];
  /** Cloud model name. Local engines ignore it: they answer with the model they loaded. */
  readonly model?: string;
  /** In [0, 2]. 0 = greedy. */
  readonly temperature?: number;
  /** In (0, 1]. */
  readonly top_p?: number;
  /** Positive integer: most tokens to generate. */
  readonly max_tokens?: number;
  /** Positive integer: how many choices to generate. */
  readonly n?: number;
  readonly stream?: boolean;
  /** Return per-token log-probabilities in `choices[].logprobs.content`. */
  readonly logprobs?: boolean;
  /** Integer in [0, 20]: alternatives per token; needs `logprobs: true`. */
  readonly top_logprobs?: number;
  /** Integer: best-effort deterministic sampling. */
  readonly seed?: number;
  /** Up to 4 sequences that end the generation. */
  readonly stop?: string | readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Response

/** 'abort' is web-llm's, for a generation stopped by interruptGenerate(). */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'abort';

export interface ChoiceLogprobs {
  /** One entry per generated token; null when the engine produced none. */
  readonly content: readonly TokenLogprob[] | null;
}

export interface AssistantMessage {
  readonly role: 'assistant';
  /** null only for a tool-call reply, which edgeroute never asks for. */
  readonly content: string | null;
}

export interface ChatCompletionChoice {
  readonly index: number;
  readonly message: AssistantMessage;
  readonly finish_reason: FinishReason;
  /** null when log-probabilities were not requested or the engine cannot give them. */
  readonly logprobs: ChoiceLogprobs | null;
}

export interface CompletionUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  /** Unix time in seconds. */
  readonly created: number;
  /** The model that actually answered (for a local engine, its model id). */
  readonly model: string;
  readonly choices: readonly ChatCompletionChoice[];
  readonly usage?: CompletionUsage;
}

export interface ChatCompletionDelta {
  readonly role?: 'assistant';
  readonly content?: string | null;
}

export interface ChatCompletionChunkChoice {
  readonly index: number;
  readonly delta: ChatCompletionDelta;
  /** null until the choice's last chunk. */
  readonly finish_reason: FinishReason | null;
  readonly logprobs?: ChoiceLogprobs | null;
}

export interface ChatCompletionChunk {
  readonly id: string;
  readonly object: 'chat.completion.chunk';
  readonly created: number;
  readonly model: string;
  /** Empty in a final usage-only chunk. */
  readonly choices: readonly ChatCompletionChunkChoice[];
  readonly usage?: CompletionUsage | null;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Text of choice `index` ('' when it has none). */
export function completionText(completion: ChatCompletion, index = 0): string {
  return completion.choices[index]?.message.content ?? '';
}

/** Token log-probabilities of a choice, or null when the engine gave none. */
export function choiceLogprobs(choice: ChatCompletionChoice): readonly TokenLogprob[] | null {
  return choice.logprobs?.content ?? null;
}

// ---------------------------------------------------------------------------------------------
// Validation

function invalid(message: string): EdgeRouteError {
  return new EdgeRouteError('invalid-input', `Invalid chat request: ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Optional finite number within [min, max] (exclusive at min when `minExclusive`). */
function checkNumber(
  req: Record<string, unknown>,
  field: string,
  range: { min: number; max: number; minExclusive?: boolean; integer?: boolean },
): void {
  const v = req[field];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw invalid(`\`${field}\` must be a finite number, got ${describe(v)}.`);
  }
  if (range.integer && !Number.isInteger(v)) {
    throw invalid(`\`${field}\` must be an integer, got ${v}.`);
  }
  const low = range.minExclusive ? v <= range.min : v < range.min;
  if (low || v > range.max) {
    const lo = range.minExclusive ? `(${range.min}` : `[${range.min}`;
    const hi = range.max === Number.MAX_SAFE_INTEGER ? '∞)' : `${range.max}]`;
    throw invalid(`\`${field}\` must be in ${lo}, ${hi}, got ${v}.`);
  }
}

/**
 * Checks a request that may come from untrusted code (the page, across the worker boundary)
 * and throws EdgeRouteError('invalid-input') naming the first problem. Unknown fields are
 * allowed (ignored), so newer clients still work.
 *
 * Message rules are the strictest of edgeroute's engines (web-llm, Prompt API): a system
 * message only first, and the last message from the user, since it is the prompt to answer.
 */
export function validateChatRequest(req: unknown): asserts req is ChatCompletionRequest {
  if (!isRecord(req)) throw invalid(`expected an object, got ${describe(req)}.`);

  const messages = req['messages'];
  if (!Array.isArray(messages)) {
    throw invalid(`\`messages\` must be an array of {role, content}, got ${describe(messages)}.`);
  }
  if (messages.length === 0) throw invalid('`messages` is empty; add at least one user message.');
  messages.forEach((m: unknown, i) => {
    if (!isRecord(m)) throw invalid(`messages[${i}] must be an object {role, content}, got ${describe(m)}.`);
    const role = m['role'];
    if (typeof role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(role)) {
      throw invalid(`messages[${i}].role must be one of ${CHAT_ROLES.join(', ')}, got ${describe(role)}.`);
    }
    if (typeof m['content'] !== 'string') {
      throw invalid(
        `messages[${i}].content must be a string (text only; no content parts), got ${describe(m['content'])}.`,
      );
    }
    if (role === 'system' && i !== 0) {
      throw invalid(`messages[${i}] is a system message; a system message may only be the first message.`);
    }
  });
  const last = messages[messages.length - 1] as ChatMessage;
  if (last.role !== 'user') {
    throw invalid(`the last message must be from the user (the prompt to answer), got role ${describe(last.role)}.`);
  }
  if (last.content.trim() === '') throw invalid('the last user message is empty; there is nothing to answer.');

  const model = req['model'];
  if (model !== undefined && (typeof model !== 'string' || model === '')) {
    throw invalid(`\`model\` must be a non-empty string, got ${describe(model)}.`);
  }
  checkNumber(req, 'temperature', { min: 0, max: 2 });
  checkNumber(req, 'top_p', { min: 0, max: 1, minExclusive: true });
  checkNumber(req, 'max_tokens', { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  checkNumber(req, 'n', { min: 1, max: 128, integer: true });
  checkNumber(req, 'top_logprobs', { min: 0, max: 20, integer: true });
  checkNumber(req, 'seed', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true });
  for (const flag of ['stream', 'logprobs'] as const) {
    const v = req[flag];
    if (v !== undefined && typeof v !== 'boolean') throw invalid(`\`${flag}\` must be a boolean, got ${describe(v)}.`);
  }
  if (req['top_logprobs'] !== undefined && req['top_logprobs'] !== 0 && req['logprobs'] !== true) {
    throw invalid('`top_logprobs` needs `logprobs: true`.');
  }

  const stop = req['stop'];
  if (stop !== undefined) {
    const list: unknown[] = Array.isArray(stop) ? stop : [stop];
    if (list.length > 4) throw invalid(`\`stop\` takes at most 4 sequences, got ${list.length}.`);
    list.forEach((s, i) => {
      if (typeof s !== 'string' || s === '') {
        throw invalid(`\`stop\`${Array.isArray(stop) ? `[${i}]` : ''} must be a non-empty string, got ${describe(s)}.`);
      }
    });
  }
}
