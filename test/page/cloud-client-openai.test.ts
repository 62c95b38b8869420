/**
 * The cloud client with OpenAI's features beyond plain text: tools in the request, tool calls
 * in the answer (whole and streamed in pieces), and OpenAI's error fields on a failure.
 */
import { describe, expect, it } from 'vitest';
import { CloudClient, CloudError } from '../../src/page/cloud-client';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/common/openai';

const model = { id: 'big', model: 'gpt-test', baseURL: 'https://api.example.com/v1', usdPerMTokIn: 2, usdPerMTokOut: 8, maxRetries: 0 };
const call = { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } };
const request: ChatCompletionRequest = {
  messages: [{ role: 'user', content: 'Weather in Paris?' }],
  tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
  tool_choice: 'auto',
  user: 'u-1',
  metadata: { app: 'test' },
};

function clientAnswering(respond: (body: Record<string, unknown>) => Response) {
  const bodies: Record<string, unknown>[] = [];
  const fetch = (async (_url: RequestInfo | URL, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body)) as Record<string, unknown>;
    bodies.push(body);
    return respond(body);
  }) as typeof globalThis.fetch;
  return { client: new CloudClient({ models: [model], fetch, logger: { warn() {} } }), bodies };
}

describe('CloudClient and OpenAI tools', () => {
  it('sends tools, tool_choice, user and metadata as given and returns the tool calls', async () => {
    const { client, bodies } = clientAnswering(() =>
      Response.json({
        id: 'x',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-test',
        choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [call] }, finish_reason: 'tool_calls', logprobs: null }],
        usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 },
      }),
    );
    const answer = await client.chat('big', request);
    expect(bodies[0]).toMatchObject({ model: 'gpt-test', tools: request.tools, tool_choice: 'auto', user: 'u-1', metadata: { app: 'test' } });
    expect(answer.choices[0]!.message.tool_calls).toEqual([call]);
    expect(answer.choices[0]!.finish_reason).toBe('tool_calls');
    expect(answer.edgerouteCost.usd).toBeCloseTo((20 * 2 + 10 * 8) / 1e6);
  });

  it('streams tool-call deltas through', async () => {
    const events =
      [
        {
          choices: [
            {
              index: 0,
              delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }] },
              finish_reason: null,
            },
          ],
        },
        { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish_reason: null }] },
        { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, finish_reason: null }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      ]
        .map((e) => `data: ${JSON.stringify({ id: 's', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', ...e })}\n\n`)
        .join('') + 'data: [DONE]\n\n';
    const { client, bodies } = clientAnswering(() => new Response(events, { headers: { 'content-type': 'text/event-stream' } }));
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of client.stream('big', { ...request, stream: true, stream_options: { include_obfuscation: false } })) chunks.push(c);
    expect(bodies[0]).toMatchObject({ stream: true, stream_options: { include_obfuscation: false, include_usage: true }, tools: request.tools });
    const pieces = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(pieces[0]).toEqual({ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } });
    expect(pieces.map((p) => p.function?.arguments ?? '').join('')).toBe('{"city":"Paris"}');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it("puts OpenAI's status, type, param and code on the error", async () => {
    const { client } = clientAnswering(() =>
      Response.json(
        {
          error: {
            message: "Invalid schema for function 'weather'.",
            type: 'invalid_request_error',
            param: 'tools[0].function.parameters',
            code: 'invalid_function_parameters',
          },
        },
        { status: 400 },
      ),
    );
    const error = await client.chat('big', request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({
      code: 'cloud-http',
      status: 400,
      type: 'invalid_request_error',
      param: 'tools[0].function.parameters',
      providerCode: 'invalid_function_parameters',
    });
    const limited = clientAnswering(() => new Response('slow down', { status: 429, headers: { 'retry-after': '120' } }));
    const rate = await limited.client.chat('big', request).catch((e: unknown) => e);
    expect(rate).toMatchObject({ code: 'cloud-rate-limited', status: 429, type: 'rate_limit_error', param: null, providerCode: null });
  });
});
