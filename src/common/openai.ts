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
// Request: what a caller may send (OpenAI's ChatCompletionCreateParams for text chat)

/** The roles a local engine understands. */
export type ChatRole = 'system' | 'user' | 'assistant';

export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/** Every role edgeroute accepts from a caller ('function' is OpenAI's deprecated one: rejected). */
export const REQUEST_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type RequestRole = (typeof REQUEST_ROLES)[number];

/** A message as a local engine gets it: plain text, no tools. */
export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export interface ChatCompletionContentPartText {
  readonly type: 'text';
  readonly text: string;
}

/** A string or OpenAI's content-part array; only text parts (image/audio/file parts are rejected). */
export type TextContent = string | readonly ChatCompletionContentPartText[];

export interface ChatCompletionSystemMessageParam {
  readonly role: 'system';
  readonly content: TextContent;
  readonly name?: string;
}

/** OpenAI's newer name for the system message (o1 and later); a local engine gets it as 'system'. */
export interface ChatCompletionDeveloperMessageParam {
  readonly role: 'developer';
  readonly content: TextContent;
  readonly name?: string;
}

export interface ChatCompletionUserMessageParam {
  readonly role: 'user';
  readonly content: TextContent;
  readonly name?: string;
}

export interface ChatCompletionMessageToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface ChatCompletionAssistantMessageParam {
  readonly role: 'assistant';
  /** null (or absent) only with `tool_calls`. */
  readonly content?: TextContent | null;
  readonly name?: string;
  readonly refusal?: string | null;
  readonly tool_calls?: readonly ChatCompletionMessageToolCall[];
}

export interface ChatCompletionToolMessageParam {
  readonly role: 'tool';
  readonly content: TextContent;
  readonly tool_call_id: string;
}

export type ChatCompletionMessageParam =
  | ChatCompletionSystemMessageParam
  | ChatCompletionDeveloperMessageParam
  | ChatCompletionUserMessageParam
  | ChatCompletionAssistantMessageParam
  | ChatCompletionToolMessageParam;

export interface ChatCompletionFunctionTool {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description?: string;
    /** A JSON Schema object. */
    readonly parameters?: Readonly<Record<string, unknown>>;
    readonly strict?: boolean | null;
  };
}

export type ChatCompletionToolChoiceOption = 'none' | 'auto' | 'required' | { readonly type: 'function'; readonly function: { readonly name: string } };

export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly json_schema: {
        readonly name: string;
        readonly description?: string;
        readonly schema?: Readonly<Record<string, unknown>>;
        readonly strict?: boolean | null;
      };
    };

export interface ChatCompletionStreamOptions {
  /** Send a last chunk with `usage` and no choices. */
  readonly include_usage?: boolean;
  readonly include_obfuscation?: boolean;
}

/**
 * What `router.chat.completions.create` accepts: OpenAI's ChatCompletionCreateParams for text
 * chat (null means "not given", as in OpenAI's types). See README "OpenAI compatibility" for
 * what each field does on the local and the cloud path.
 */
export interface ChatCompletionRequest {
  /** At least one message; a system/developer message may only come first; the last is 'user' or 'tool'. */
  readonly messages: readonly ChatCompletionMessageParam[];
  /**
   * Omitted, or a name that is not a configured cloud model id: the router decides. The id
   * of a configured cloud model: that model answers (the routing is skipped).
   */
  readonly model?: string;
  /** In [0, 2]. 0 = greedy. */
  readonly temperature?: number | null;
  /** In (0, 1]. */
  readonly top_p?: number | null;
  /** Positive integer: most tokens to generate (deprecated by OpenAI for max_completion_tokens). */
  readonly max_tokens?: number | null;
  /** Positive integer: most tokens to generate; wins over max_tokens. */
  readonly max_completion_tokens?: number | null;
  /** Positive integer: how many choices to generate. */
  readonly n?: number | null;
  readonly stream?: boolean | null;
  readonly stream_options?: ChatCompletionStreamOptions | null;
  /** Return per-token log-probabilities in `choices[].logprobs.content`. */
  readonly logprobs?: boolean | null;
  /** Integer in [0, 20]: alternatives per token; needs `logprobs: true`. */
  readonly top_logprobs?: number | null;
  /** Integer: best-effort deterministic sampling. */
  readonly seed?: number | null;
  /** Up to 4 sequences that end the generation. */
  readonly stop?: string | readonly string[] | null;
  /** 'text' is honoured everywhere; 'json_object' and 'json_schema' send the request to the cloud. */
  readonly response_format?: ResponseFormat;
  /** Function tools; a request with tools goes to the cloud (local engines cannot call tools). */
  readonly tools?: readonly ChatCompletionFunctionTool[];
  readonly tool_choice?: ChatCompletionToolChoiceOption;
  readonly parallel_tool_calls?: boolean;
  /** Passed to the cloud as-is. */
  readonly user?: string;
  readonly metadata?: Readonly<Record<string, string>> | null;
  readonly frequency_penalty?: number | null;
  readonly presence_penalty?: number | null;
  readonly logit_bias?: Readonly<Record<string, number>> | null;
  readonly store?: boolean | null;
  readonly service_tier?: 'auto' | 'default' | 'flex' | 'scale' | 'priority' | null;
  readonly reasoning_effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | null;
  readonly safety_identifier?: string | null;
  readonly prompt_cache_key?: string | null;
  readonly verbosity?: 'low' | 'medium' | 'high' | null;
}

/**
 * A request as a local engine gets it (page → worker → engine): text messages in the roles it
 * knows, no tools, no nulls. `localChatRequest` makes one from a ChatCompletionRequest.
 */
export interface LocalChatRequest {
  /** At least one message; a system message may only come first; the last must be 'user'. */
  readonly messages: readonly ChatMessage[];
  /** Local engines ignore it: they answer with the model they loaded. */
  readonly model?: string;
  readonly temperature?: number;
  readonly top_p?: number;
  readonly max_tokens?: number;
  readonly n?: number;
  readonly stream?: boolean;
  readonly logprobs?: boolean;
  readonly top_logprobs?: number;
  readonly seed?: number;
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
  /** null for a reply that is only tool calls. */
  readonly content: string | null;
  readonly refusal?: string | null;
  /** The cloud model's tool calls, passed through as the provider sent them. */
  readonly tool_calls?: readonly ChatCompletionMessageToolCall[];
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

/** A piece of a streamed tool call: `index` says which call it extends; arguments arrive in pieces. */
export interface ChatCompletionChunkToolCall {
  readonly index: number;
  readonly id?: string;
  readonly type?: 'function';
  readonly function?: { readonly name?: string; readonly arguments?: string };
}

export interface ChatCompletionDelta {
  readonly role?: 'assistant';
  readonly content?: string | null;
  readonly refusal?: string | null;
  readonly tool_calls?: readonly ChatCompletionChunkToolCall[];
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
function checkNumber(req: Record<string, unknown>, field: string, range: { min: number; max: number; minExclusive?: boolean; integer?: boolean }): void {
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

function checkBoolean(req: Record<string, unknown>, field: string): void {
  const v = req[field];
  if (v !== undefined && v !== null && typeof v !== 'boolean') throw invalid(`\`${field}\` must be a boolean, got ${describe(v)}.`);
}

function checkStop(req: Record<string, unknown>): void {
  const stop = req['stop'];
  if (stop === undefined || stop === null) return;
  const list: unknown[] = Array.isArray(stop) ? stop : [stop];
  if (list.length > 4) throw invalid(`\`stop\` takes at most 4 sequences, got ${list.length}.`);
  list.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') {
      throw invalid(`\`stop\`${Array.isArray(stop) ? `[${i}]` : ''} must be a non-empty string, got ${describe(s)}.`);
    }
  });
}

/** The sampling fields both validators share; null counts as absent (OpenAI's types allow it). */
function checkSampling(req: Record<string, unknown>): void {
  const model = req['model'];
  if (model !== undefined && (typeof model !== 'string' || model === '')) {
    throw invalid(`\`model\` must be a non-empty string, got ${describe(model)}.`);
  }
  const numbers = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== null));
  checkNumber(numbers, 'temperature', { min: 0, max: 2 });
  checkNumber(numbers, 'top_p', { min: 0, max: 1, minExclusive: true });
  checkNumber(numbers, 'max_tokens', { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  checkNumber(numbers, 'max_completion_tokens', { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  checkNumber(numbers, 'n', { min: 1, max: 128, integer: true });
  checkNumber(numbers, 'top_logprobs', { min: 0, max: 20, integer: true });
  checkNumber(numbers, 'seed', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true });
  checkNumber(numbers, 'frequency_penalty', { min: -2, max: 2 });
  checkNumber(numbers, 'presence_penalty', { min: -2, max: 2 });
  for (const flag of ['stream', 'logprobs', 'parallel_tool_calls', 'store']) checkBoolean(req, flag);
  const topLogprobs = req['top_logprobs'];
  if (topLogprobs !== undefined && topLogprobs !== null && topLogprobs !== 0 && req['logprobs'] !== true) {
    throw invalid('`top_logprobs` needs `logprobs: true`.');
  }
  checkStop(req);
}

function checkMessages(req: Record<string, unknown>): unknown[] {
  const messages = req['messages'];
  if (!Array.isArray(messages)) {
    throw invalid(`\`messages\` must be an array of {role, content}, got ${describe(messages)}.`);
  }
  if (messages.length === 0) throw invalid('`messages` is empty; add at least one user message.');
  return messages;
}

/**
 * Checks a text-only request for a local engine (after `localChatRequest`, or from a direct
 * worker user) and throws EdgeRouteError('invalid-input') naming the first problem. Unknown
 * fields are allowed (ignored), so newer clients still work.
 *
 * Message rules are the strictest of edgeroute's engines (web-llm, Prompt API): a system
 * message only first, and the last message from the user, since it is the prompt to answer.
 */
export function validateLocalChatRequest(req: unknown): asserts req is LocalChatRequest {
  if (!isRecord(req)) throw invalid(`expected an object, got ${describe(req)}.`);
  const messages = checkMessages(req);
  messages.forEach((m: unknown, i) => {
    if (!isRecord(m)) throw invalid(`messages[${i}] must be an object {role, content}, got ${describe(m)}.`);
    const role = m['role'];
    if (typeof role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(role)) {
      throw invalid(`messages[${i}].role must be one of ${CHAT_ROLES.join(', ')} for a local model, got ${describe(role)}.`);
    }
    if (typeof m['content'] !== 'string') {
      throw invalid(`messages[${i}].content must be a string for a local model, got ${describe(m['content'])}.`);
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
  checkSampling(req);
  for (const field of ['temperature', 'top_p', 'max_tokens', 'n', 'top_logprobs', 'seed', 'stop', 'stream', 'logprobs'] as const) {
    if (req[field] === null) throw invalid(`\`${field}\` is null; leave it out instead.`);
  }
}

/** Text parts or a string, as a string; throws naming the message for any other content. */
function checkTextContent(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    throw invalid(`${where}.content must be a string or an array of text parts, got ${describe(content)}.`);
  }
  return content
    .map((part: unknown, j) => {
      if (!isRecord(part) || part['type'] !== 'text' || typeof part['text'] !== 'string') {
        const type = isRecord(part) ? describe(part['type']) : describe(part);
        throw invalid(
          `${where}.content[${j}] must be a text part {type: "text", text}; edgeroute does not take image, audio or file parts (got type ${type}).`,
        );
      }
      return part['text'];
    })
    .join('\n');
}

/**
 * Checks a request that may come from untrusted code and throws EdgeRouteError('invalid-input')
 * naming the first problem: OpenAI's Chat Completions request for text chat (see
 * ChatCompletionRequest). Unknown fields are allowed (passed to the cloud), so newer clients
 * still work.
 *
 * Kept from the local engines' rules: a system/developer message only first (a later one is
 * rejected, not moved), and the conversation ends in a user message or tool results, since
 * that is what the model answers.
 */
export function validateChatRequest(req: unknown): asserts req is ChatCompletionRequest {
  if (!isRecord(req)) throw invalid(`expected an object, got ${describe(req)}.`);
  const messages = checkMessages(req);
  const toolCallIds = new Set<string>();
  messages.forEach((m: unknown, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(m)) throw invalid(`${where} must be an object {role, content}, got ${describe(m)}.`);
    const role = m['role'];
    if (typeof role !== 'string' || !(REQUEST_ROLES as readonly string[]).includes(role)) {
      throw invalid(`${where}.role must be one of ${REQUEST_ROLES.join(', ')}, got ${describe(role)}.`);
    }
    if ((role === 'system' || role === 'developer') && i !== 0) {
      throw invalid(`${where} is a ${role} message; a system or developer message may only be the first message.`);
    }
    if (role === 'assistant') {
      const calls = m['tool_calls'];
      if (calls !== undefined) {
        if (!Array.isArray(calls)) throw invalid(`${where}.tool_calls must be an array, got ${describe(calls)}.`);
        calls.forEach((c: unknown, j) => {
          const fn = isRecord(c) ? c['function'] : undefined;
          if (
            !isRecord(c)
            || typeof c['id'] !== 'string'
            || c['type'] !== 'function'
            || !isRecord(fn)
            || typeof fn['name'] !== 'string'
            || typeof fn['arguments'] !== 'string'
          ) {
            throw invalid(`${where}.tool_calls[${j}] must be {id, type: "function", function: {name, arguments}}.`);
          }
          toolCallIds.add(c['id']);
        });
      }
      const content = m['content'];
      if (content === null || content === undefined) {
        if (!Array.isArray(calls) || calls.length === 0) throw invalid(`${where}.content may be null only with tool_calls.`);
      } else {
        checkTextContent(content, where);
      }
      return;
    }
    checkTextContent(m['content'], where);
    if (role === 'tool') {
      const id = m['tool_call_id'];
      if (typeof id !== 'string' || id === '') throw invalid(`${where} is a tool message; it needs the \`tool_call_id\` it answers.`);
      if (!toolCallIds.has(id)) throw invalid(`${where}.tool_call_id ${describe(id)} answers no tool call of an earlier assistant message.`);
    }
  });
  const last = messages[messages.length - 1] as Record<string, unknown>;
  if (last['role'] !== 'user' && last['role'] !== 'tool') {
    throw invalid(`the last message must be from the user (the prompt to answer) or a tool result, got role ${describe(last['role'])}.`);
  }
  if (last['role'] === 'user' && checkTextContent(last['content'], 'the last message').trim() === '') {
    throw invalid('the last user message is empty; there is nothing to answer.');
  }

  checkSampling(req);
  const streamOptions = req['stream_options'];
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!isRecord(streamOptions)) throw invalid(`\`stream_options\` must be an object, got ${describe(streamOptions)}.`);
    if (req['stream'] !== true) throw invalid('`stream_options` is only allowed with `stream: true`.');
    checkBoolean(streamOptions, 'include_usage');
  }
  const format = req['response_format'];
  if (format !== undefined && format !== null) {
    const type = isRecord(format) ? format['type'] : undefined;
    if (type !== 'text' && type !== 'json_object' && type !== 'json_schema') {
      throw invalid(`\`response_format.type\` must be "text", "json_object" or "json_schema", got ${describe(type)}.`);
    }
    if (type === 'json_schema' && !isRecord((format as Record<string, unknown>)['json_schema'])) {
      throw invalid('`response_format` of type "json_schema" needs a `json_schema` object {name, schema}.');
    }
  }
  const tools = req['tools'];
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) throw invalid(`\`tools\` must be an array, got ${describe(tools)}.`);
    tools.forEach((t: unknown, i) => {
      const fn = isRecord(t) ? t['function'] : undefined;
      if (!isRecord(t) || t['type'] !== 'function' || !isRecord(fn) || typeof fn['name'] !== 'string' || fn['name'] === '') {
        throw invalid(`tools[${i}] must be {type: "function", function: {name, parameters?}}; edgeroute takes function tools only.`);
      }
    });
  }
  const choice = req['tool_choice'];
  if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto' && choice !== 'required') {
    const fn = isRecord(choice) ? choice['function'] : undefined;
    if (!isRecord(choice) || choice['type'] !== 'function' || !isRecord(fn) || typeof fn['name'] !== 'string') {
      throw invalid('`tool_choice` must be "none", "auto", "required" or {type: "function", function: {name}}.');
    }
  }
  for (const field of ['user', 'safety_identifier', 'prompt_cache_key'] as const) {
    const v = req[field];
    if (v !== undefined && v !== null && typeof v !== 'string') throw invalid(`\`${field}\` must be a string, got ${describe(v)}.`);
  }
  const metadata = req['metadata'];
  if (metadata !== undefined && metadata !== null) {
    if (!isRecord(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) {
      throw invalid('`metadata` must be an object of string values.');
    }
  }
  if (req['functions'] !== undefined || req['function_call'] !== undefined) {
    throw invalid('`functions` / `function_call` (deprecated by OpenAI) are not supported; use `tools` and `tool_choice`.');
  }
  for (const field of ['audio', 'modalities', 'prediction', 'web_search_options'] as const) {
    if (req[field] !== undefined && req[field] !== null) {
      throw invalid(`\`${field}\` is not supported: edgeroute routes text chat only.`);
    }
  }
}

/** The text of a message's content (text parts joined by a line break). */
export function contentText(content: TextContent | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('\n');
}

/** The text of the last user message: what UniRoute routes on. */
export function lastUserText(request: Pick<ChatCompletionRequest, 'messages'>): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user');
  return last ? contentText(last.content) : '';
}

/** Why a request cannot be answered by a local engine, or undefined when it can. */
export function cloudOnlyReason(request: ChatCompletionRequest): string | undefined {
  if (request.tools !== undefined && request.tools.length > 0 && request.tool_choice !== 'none') {
    return 'the request has tools, which the local model cannot call';
  }
  if (request.messages.some((m) => m.role === 'tool' || (m.role === 'assistant' && (m.tool_calls?.length ?? 0) > 0))) {
    return 'the conversation has tool calls or tool results, which the local model cannot read';
  }
  const format = request.response_format?.type;
  if (format === 'json_object' || format === 'json_schema') {
    return `response_format ${format} needs constrained decoding, which the local engines do not do`;
  }
  return undefined;
}

/** Whether the caller asked for the usage chunk at the end of a stream. */
export function wantsStreamUsage(request: ChatCompletionRequest): boolean {
  return request.stream_options?.include_usage === true;
}

/**
 * The request as a local engine takes it: developer → system, text parts joined, nulls
 * dropped, max_completion_tokens as max_tokens; fields only the cloud uses are left out.
 * Call it only when cloudOnlyReason() is undefined.
 */
export function localChatRequest(request: ChatCompletionRequest): LocalChatRequest {
  const messages: ChatMessage[] = request.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : (m.role as ChatRole),
    content: contentText(m.content),
  }));
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  const out: Record<string, unknown> = { messages };
  for (const field of ['model', 'temperature', 'top_p', 'n', 'stream', 'logprobs', 'top_logprobs', 'seed', 'stop'] as const) {
    const v = request[field];
    if (v !== undefined && v !== null) out[field] = v;
  }
  if (maxTokens !== undefined && maxTokens !== null) out['max_tokens'] = maxTokens;
  return out as unknown as LocalChatRequest;
}

// ---------------------------------------------------------------------------------------------
// Answers in exactly OpenAI's shape

/**
 * OpenAI's finish reasons. web-llm's 'abort' is not one: an aborted request rejects instead,
 * so it never reaches a caller; toOpenAICompletion maps a stray one to 'stop'.
 */
export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface OpenAITopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

export interface OpenAITokenLogprob extends OpenAITopLogprob {
  top_logprobs: OpenAITopLogprob[];
}

export interface OpenAIChoiceLogprobs {
  content: OpenAITokenLogprob[] | null;
  refusal: OpenAITokenLogprob[] | null;
}

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * The completion the router returns: OpenAI's ChatCompletion with every field it requires
 * (refusal, logprob bytes) and mutable arrays, so it is assignable to the `openai` package's
 * ChatCompletion (test/page/openai-types.test.ts checks that).
 */
export interface OpenAIChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: string | null; tool_calls?: OpenAIToolCall[] };
    finish_reason: OpenAIFinishReason;
    logprobs: OpenAIChoiceLogprobs | null;
  }[];
  usage?: CompletionUsage;
}

export interface OpenAIChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      refusal?: string | null;
      tool_calls?: { index: number; id?: string; type?: 'function'; function?: { name?: string; arguments?: string } }[];
    };
    finish_reason: OpenAIFinishReason | null;
    logprobs?: OpenAIChoiceLogprobs | null;
  }[];
  usage?: CompletionUsage | null;
}

function openAIFinish(reason: FinishReason): OpenAIFinishReason {
  return reason === 'abort' ? 'stop' : reason;
}

function openAITokens(tokens: readonly TokenLogprob[] | null): OpenAITokenLogprob[] | null {
  if (tokens === null) return null;
  return tokens.map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes ? [...t.bytes] : null,
    top_logprobs: t.top_logprobs.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes ? [...a.bytes] : null })),
  }));
}

function openAILogprobs(logprobs: ChoiceLogprobs | null | undefined): OpenAIChoiceLogprobs | null {
  return logprobs ? { content: openAITokens(logprobs.content), refusal: null } : null;
}

/** A completion (engine's or provider's) in OpenAI's exact shape; `model` replaces its model when given. */
export function toOpenAICompletion(completion: ChatCompletion, model?: string): OpenAIChatCompletion {
  return {
    id: completion.id,
    object: 'chat.completion',
    created: completion.created,
    model: model ?? completion.model,
    choices: completion.choices.map((c) => ({
      index: c.index,
      message: {
        role: 'assistant',
        content: c.message.content,
        refusal: c.message.refusal ?? null,
        ...(c.message.tool_calls
          ? { tool_calls: c.message.tool_calls.map((t) => ({ id: t.id, type: 'function' as const, function: { ...t.function } })) }
          : {}),
      },
      finish_reason: openAIFinish(c.finish_reason),
      logprobs: openAILogprobs(c.logprobs),
    })),
    ...(completion.usage ? { usage: { ...completion.usage } } : {}),
  };
}

/** A chunk in OpenAI's exact shape; `usage` is dropped unless `keepUsage`. */
export function toOpenAIChunk(chunk: ChatCompletionChunk, keepUsage: boolean, model?: string): OpenAIChatCompletionChunk {
  return {
    id: chunk.id,
    object: 'chat.completion.chunk',
    created: chunk.created,
    model: model ?? chunk.model,
    choices: chunk.choices.map((c) => ({
      index: c.index,
      delta: {
        ...(c.delta.role ? { role: c.delta.role } : {}),
        ...(c.delta.content !== undefined ? { content: c.delta.content } : {}),
        ...(c.delta.refusal !== undefined ? { refusal: c.delta.refusal } : {}),
        ...(c.delta.tool_calls ? { tool_calls: c.delta.tool_calls.map((t) => ({ ...t, ...(t.function ? { function: { ...t.function } } : {}) })) } : {}),
      },
      finish_reason: c.finish_reason === null ? null : openAIFinish(c.finish_reason),
      ...(c.logprobs !== undefined ? { logprobs: openAILogprobs(c.logprobs) } : {}),
    })),
    ...(keepUsage && chunk.usage ? { usage: { ...chunk.usage } } : {}),
  };
}
