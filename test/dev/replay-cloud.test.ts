import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/common/openai';
import { parseFaultHeader, splitDeltas, startReplayCloud, type ReplayCloud } from '../../dev/replay-cloud';
import { loadReplaySets, recordedText, type ReplayItem, type ReplaySet } from '../../dev/replay-data';

const SAMPLE = 'test/fixtures/replay-sample.jsonl';
const GPT4 = 'gpt-4-1106-preview';

let sets: ReplaySet[];
let cloud: ReplayCloud;
let arc: ReplayItem;
let gsm: ReplayItem;

const item = (set: string): ReplayItem => sets.find((s) => s.name === set)!.items[0]!;

function chat(body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal, base = cloud.url): Promise<Response> {
  return fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const ask = (it: ReplayItem, model = GPT4, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model,
  messages: [{ role: 'user', content: it.prompt }],
  ...extra,
});

/** SSE `data:` payloads of a finished stream body. */
function events(body: string): string[] {
  return body
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
}

beforeAll(async () => {
  sets = await loadReplaySets(SAMPLE);
  arc = item('routerbench-mix');
  gsm = item('routellm-gsm8k');
  cloud = await startReplayCloud({ sets, hangMs: 5_000 });
});

afterAll(async () => {
  await cloud.close();
});

describe('replay cloud', () => {
  it('loads the committed sample: three sets with recorded responses', () => {
    expect(sets.map((s) => s.name)).toEqual(['routerbench-mix', 'routellm-gsm8k', 'cascade-mmlu']);
    for (const s of sets) expect(s.items.length).toBe(200);
    expect(recordedText("['B\\n']")).toBe('B\n');
    expect(recordedText('["I don\'t know"]')).toBe("I don't know");
    expect(recordedText("['a', 'b']")).toBe("['a', 'b']");
    expect(recordedText(' #### 540')).toBe(' #### 540');
  });

  it('answers as the recorded model, with usage and the replay header', async () => {
    const res = await chat(ask(arc));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-edgeroute-replay')).toBe(`routerbench-mix/${arc.id}`);
    expect(Number(res.headers.get('x-edgeroute-replay-cost'))).toBe(arc.costs![GPT4]);
    const body = (await res.json()) as ChatCompletion;
    const text = recordedText(arc.responses[GPT4]!);
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe(GPT4);
    expect(body.choices[0]!.message.content).toBe(text);
    expect(body.choices[0]!.finish_reason).toBe('stop');
    expect(body.usage).toEqual({
      prompt_tokens: Math.ceil(arc.prompt.length / 4),
      completion_tokens: Math.ceil(text.length / 4),
      total_tokens: Math.ceil(arc.prompt.length / 4) + Math.ceil(text.length / 4),
    });
    // Another model on the same prompt gets its own answer.
    const other = (await (await chat(ask(arc, 'WizardLM/WizardLM-13B-V1.2'))).json()) as ChatCompletion;
    expect(other.choices[0]!.message.content).toBe(recordedText(arc.responses['WizardLM/WizardLM-13B-V1.2']!));
  });

  it('matches a prompt sent after a system message or split into system + user', async () => {
    const mmlu = item('cascade-mmlu');
    const card = sets.find((s) => s.name === 'cascade-mmlu')!.card;
    const withSystem = await chat({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: String(card.system_prompt) },
        { role: 'user', content: `  ${mmlu.prompt}\n` },
      ],
    });
    expect(withSystem.status).toBe(200);
    expect(((await withSystem.json()) as ChatCompletion).choices[0]!.message.content).toBe(mmlu.responses['gpt-4o']);

    const cut = arc.prompt.lastIndexOf('\n\n');
    const split = await chat({
      model: GPT4,
      messages: [
        { role: 'system', content: arc.prompt.slice(0, cut) },
        { role: 'user', content: arc.prompt.slice(cut + 2) },
      ],
    });
    expect(split.status).toBe(200);
    expect(split.headers.get('x-edgeroute-replay')).toBe(`routerbench-mix/${arc.id}`);
  });

  it('streams the recorded answer as SSE chunks ending in stop and [DONE]', async () => {
    const res = await chat(ask(gsm, GPT4, { stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const data = events(await res.text());
    expect(data[data.length - 1]).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const contents = chunks.map((c) => c.choices[0]?.delta.content ?? '').filter((c) => c !== '');
    expect(contents.length).toBeGreaterThan(2);
    expect(contents.join('')).toBe(recordedText(gsm.responses[GPT4]!));
    expect(chunks[chunks.length - 1]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);

    const withUsage = events(await (await chat(ask(gsm, GPT4, { stream: true, stream_options: { include_usage: true } }))).text());
    const usage = JSON.parse(withUsage[withUsage.length - 2]!) as ChatCompletionChunk;
    expect(usage.choices).toEqual([]);
    expect(usage.usage?.completion_tokens).toBe(Math.ceil(recordedText(gsm.responses[GPT4]!).length / 4));
  });

  it('splits text into deltas that join back', () => {
    expect(splitDeltas('B\n')).toEqual(['B', '\n']);
    expect(splitDeltas('')).toEqual(['']);
    expect(splitDeltas('héllo wörld 😀!', 4).join('')).toBe('héllo wörld 😀!');
  });

  it('answers 404 for an unknown model or prompt, 400 for a bad request', async () => {
    const noModel = await chat(ask(arc, 'gpt-7'));
    expect(noModel.status).toBe(404);
    const e1 = (await noModel.json()) as { error: { type: string; code: string; message: string } };
    expect(e1.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
    expect(e1.error.message).toMatch(/gpt-7/);

    const noPrompt = await chat({ model: GPT4, messages: [{ role: 'user', content: 'What is the capital of France?' }] });
    expect(noPrompt.status).toBe(404);
    const e2 = (await noPrompt.json()) as { error: { code: string; message: string } };
    expect(e2.error.code).toBe('prompt_not_found');
    expect(e2.error.message).toMatch(/No recorded item has this prompt/);

    // Known prompt, known model, but that model was not recorded on that set.
    const wrongSet = await chat(ask(arc, 'gpt-4o'));
    expect(wrongSet.status).toBe(404);
    expect(((await wrongSet.json()) as { error: { code: string; message: string } }).error.message).toMatch(/no recorded response/);

    for (const bad of [
      '{not json',
      { messages: [] },
      { model: GPT4, messages: [{ role: 'assistant', content: 'x' }] },
      { messages: [{ role: 'user', content: arc.prompt }] },
    ]) {
      const res = await chat(bad);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    }
    expect((await chat(ask(arc), { 'x-replay-fault': 'flood' })).status).toBe(400);
  });

  it('lists models and reports health', async () => {
    const models = (await (await fetch(`${cloud.url}/models`)).json()) as { object: string; data: { id: string }[] };
    expect(models.object).toBe('list');
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining([GPT4, 'claude-v2', 'gpt-4o', 'mistralai/Mixtral-8x7B-Instruct-v0.1']));
    expect(models.data).toHaveLength(2 + 11 + 9 - 1); // gpt-4-1106-preview is in RouteLLM and RouterBench
    const health = (await (await fetch(cloud.url.replace(/\/v1$/, '/healthz'))).json()) as { ok: boolean };
    expect(health.ok).toBe(true);
  });

  it('parses the fault header', () => {
    expect(parseFaultHeader('429; retry-after=3')).toEqual({ fault: '429', params: { 'retry-after': '3' } });
    expect(parseFaultHeader('none')).toEqual({ fault: undefined, params: {} });
    expect(parseFaultHeader('boom')).toHaveProperty('error');
  });

  it('injects each fault on request', async () => {
    const r429 = await chat(ask(arc), { 'x-replay-fault': '429; retry-after=7' });
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBe('7');
    expect(((await r429.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');

    const r500 = await chat(ask(arc), { 'x-replay-fault': '500' });
    expect(r500.status).toBe(500);
    expect(((await r500.json()) as { error: { type: string } }).error.type).toBe('server_error');

    const bad = await chat(ask(arc), { 'x-replay-fault': 'malformed-json' });
    expect(bad.status).toBe(200);
    await expect(bad.json()).rejects.toThrow();

    const badStream = events(await (await chat(ask(gsm, GPT4, { stream: true }), { 'x-replay-fault': 'malformed-json' })).text());
    expect(() => badStream.slice(0, -1).forEach((d) => JSON.parse(d))).toThrow();

    // cut-stream: some chunks, then the connection ends without [DONE].
    const cut = await chat(ask(gsm, GPT4, { stream: true }), { 'x-replay-fault': 'cut-stream' });
    expect(cut.status).toBe(200);
    const received: string[] = [];
    const decoder = new TextDecoder();
    let failed = false;
    const reader = cut.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received.push(decoder.decode(value, { stream: true }));
      }
    } catch {
      failed = true; // undici reports the missing terminating chunk as an error
    }
    const got = events(received.join(''));
    expect(got.length).toBeGreaterThan(0);
    expect(got).not.toContain('[DONE]');
    expect(failed || got.length < 5).toBe(true);

    const cutJson = await chat(ask(arc), { 'x-replay-fault': 'cut-stream' });
    await expect(cutJson.text()).rejects.toThrow();

    await expect(chat(ask(arc), { 'x-replay-fault': 'reset' })).rejects.toThrow();

    // timeout: the client gives up first…
    const t0 = Date.now();
    await expect(chat(ask(arc), { 'x-replay-fault': 'timeout' }, AbortSignal.timeout(150))).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(2_000);
    // …or the server drops the socket after its hold time.
    await expect(chat(ask(arc), { 'x-replay-fault': 'timeout; ms=100' })).rejects.toThrow();

    // Faults are counted; a plain request right after still works.
    expect(cloud.stats.faults).toMatchObject({ '429': 1, '500': 1, 'malformed-json': 2, 'cut-stream': 2, reset: 1, timeout: 2 });
    expect((await chat(ask(arc))).status).toBe(200);
  });

  it('applies latency from the options and from the header', async () => {
    const slow = await startReplayCloud({ sets, latencyMs: 150 });
    try {
      let t = Date.now();
      expect((await chat(ask(arc), {}, undefined, slow.url)).status).toBe(200);
      expect(Date.now() - t).toBeGreaterThanOrEqual(140);
      t = Date.now();
      expect((await chat(ask(arc), { 'x-replay-latency-ms': '0' }, undefined, slow.url)).status).toBe(200);
      expect(Date.now() - t).toBeLessThan(140);
    } finally {
      await slow.close();
    }
  });

  it('applies a constant fault and a seeded fault rate; the header overrides both', async () => {
    const always = await startReplayCloud({ sets, fault: '500' });
    try {
      expect((await chat(ask(arc), {}, undefined, always.url)).status).toBe(500);
      expect((await chat(ask(arc), { 'x-replay-fault': 'none' }, undefined, always.url)).status).toBe(200);
      expect((await chat(ask(arc), { 'x-replay-fault': '429' }, undefined, always.url)).status).toBe(429);
    } finally {
      await always.close();
    }

    const statuses = async (seed: number): Promise<number[]> => {
      const flaky = await startReplayCloud({ sets, faultRate: 0.3, faults: ['429', '500'], seed, retryAfterSeconds: 0 });
      try {
        const out: number[] = [];
        for (let i = 0; i < 40; i++) out.push((await chat(ask(arc), {}, undefined, flaky.url)).status);
        const faults = out.filter((s) => s !== 200).length;
        expect(flaky.stats.faults['429'] + flaky.stats.faults['500']).toBe(faults);
        expect(flaky.stats.requests).toBe(40);
        expect(flaky.stats.answered).toBe(40 - faults);
        expect(flaky.stats.status[200]).toBe(40 - faults);
        return out;
      } finally {
        await flaky.close();
      }
    };
    const a = await statuses(7);
    expect(a.filter((s) => s !== 200).length).toBeGreaterThan(3);
    expect(a.filter((s) => s !== 200).length).toBeLessThan(25);
    expect(a).toContain(429);
    expect(a).toContain(500);
    expect(await statuses(7)).toEqual(a); // same seed, same faults
  });

  it('close() resolves with requests still held open and clears their timers', async () => {
    const held = await startReplayCloud({ sets, hangMs: 60_000, chunkDelayMs: 10_000 });
    const hanging = chat(ask(arc), { 'x-replay-fault': 'timeout' }, undefined, held.url);
    const streaming = chat(ask(gsm, GPT4, { stream: true }), {}, undefined, held.url).then((r) => r.text());
    hanging.catch(() => undefined);
    streaming.catch(() => undefined);
    for (let i = 0; i < 100 && held.stats.requests < 2; i++) await new Promise((ok) => setTimeout(ok, 10));
    expect(held.stats.requests).toBe(2);
    const t0 = Date.now();
    await held.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
    await expect(hanging).rejects.toThrow();
    await expect(streaming).rejects.toThrow();
    await held.close(); // idempotent
  });
});
