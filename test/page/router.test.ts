import { describe, expect, it, vi } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../src/common/openai';
import { EdgeRouter, EscalationController, type RouterCloud, type RouterWorker } from '../../src/page/router';
import type { GenerateResult, RouteResult } from '../../src/worker/protocol';

const completion = (model: string, content: string): ChatCompletion => ({
  id: `c-${model}`, object: 'chat.completion', created: 0, model,
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
});

/** A worker whose UniRoute decision and local confidence are scripted per prompt. */
function fakeWorker(script: { chosen: (prompt: string) => string; confidence?: (prompt: string) => number; localFails?: boolean; delayMs?: number; routeFails?: EdgeRouteError }) {
  const log: string[] = [];
  const cancelled: string[] = [];
  const worker: RouterWorker = {
    async route(prompt, lambda): Promise<RouteResult> {
      if (script.routeFails) throw script.routeFails;
      return {
        clusterProbabilities: [1, 0], predictedErrors: { local: 0.4, 'cloud-small': 0.3, 'cloud-big': 0.1 },
        chosenModel: script.chosen(prompt), lambda, embedMillis: 1, clusterMillis: 0.05, decideMillis: 0.1,
        promptChars: prompt.length, embeddedChars: Math.min(prompt.length, 450), truncated: prompt.length > 450,
        notes: prompt.length > 450 ? ['cut for routing'] : [],
      };
    },
    calibrateLambda: vi.fn(async () => ({ lambda: 0.25, achieved: 0.3, feasible: true })),
    async generate(request: ChatCompletionRequest): Promise<GenerateResult> {
      const prompt = String(request.messages.at(-1)!.content);
      log.push(`start ${prompt}`);
      await new Promise((r) => setTimeout(r, script.delayMs ?? 1));
      log.push(`end ${prompt}`);
      if (script.localFails) throw new EdgeRouteError('local-engine-failed', 'no WebGPU and no WASM');
      return { completion: completion('local', `local says ${prompt}`), confidence: { score: script.confidence?.(prompt) ?? -0.5, method: 'mean-logprob' }, millis: 1 };
    },
    cancel: (id) => void cancelled.push(id),
  };
  return { worker, log, cancelled };
}

function fakeCloud(options: { fails?: boolean } = {}) {
  const calls: string[] = [];
  const cloud: RouterCloud = {
    async chat(model, request, { signal } = {}) {
      calls.push(model);
      if (signal?.aborted) throw new EdgeRouteError('aborted', 'aborted');
      if (options.fails) throw new EdgeRouteError('cloud-failed', 'unreachable after 3 retries');
      return { ...completion(model, `${model} says ${String(request.messages.at(-1)!.content)}`), edgerouteCost: { usd: model === 'cloud-big' ? 0.01 : 0.001 } };
    },
    async *stream(model): AsyncIterable<ChatCompletionChunk> {
      calls.push(`stream ${model}`);
      for (const piece of ['Hel', 'lo']) {
        yield { id: 's', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
      }
      yield { id: 's', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
    },
  };
  return { cloud, calls };
}

const cloudModels = [{ id: 'cloud-small', cost: 0.001 }, { id: 'cloud-big', cost: 0.01 }];
const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

describe('EdgeRouter', () => {
  it('hybrid: keeps a confident local answer, sends predicted failures straight to the cloud', async () => {
    const { worker } = fakeWorker({ chosen: (p) => (p.startsWith('easy') ? 'local' : 'cloud-big') });
    const { cloud, calls } = fakeCloud();
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    const easy = await router.chat.completions.create(ask('easy one'));
    expect(easy.choices[0]!.message.content).toBe('local says easy one');
    expect(easy.edgeroute).toMatchObject({ mode: 'hybrid', model: 'local', routedTo: 'local', escalated: false, degraded: false, costUsd: 0, localConfidence: -0.5 });
    const hard = await router.chat.completions.create(ask('hard one'));
    expect(hard.edgeroute).toMatchObject({ model: 'cloud-big', routedTo: 'cloud-big', escalated: false, costUsd: 0.01 });
    expect(calls).toEqual(['cloud-big']);
  });

  it('cascade: a low confidence escalates; an unreachable cloud returns the local answer marked degraded', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-big', confidence: () => -3 });
    const escalated = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'cascade' }).chat.completions.create(ask('q'));
    expect(escalated.edgeroute).toMatchObject({ model: 'cloud-big', escalated: true, degraded: false, localConfidence: -3 });
    const degraded = await new EdgeRouter({ worker, cloud: fakeCloud({ fails: true }).cloud, localModel: 'local', cloudModels, mode: 'cascade' }).chat.completions.create(ask('q'));
    expect(degraded.edgeroute).toMatchObject({ model: 'local', escalated: true, degraded: true });
    expect(degraded.choices[0]!.message.content).toBe('local says q');
  });

  it('without a local answer the cloud answers; with neither, one typed error', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local', localFails: true });
    const ok = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
    expect(ok.edgeroute).toMatchObject({ model: 'cloud-big', escalated: true });
    const router = new EdgeRouter({ worker, cloud: fakeCloud({ fails: true }).cloud, localModel: 'local', cloudModels });
    await expect(router.chat.completions.create(ask('q'))).rejects.toMatchObject({ name: 'EdgeRouteError', code: 'no-model-available' });
  });

  it('queues local requests in order; an aborted one is skipped without disturbing the others', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'local', delayMs: 20 });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const controller = new AbortController();
    const a = router.chat.completions.create(ask('a'));
    const b = router.chat.completions.create(ask('b'), { signal: controller.signal });
    const c = router.chat.completions.create(ask('c'));
    controller.abort();
    await expect(b).rejects.toMatchObject({ code: 'aborted' });
    expect((await a).choices[0]!.message.content).toBe('local says a');
    expect((await c).choices[0]!.message.content).toBe('local says c');
    expect(log).toEqual(['start a', 'end a', 'start c', 'end c']);
  });

  it('calibrates λ to a target over the models it can use, and validates its configuration', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, lambda: { kind: 'cloudShare', share: 0.3 } });
    expect(await router.lambda()).toBe(0.25);
    // Hybrid spends half the share target on UniRoute's pre-routing, the rest on escalations.
    expect(worker.calibrateLambda).toHaveBeenCalledWith({ kind: 'cloudShare', share: 0.15 }, ['local', 'cloud-small', 'cloud-big']);
    const routeOnly = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'route', lambda: { kind: 'cloudShare', share: 0.3 } });
    await routeOnly.lambda();
    expect(worker.calibrateLambda).toHaveBeenLastCalledWith({ kind: 'cloudShare', share: 0.3 }, ['local', 'cloud-small', 'cloud-big']);
    expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, cloudModels, mode: 'hybrid' })).toThrow(/needs a local model/);
    expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels: [{ id: 'x', cost: Number.NaN }] })).toThrow(/finite number/);
    expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, lambda: -1 })).toThrow(/lambda/);
    expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'fast' as never })).toThrow(/unknown mode/);
    await expect(router.chat.completions.create({ messages: [] })).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('carries truncation and what went wrong in the report, as notes', async () => {
    const long = `easy ${'word '.repeat(200)}`;
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const ok = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask(long));
    expect(ok.edgeroute).toMatchObject({ model: 'local', truncated: true, notes: ['cut for routing'] });
    const plain = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
    expect(plain.edgeroute).toMatchObject({ truncated: false, notes: [] });

    const failing = fakeWorker({ chosen: () => 'local', localFails: true }).worker;
    const fallback = await new EdgeRouter({ worker: failing, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask(long));
    expect(fallback.edgeroute.notes).toEqual(['cut for routing', 'The local model failed (local-engine-failed: no WebGPU and no WASM); cloud-big answered instead.']);

    const unsure = fakeWorker({ chosen: () => 'local', confidence: () => -9 }).worker;
    const degraded = await new EdgeRouter({ worker: unsure, cloud: fakeCloud({ fails: true }).cloud, localModel: 'local', cloudModels, mode: 'cascade' }).chat.completions.create(ask('q'));
    expect(degraded.edgeroute.degraded).toBe(true);
    expect(degraded.edgeroute.notes).toEqual([expect.stringMatching(/the cloud failed \(cloud-failed: unreachable after 3 retries\); the local answer is returned/)]);
  });

  it('answers from the cloud when routing itself fails, except for bad input and local-only', async () => {
    const dead = fakeWorker({ chosen: () => 'local', routeFails: new EdgeRouteError('worker-failed', 'the worker stopped') }).worker;
    const { cloud, calls } = fakeCloud();
    const answer = await new EdgeRouter({ worker: dead, cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
    expect(answer.edgeroute).toMatchObject({ model: 'cloud-small', routedTo: 'cloud-small', clusterProbabilities: [] });
    expect(answer.edgeroute.notes).toEqual(['Routing failed (worker-failed: the worker stopped); cloud-small was chosen without a routing decision.']);
    const streamed: string[] = [];
    for await (const chunk of await new EdgeRouter({ worker: dead, cloud, localModel: 'local', cloudModels }).chat.completions.create({ ...ask('q'), stream: true })) {
      streamed.push(chunk.choices[0]?.delta.content ?? '');
    }
    expect(streamed.join('')).toBe('Hello');
    expect(calls).toEqual(['cloud-small', 'stream cloud-small']);
    await expect(new EdgeRouter({ worker: dead, cloud, localModel: 'local', cloudModels, mode: 'local-only' }).chat.completions.create(ask('q')))
      .rejects.toMatchObject({ code: 'worker-failed' });
    const bad = fakeWorker({ chosen: () => 'local', routeFails: new EdgeRouteError('invalid-input', 'no') }).worker;
    await expect(new EdgeRouter({ worker: bad, cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q')))
      .rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('rejects empty, whitespace-only and malformed requests with invalid-input, and keeps answering', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const bad: unknown[] = [
      ask(''), ask('   \n\t '), { messages: [] }, { messages: 'hi' }, { messages: [{ role: 'robot', content: 'x' }] },
      { messages: [{ role: 'user', content: ['parts'] }] }, { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] },
      { ...ask('q'), temperature: Number.NaN }, { ...ask('q'), max_tokens: -1 }, { ...ask('q'), stream: 'yes' }, null,
    ];
    for (const request of bad) {
      const error = await router.chat.completions.create(request as never).then(() => undefined, (e: unknown) => e);
      expect(error, JSON.stringify(request)).toBeInstanceOf(EdgeRouteError);
      expect(error).toMatchObject({ code: 'invalid-input' });
    }
    expect((await router.chat.completions.create(ask('easy'))).choices[0]!.message.content).toBe('local says easy');
  });

  it('streams cloud answers as they come, with the report on the last chunk', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-small' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const chunks: string[] = [];
    let report;
    for await (const chunk of await router.chat.completions.create({ ...ask('q'), stream: true })) {
      chunks.push(chunk.choices[0]?.delta.content ?? '');
      report = chunk.edgeroute ?? report;
    }
    expect(chunks.join('')).toBe('Hello');
    expect(report).toMatchObject({ model: 'cloud-small' });
  });
});

describe('EscalationController', () => {
  it('holds the overall cloud share at the target whatever the confidence scale', () => {
    for (const [target, preRate, scale] of [[0.4, 0.2, 1], [0.3, 0.15, 100], [0.6, 0.5, 0.01]] as const) {
      const controller = new EscalationController(target);
      let cloud = 0;
      let seed = 42;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      for (let i = 0; i < 1000; i++) {
        const pre = rand() < preRate;
        controller.recordPreRouted(pre);
        if (pre || controller.escalate(-scale * rand())) cloud++;
      }
      expect(Math.abs(cloud / 1000 - target)).toBeLessThan(0.02);
    }
  });
});
