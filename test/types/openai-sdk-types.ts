/**
 * Compile-time checks against the official `openai` package's types (no runtime code runs):
 * what the SDK's docs write as a request is an edgeroute request, and what the router returns
 * is assignable to the SDK's ChatCompletion / ChatCompletionChunk. Checked by `npx tsc -p tsconfig.json`
 * (test/ is in the project) and by test/page/openai-types.test.ts, which compiles this file alone.
 * Each `@ts-expect-error` is a check too: it fails the compile when the line stops being an error.
 */
import type OpenAI from 'openai';
import type { ChatCompletionRequest } from '../../src/common/openai';
import type { EdgeRouter } from '../../src/page/router';

declare const router: EdgeRouter;

// Requests as the SDK's docs write them, checked against the SDK's own types first.
const plain = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'developer', content: 'You are a helpful assistant.' },
    { role: 'user', content: [{ type: 'text', text: 'Hello!' }] },
  ],
  max_completion_tokens: 100,
  temperature: null,
  seed: 42,
  user: 'user-1234',
  metadata: { feature: 'chat' },
  response_format: { type: 'json_object' },
} satisfies OpenAI.ChatCompletionCreateParamsNonStreaming;

const withTools = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Use the tools.' },
    { role: 'user', content: 'What is the weather in Paris?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'weather',
        description: 'Weather now',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    },
  ],
  tool_choice: { type: 'function', function: { name: 'weather' } },
  parallel_tool_calls: false,
} satisfies OpenAI.ChatCompletionCreateParamsNonStreaming;

const streaming = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hi' }],
  stream: true,
  stream_options: { include_usage: true },
  stop: ['\n'],
  logprobs: true,
  top_logprobs: 2,
} satisfies OpenAI.ChatCompletionCreateParamsStreaming;

export const requests: ChatCompletionRequest[] = [plain, withTools, streaming];

// What the router returns is the SDK's type…
export async function answers(): Promise<{ completion: OpenAI.ChatCompletion; chunks: OpenAI.ChatCompletionChunk[] }> {
  const completion: OpenAI.ChatCompletion = await router.chat.completions.create(plain);
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of await router.chat.completions.create(streaming)) chunks.push(chunk);
  return { completion, chunks };
}

// Not the other way round for answers: the SDK's may hold custom (non-function) tool calls and
// delta roles other than 'assistant', which edgeroute never produces.

// What the SDK accepts but edgeroute does not: image parts and the deprecated function role.
export const rejected: ChatCompletionRequest[] = [
  // @ts-expect-error image parts are not text chat
  { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] },
  // @ts-expect-error the deprecated 'function' role
  { messages: [{ role: 'function', name: 'f', content: 'x' }] },
];
