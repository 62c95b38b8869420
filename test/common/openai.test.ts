import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import {
  choiceLogprobs,
  cloudOnlyReason,
  completionText,
  localChatRequest,
  validateChatRequest,
  validateLocalChatRequest,
  wantsStreamUsage,
  type ChatCompletion,
  type ChatCompletionRequest,
} from '../../src/common/openai';

const user = (content = 'What is 2 + 2?') => ({ role: 'user', content });

function error(req: unknown): EdgeRouteError {
  try {
    validateChatRequest(req);
  } catch (e) {
    expect(e).toBeInstanceOf(EdgeRouteError);
    expect((e as EdgeRouteError).code).toBe('invalid-input');
    return e as EdgeRouteError;
  }
  throw new Error(`expected ${JSON.stringify(req)} to be rejected`);
}

describe('validateChatRequest', () => {
  it('accepts a full, valid request (and unknown fields)', () => {
    const req: ChatCompletionRequest = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'What is 2 + 2?' },
      ],
      temperature: 0,
      top_p: 1,
      max_tokens: 16,
      n: 3,
      stream: false,
      logprobs: true,
      top_logprobs: 5,
      seed: -3,
      stop: ['\n', 'END'],
    };
    expect(() => validateChatRequest(req)).not.toThrow();
    expect(() => validateChatRequest({ messages: [user()], stop: 'END', future_field: 1 })).not.toThrow();
    expect(() => validateChatRequest({ messages: [user()], temperature: 2, top_logprobs: 0 })).not.toThrow();
  });

  it('rejects a non-object and bad message arrays', () => {
    expect(error(null).message).toMatch(/expected an object, got null/);
    expect(error([]).message).toMatch(/got an array/);
    expect(error({}).message).toMatch(/`messages` must be an array/);
    expect(error({ messages: [] }).message).toMatch(/`messages` is empty/);
    expect(error({ messages: ['hi'] }).message).toMatch(/messages\[0\] must be an object/);
  });

  it('names the message and field at fault', () => {
    expect(error({ messages: [{ role: 'function', name: 'f', content: 'x' }, user()] }).message).toMatch(
      /messages\[0\]\.role must be one of system, developer, user, assistant, tool, got "function"/,
    );
    expect(error({ messages: [{ role: 'tool', content: 'x' }, user()] }).message).toMatch(/messages\[0\] is a tool message; it needs the `tool_call_id`/);
    expect(error({ messages: [{ content: 'x' }] }).message).toMatch(/messages\[0\]\.role .* got undefined/);
    expect(error({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }).message).toMatch(
      /messages\[0\]\.content\[0\] must be a text part .*got type "image_url"/,
    );
    expect(error({ messages: [user(), { role: 'system', content: 'late' }, user()] }).message).toMatch(/messages\[1\] is a system message/);
  });

  it('requires the last message to be a non-empty user message', () => {
    expect(error({ messages: [user(), { role: 'assistant', content: '4' }] }).message).toMatch(/last message must be from the user.*"assistant"/);
    expect(error({ messages: [{ role: 'system', content: 'x' }] }).message).toMatch(/last message must be from the user/);
    expect(error({ messages: [user('   ')] }).message).toMatch(/last user message is empty/);
  });

  it.each([
    ['temperature', -0.1, /`temperature` must be in \[0, 2\], got -0.1/],
    ['temperature', 2.5, /`temperature` must be in \[0, 2\]/],
    ['temperature', Number.NaN, /`temperature` must be a finite number, got NaN/],
    ['temperature', Infinity, /finite number, got Infinity/],
    ['temperature', '0.5', /finite number, got "0.5"/],
    ['top_p', 0, /`top_p` must be in \(0, 1\]/],
    ['top_p', 1.01, /`top_p` must be in \(0, 1\]/],
    ['max_tokens', 0, /`max_tokens` must be in \[1, ∞\)/],
    ['max_tokens', -5, /`max_tokens` must be in \[1/],
    ['max_tokens', 1.5, /`max_tokens` must be an integer, got 1.5/],
    ['n', 0, /`n` must be in \[1, 128\]/],
    ['n', 2.5, /`n` must be an integer/],
    ['top_logprobs', -1, /`top_logprobs` must be in \[0, 20\]/],
    ['top_logprobs', 21, /`top_logprobs` must be in \[0, 20\]/],
    ['seed', 0.5, /`seed` must be an integer/],
    ['seed', Number.NEGATIVE_INFINITY, /`seed` must be a finite number/],
  ] as const)('rejects %s = %s', (field, value, message) => {
    const extra = field === 'top_logprobs' ? { logprobs: true } : {};
    expect(error({ messages: [user()], ...extra, [field]: value }).message).toMatch(message);
  });

  it('checks flags, model, stop and top_logprobs without logprobs', () => {
    expect(error({ messages: [user()], stream: 'yes' }).message).toMatch(/`stream` must be a boolean/);
    expect(error({ messages: [user()], logprobs: 1 }).message).toMatch(/`logprobs` must be a boolean/);
    expect(error({ messages: [user()], model: '' }).message).toMatch(/`model` must be a non-empty string/);
    expect(error({ messages: [user()], top_logprobs: 2 }).message).toMatch(/`top_logprobs` needs `logprobs: true`/);
    expect(error({ messages: [user()], stop: ['a', 'b', 'c', 'd', 'e'] }).message).toMatch(/at most 4 sequences, got 5/);
    expect(error({ messages: [user()], stop: ['a', 3] }).message).toMatch(/`stop`\[1\] must be a non-empty string, got 3/);
    expect(error({ messages: [user()], stop: '' }).message).toMatch(/`stop` must be a non-empty string/);
  });

  it('narrows unknown input to ChatCompletionRequest', () => {
    const input: unknown = JSON.parse('{"messages":[{"role":"user","content":"hi"}]}');
    validateChatRequest(input);
    expect(input.messages[0]!.content).toBe('hi');
  });
});

describe('OpenAI request features', () => {
  const toolCall = { id: 'call_1', type: 'function' as const, function: { name: 'weather', arguments: '{"city":"Paris"}' } };
  const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const roundTrip: ChatCompletionRequest = {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [toolCall] },
      { role: 'tool', tool_call_id: 'call_1', content: '18 °C, sunny' },
    ],
    tools,
    tool_choice: 'auto',
    max_completion_tokens: 50,
    temperature: null,
    seed: 7,
    user: 'u-1',
    metadata: { app: 'test' },
    stream: true,
    stream_options: { include_usage: true },
  };

  it('accepts tools, tool calls, tool results, developer messages, text parts and nulls', () => {
    expect(() => validateChatRequest(roundTrip)).not.toThrow();
    expect(() => validateChatRequest({ messages: [user()], response_format: { type: 'json_object' } })).not.toThrow();
  });

  it('rejects what it cannot route: bad tools, orphan tool results, a null content without tool calls, audio', () => {
    expect(error({ messages: [user()], tools: [{ type: 'custom', custom: { name: 'x' } }] }).message).toMatch(/tools\[0\] must be \{type: "function"/);
    expect(error({ messages: [user(), { role: 'tool', tool_call_id: 'nope', content: 'x' }] }).message).toMatch(/answers no tool call/);
    expect(error({ messages: [{ role: 'assistant', content: null }, user()] }).message).toMatch(/content may be null only with tool_calls/);
    expect(error({ messages: [user()], audio: { voice: 'alloy' } }).message).toMatch(/`audio` is not supported/);
    expect(error({ messages: [user()], stream_options: { include_usage: true } }).message).toMatch(/only allowed with `stream: true`/);
    expect(error({ messages: [user()], functions: [] }).message).toMatch(/use `tools`/);
    expect(error({ messages: [user()], response_format: { type: 'yaml' } }).message).toMatch(/response_format.type/);
  });

  it('says why a request needs the cloud, and turns the rest into a local request', () => {
    expect(cloudOnlyReason(roundTrip)).toMatch(/tools/);
    expect(cloudOnlyReason({ messages: [user()], tools, tool_choice: 'none' } as ChatCompletionRequest)).toBeUndefined();
    expect(cloudOnlyReason({ messages: roundTrip.messages })).toMatch(/tool calls or tool results/);
    expect(cloudOnlyReason({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } })).toMatch(/json_object/);
    expect(cloudOnlyReason({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'text' } })).toBeUndefined();
    const local = localChatRequest({
      messages: [
        { role: 'developer', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
      max_completion_tokens: 9,
      max_tokens: 100,
      temperature: null,
      user: 'u',
      seed: 3,
    });
    expect(local).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'a\nb' },
      ],
      max_tokens: 9,
      seed: 3,
    });
    expect(() => validateLocalChatRequest(local)).not.toThrow();
    expect(() => validateLocalChatRequest(roundTrip)).toThrow(/for a local model/);
    expect(wantsStreamUsage(roundTrip)).toBe(true);
    expect(wantsStreamUsage({ messages: [user() as ChatCompletionRequest['messages'][number]], stream: true })).toBe(false);
  });
});

describe('helpers', () => {
  const completion: ChatCompletion = {
    id: 'c1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: '4' },
        finish_reason: 'stop',
        logprobs: { content: [{ token: '4', logprob: -0.01, bytes: [52], top_logprobs: [{ token: '4', logprob: -0.01, bytes: [52] }] }] },
      },
      { index: 1, message: { role: 'assistant', content: null }, finish_reason: 'stop', logprobs: null },
    ],
  };

  it('reads text and log-probs of a choice', () => {
    expect(completionText(completion)).toBe('4');
    expect(completionText(completion, 1)).toBe('');
    expect(completionText(completion, 5)).toBe('');
    expect(choiceLogprobs(completion.choices[0]!)?.[0]?.logprob).toBe(-0.01);
    expect(choiceLogprobs(completion.choices[1]!)).toBeNull();
  });
});
