/**
 * An app written for the official `openai` SDK, in Chromium, moved onto edgeroute by its client
 * construction line alone: `fetch: EdgeRoute.createOpenAIFetch(router)`. The real `openai`
 * package is bundled for the page here (esbuild, as an IIFE) and the router is the built
 * dist/edgeroute.iife.js with the tiny WASM models. Cloud models: the replay cloud behind the
 * same-origin proxy (one of them with an injected 429 + Retry-After, one slowed down for the
 * abort), and a tool-calling model answered by page.route (the replay cloud has no tool
 * recordings).
 */
import type { Page } from '@playwright/test';
import { build } from 'esbuild';
import { expect, recordedPrompts, test, TINY_WASM_ENGINES } from './fixtures';

const TOOL_CALL = { id: 'call_weather_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } } as const;

const CONFIG = {
  ...TINY_WASM_ENGINES,
  cloud: [
    { id: 'gpt-4o-mini', model: 'gpt-4o-mini', baseURL: '/api/llm/v1', usdPerMTokIn: 0.15, usdPerMTokOut: 0.6 },
    // Every call answered 429 with Retry-After: 7 by the replay cloud; edgeroute does not retry it (maxRetries 0).
    {
      id: 'gpt-4o',
      model: 'gpt-4o',
      baseURL: '/api/llm/v1',
      usdPerMTokIn: 2.5,
      usdPerMTokOut: 10,
      maxRetries: 0,
      headers: { 'x-replay-fault': '429; retry-after=7' },
    },
    // The replay cloud's gpt-4o-mini answers, 5 s late: time to abort.
    { id: 'llama3.1-405b', model: 'gpt-4o-mini', baseURL: '/api/llm/v1', usdPerMTokIn: 3, usdPerMTokOut: 3, headers: { 'x-replay-latency-ms': '5000' } },
    // A tool-calling model, answered by page.route below.
    { id: 'llama3.1-70b', model: 'tool-model', baseURL: '/tool-cloud/v1', usdPerMTokIn: 0.9, usdPerMTokOut: 0.9 },
  ],
  profile: '/profiles/default-validation.json',
  mode: 'hybrid',
};

async function openaiBundle(): Promise<string> {
  const result = await build({
    stdin: { contents: "export { default as OpenAI } from 'openai';", resolveDir: import.meta.dirname, loader: 'ts' },
    bundle: true,
    format: 'iife',
    globalName: 'OpenAISDK',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/**
 * A cloud at /tool-cloud/v1 that asks for the weather tool, then answers from the tool's
 * result; each request body it gets is pushed to `seen`.
 */
async function routeToolCloud(page: Page, seen: { tools?: unknown; messages: { role: string }[] }[] = []): Promise<void> {
  await page.route('**/tool-cloud/v1/chat/completions', async (route) => {
    const body = JSON.parse(route.request().postData() ?? '{}') as { tools?: unknown; messages: { role: string; content?: string }[] };
    seen.push(body);
    const last = body.messages.at(-1)!;
    const message =
      last.role === 'tool'
        ? { role: 'assistant', content: `Paris: ${last.content}.`, refusal: null }
        : { role: 'assistant', content: null, refusal: null, tool_calls: [TOOL_CALL] };
    await route.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        id: 'chatcmpl-tool',
        object: 'chat.completion',
        created: 1_700_000_000,
        model: 'tool-model',
        choices: [{ index: 0, message, finish_reason: last.role === 'tool' ? 'stop' : 'tool_calls', logprobs: null }],
        usage: { prompt_tokens: 50, completion_tokens: 12, total_tokens: 62 },
      }),
    });
  });
}

test('an openai-SDK app runs through createOpenAIFetch: non-streaming, streaming with usage, tools, abort, 429', async ({ page, site }) => {
  test.setTimeout(240_000);
  const toolRequests: { tools?: unknown; messages: { role: string }[] }[] = [];
  await routeToolCloud(page, toolRequests);
  await page.goto(`${site.url}/iife.html`);
  await page.addScriptTag({ content: await openaiBundle() });

  const prompts = recordedPrompts.slice(0, 2);
  const result = await page.evaluate(
    async ({ config, prompts }) => {
      type SDK = typeof import('openai').default;
      const { OpenAI } = (window as unknown as { OpenAISDK: { OpenAI: SDK } }).OpenAISDK;
      const router = await window.EdgeRoute.createRouter(config as never);

      // ---- The app, as the openai docs write it; only this construction line is edgeroute's.
      const openai = new OpenAI({
        baseURL: 'https://edgeroute.invalid/v1',
        apiKey: 'unused',
        fetch: window.EdgeRoute.createOpenAIFetch(router),
        dangerouslyAllowBrowser: true,
        maxRetries: 0,
      });

      // Non-streaming, routed (the app's model name is not a configured cloud model).
      const routed = await openai.chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: [{ role: 'user', content: prompts[0]! }],
        max_completion_tokens: 4,
        temperature: 0,
      });
      // Non-streaming, a configured cloud model by name.
      const named = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Answer with the letter.' },
          { role: 'user', content: prompts[0]! },
        ],
      });

      // Streaming with usage.
      const chunks: import('openai').default.ChatCompletionChunk[] = [];
      const firstChunkMs = performance.now();
      let firstAt = 0;
      const stream = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: prompts[1]! }],
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const chunk of stream) {
        if (chunks.length === 0) firstAt = performance.now() - firstChunkMs;
        chunks.push(chunk);
      }

      // Tools round trip.
      const tools: import('openai').default.ChatCompletionTool[] = [
        {
          type: 'function',
          function: {
            name: 'weather',
            description: 'Weather now',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ];
      const messages: import('openai').default.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
      const first = await openai.chat.completions.create({ model: 'llama3.1-70b', messages, tools });
      const call = first.choices[0]!.message.tool_calls![0]! as import('openai').default.ChatCompletionMessageFunctionToolCall;
      messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '18 °C, sunny' });
      const second = await openai.chat.completions.create({ model: 'llama3.1-70b', messages, tools });

      // Abort: a slow cloud answer, aborted after 300 ms.
      const controller = new AbortController();
      const abortStarted = performance.now();
      setTimeout(() => controller.abort(), 300);
      const aborted = await openai.chat.completions
        .create({ model: 'llama3.1-405b', messages: [{ role: 'user', content: prompts[0]! }] }, { signal: controller.signal })
        .then(
          () => 'answered',
          (e: unknown) => (e as Error).constructor.name,
        );
      const abortMs = performance.now() - abortStarted;

      // 429 with Retry-After.
      const limited = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: prompts[0]! }] }).then(
        () => undefined,
        (e: unknown) => e as InstanceType<SDK['RateLimitError']>,
      );
      router.close();
      return {
        routed: {
          model: routed.model,
          content: routed.choices[0]!.message.content,
          report: (routed as unknown as { edgeroute: { model: string; routedTo: string } }).edgeroute,
        },
        named: { content: named.choices[0]!.message.content, report: (named as unknown as { edgeroute: { model: string; forcedCloud?: string } }).edgeroute },
        chunks: chunks.map((c) => ({
          content: c.choices[0]?.delta.content ?? '',
          choices: c.choices.length,
          usage: c.usage ?? null,
          report: (c as unknown as { edgeroute?: { model: string } }).edgeroute ?? null,
        })),
        firstAt,
        tools: {
          call,
          firstFinish: first.choices[0]!.finish_reason,
          answer: second.choices[0]!.message.content,
          report: (second as unknown as { edgeroute: { model: string; forcedCloud?: string } }).edgeroute,
        },
        aborted,
        abortMs,
        limited: limited
          ? {
              isRateLimit: limited instanceof OpenAI.RateLimitError,
              status: limited.status,
              retryAfter: limited.headers?.get('retry-after') ?? null,
              code: limited.code ?? null,
              message: limited.message,
            }
          : null,
      };
    },
    { config: CONFIG, prompts },
  );

  console.log(
    `routed → ${result.routed.report.model} (model field ${result.routed.model}); streamed ${result.chunks.length} chunks, first after ${result.firstAt.toFixed(0)} ms; `
      + `tool call ${result.tools.call.function.name}(${result.tools.call.function.arguments}) → "${result.tools.answer}"; abort → ${result.aborted} after ${result.abortMs.toFixed(0)} ms; `
      + `429 → ${JSON.stringify(result.limited)}`,
  );

  // Non-streaming: a local answer's model is edgeroute.model; the named model was forced.
  if (result.routed.report.model === 'llama3.2-1b') expect(result.routed.model).toBe('llama3.2-1b');
  expect(typeof result.routed.content).toBe('string');
  expect(result.named.report).toMatchObject({ model: 'gpt-4o-mini', forcedCloud: 'the request named the cloud model gpt-4o-mini' });
  expect(result.named.content).toMatch(/^[ABCD]/);

  // Streaming with usage: text chunks, then the usage chunk (no choices) carrying the report.
  expect(result.chunks.length).toBeGreaterThan(2);
  expect(result.chunks.map((c) => c.content).join('')).toMatch(/^[ABCD]/);
  const last = result.chunks.at(-1)!;
  expect(last.choices).toBe(0);
  expect(last.usage?.total_tokens).toBeGreaterThan(0);
  expect(last.report).toMatchObject({ model: 'gpt-4o-mini' });
  expect(result.chunks.slice(0, -1).every((c) => c.report === null && c.usage === null)).toBe(true);

  // Tools: the call came back, the tool result went to the same cloud model, which answered.
  expect(result.tools.call).toEqual(TOOL_CALL);
  expect(result.tools.firstFinish).toBe('tool_calls');
  expect(result.tools.answer).toBe('Paris: 18 °C, sunny.');
  expect(result.tools.report.model).toBe('llama3.1-70b');
  expect(toolRequests).toHaveLength(2);
  expect(toolRequests[0]!.tools).toBeDefined();
  expect(toolRequests[1]!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);

  // Abort: the SDK's own error, long before the slow answer.
  expect(result.aborted).toBe('APIUserAbortError');
  expect(result.abortMs).toBeLessThan(3000);

  // 429: the SDK's RateLimitError with the cloud's Retry-After.
  expect(result.limited).toMatchObject({ isRateLimit: true, status: 429, retryAfter: '7' });
  expect(result.limited!.message).toMatch(/429/);
});

test('a Vercel AI SDK app runs through @ai-sdk/openai-compatible with fetch: createOpenAIFetch(router)', async ({ page, site }) => {
  test.setTimeout(240_000);
  await routeToolCloud(page);
  const bundle = await build({
    stdin: {
      contents:
        "export { createOpenAICompatible } from '@ai-sdk/openai-compatible'; export { generateText, streamText, tool, jsonSchema, stepCountIs } from 'ai';",
      resolveDir: import.meta.dirname,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    globalName: 'AISDK',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  await page.goto(`${site.url}/iife.html`);
  await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
  const prompt = recordedPrompts[1]!;
  const result = await page.evaluate(
    async ({ config, prompt }) => {
      type AI = typeof import('ai') & typeof import('@ai-sdk/openai-compatible');
      const { createOpenAICompatible, generateText, streamText, tool, jsonSchema, stepCountIs } = (window as unknown as { AISDK: AI }).AISDK;
      const router = await window.EdgeRoute.createRouter(config as never);
      const edgeroute = createOpenAICompatible({
        name: 'edgeroute',
        baseURL: 'https://edgeroute.invalid/v1',
        fetch: window.EdgeRoute.createOpenAIFetch(router),
        includeUsage: true,
      });

      const named = await generateText({ model: edgeroute('gpt-4o-mini'), prompt, maxRetries: 0 });
      const streamed = streamText({ model: edgeroute('gpt-4o-mini'), prompt, maxRetries: 0 });
      const pieces: string[] = [];
      for await (const t of streamed.textStream) pieces.push(t);
      const usage = await streamed.usage;
      const calls: string[] = [];
      const withTools = await generateText({
        model: edgeroute('llama3.1-70b'),
        prompt: 'What is the weather in Paris?',
        tools: {
          weather: tool({
            description: 'Weather now',
            inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
            execute: async ({ city }) => {
              calls.push(city);
              return `18 °C in ${city}`;
            },
          }),
        },
        stopWhen: stepCountIs(3),
        maxRetries: 0,
      });
      router.close();
      return { named: named.text, pieces, usage: usage.totalTokens ?? null, calls, toolsText: withTools.text };
    },
    { config: CONFIG, prompt },
  );
  console.log(
    `AI SDK: generateText "${result.named}", streamText ${result.pieces.length} pieces (usage ${result.usage}), tools ${JSON.stringify(result.calls)} → "${result.toolsText}"`,
  );
  expect(result.named).toMatch(/^[ABCD]/);
  expect(result.pieces.join('')).toMatch(/^[ABCD]/);
  expect(result.usage).toBeGreaterThan(0);
  expect(result.calls).toEqual(['Paris']);
  expect(result.toolsText).toMatch(/^Paris: .*18 °C in Paris/);
});

test('a local answer streams token by token through the worker (local-only), usage and report last', async ({ page, site }) => {
  test.setTimeout(240_000);
  await page.goto(`${site.url}/iife.html`);
  await page.addScriptTag({ content: await openaiBundle() });
  const result = await page.evaluate(
    async ({ engines, prompt }) => {
      type SDK = typeof import('openai').default;
      const { OpenAI } = (window as unknown as { OpenAISDK: { OpenAI: SDK } }).OpenAISDK;
      const router = await window.EdgeRoute.createRouter({ ...engines, cloud: [], profile: '/profiles/default-validation.json', mode: 'local-only' } as never);
      const openai = new OpenAI({
        baseURL: 'https://edgeroute.invalid/v1',
        apiKey: 'unused',
        fetch: window.EdgeRoute.createOpenAIFetch(router),
        dangerouslyAllowBrowser: true,
      });
      const chunks: { content: string; choices: number; usage: number | null; model: string; report: string | null; at: number }[] = [];
      const started = performance.now();
      const stream = await openai.chat.completions.create({
        model: 'any',
        messages: [{ role: 'user', content: prompt }],
        max_completion_tokens: 12,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const c of stream) {
        chunks.push({
          content: c.choices[0]?.delta.content ?? '',
          choices: c.choices.length,
          usage: c.usage?.total_tokens ?? null,
          model: c.model,
          report: (c as unknown as { edgeroute?: { model: string } }).edgeroute?.model ?? null,
          at: performance.now() - started,
        });
      }
      router.close();
      return chunks;
    },
    { engines: TINY_WASM_ENGINES, prompt: 'What is 2 + 3?' },
  );
  const text = result.filter((c) => c.choices > 0 && c.content !== '');
  console.log(
    `local stream: ${text.length} text chunks over ${(result.at(-1)!.at - result[0]!.at).toFixed(0)} ms: ${JSON.stringify(text.map((c) => c.content).join(''))}`,
  );
  expect(text.length).toBeGreaterThan(2);
  expect(result.every((c) => c.model === 'llama3.2-1b')).toBe(true);
  expect(result.at(-1)).toMatchObject({ choices: 0, report: 'llama3.2-1b' });
  expect(result.at(-1)!.usage).toBeGreaterThan(0);
  expect(result.slice(0, -1).every((c) => c.report === null && c.usage === null)).toBe(true);
});
