import { describe, expect, it, vi } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../src/common/openai';
import {
  EdgeRouter,
  EscalationController,
  type LocalReadiness,
  type RoutedChunk,
  type RoutingReport,
  type RouterCloud,
  type RouterWorker,
} from '../../src/page/router';
import type { EscalationRule, GenerateResult, RouteResult } from '../../src/worker/protocol';

const cloudModels = [
  { id: 'cloud-small', cost: 0.001 },
  { id: 'cloud-big', cost: 0.01 },
];
const COSTS: Readonly<Record<string, number>> = Object.fromEntries(cloudModels.map((m) => [m.id, m.cost]));

const completion = (model: string, content: string): ChatCompletion => ({
  id: `c-${model}`,
  object: 'chat.completion',
  created: 0,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
});

/** A worker whose UniRoute decision and local confidence are scripted per prompt. */
function fakeWorker(script: {
  chosen: (prompt: string) => string;
  confidence?: (prompt: string) => number;
  localFails?: boolean;
  delayMs?: number;
  routeFails?: EdgeRouteError;
  /** Progressive start: where the local model's load stands (absent: the worker has no such report). */
  readiness?: () => LocalReadiness;
  /** The profile's escalation rule, sent with every decision. */
  escalationRule?: EscalationRule;
  /** What the local confidences measure (default 'mean-logprob'). */
  confidenceKind?: string;
}) {
  const log: string[] = [];
  const cancelled: string[] = [];
  const worker: RouterWorker = {
    async route(prompt, lambda): Promise<RouteResult> {
      if (script.routeFails) throw script.routeFails;
      const predictedErrors: Record<string, number> = { local: 0.4, 'cloud-small': 0.3, 'cloud-big': 0.1 };
      const chosenModel = script.chosen(prompt);
      // As the worker ranks: the chosen model first, then the rest by predicted error + λ·cost.
      const ranking = Object.entries(predictedErrors)
        .map(([id, predictedError]) => ({ id, predictedError, cost: COSTS[id] ?? 0, objective: predictedError + lambda * (COSTS[id] ?? 0) }))
        .sort((a, b) => Number(b.id === chosenModel) - Number(a.id === chosenModel) || a.objective - b.objective);
      return {
        clusterProbabilities: [1, 0],
        predictedErrors,
        ranking,
        chosenModel,
        lambda,
        embedMillis: 1,
        clusterMillis: 0.05,
        decideMillis: 0.1,
        promptChars: prompt.length,
        embeddedChars: Math.min(prompt.length, 450),
        truncated: prompt.length > 450,
        notes: prompt.length > 450 ? ['cut for routing'] : [],
        ...(script.escalationRule ? { escalationRule: script.escalationRule } : {}),
      };
    },
    calibrateLambda: vi.fn(async () => ({ lambda: 0.25, achieved: 0.3, feasible: true })),
    async generate(request: ChatCompletionRequest): Promise<GenerateResult> {
      const prompt = String(request.messages.at(-1)!.content);
      log.push(`start ${prompt}`);
      await new Promise((r) => setTimeout(r, script.delayMs ?? 1));
      log.push(`end ${prompt}`);
      if (script.localFails) throw new EdgeRouteError('local-engine-failed', 'no WebGPU and no WASM');
      return {
        completion: completion('local', `local says ${prompt}`),
        confidence: { score: script.confidence?.(prompt) ?? -0.5, method: script.confidenceKind ?? 'mean-logprob' },
        millis: 1,
      };
    },
    cancel: (id) => void cancelled.push(id),
    ...(script.readiness ? { localReadiness: script.readiness } : {}),
  };
  return { worker, log, cancelled };
}

function fakeCloud(
  options: {
    fails?: boolean;
    /** What chat() throws instead of answering. */
    error?: () => Error;
    /** The stream throws `error` after yielding `after` of its chunks ('Hel', 'lo', the stop chunk). */
    streamFails?: { after: number; error: Error };
  } = {},
) {
  const calls: string[] = [];
  const cloud: RouterCloud = {
    async chat(model, request, { signal } = {}) {
      calls.push(model);
      if (signal?.aborted) throw new EdgeRouteError('aborted', 'aborted');
      if (options.fails) throw new EdgeRouteError('cloud-failed', 'unreachable after 3 retries');
      if (options.error) throw options.error();
      return {
        ...completion(model, `${model} says ${String(request.messages.at(-1)!.content)}`),
        edgerouteCost: { usd: model === 'cloud-big' ? 0.01 : 0.001 },
      };
    },
    async *stream(model): AsyncIterable<ChatCompletionChunk> {
      calls.push(`stream ${model}`);
      let sent = 0;
      const failHere = (): void => {
        if (options.streamFails && sent === options.streamFails.after) throw options.streamFails.error;
        sent++;
      };
      for (const piece of ['Hel', 'lo']) {
        failHere();
        yield { id: 's', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
      }
      failHere();
      yield { id: 's', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
    },
  };
  return { cloud, calls };
}

const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

describe('EdgeRouter', () => {
  it('hybrid: keeps a confident local answer, sends predicted failures straight to the cloud', async () => {
    const { worker } = fakeWorker({ chosen: (p) => (p.startsWith('easy') ? 'local' : 'cloud-big') });
    const { cloud, calls } = fakeCloud();
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    const easy = await router.chat.completions.create(ask('easy one'));
    expect(easy.choices[0]!.message.content).toBe('local says easy one');
    expect(easy.edgeroute).toMatchObject({
      mode: 'hybrid',
      model: 'local',
      routedTo: 'local',
      escalated: false,
      degraded: false,
      costUsd: 0,
      localConfidence: -0.5,
    });
    const hard = await router.chat.completions.create(ask('hard one'));
    expect(hard.edgeroute).toMatchObject({ model: 'cloud-big', routedTo: 'cloud-big', escalated: false, costUsd: 0.01 });
    expect(calls).toEqual(['cloud-big']);
  });

  it('cascade: a low confidence escalates; an unreachable cloud returns the local answer marked degraded', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-big', confidence: () => -3 });
    const escalated = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'cascade' }).chat.completions.create(
      ask('q'),
    );
    expect(escalated.edgeroute).toMatchObject({ model: 'cloud-big', escalated: true, degraded: false, localConfidence: -3 });
    const degraded = await new EdgeRouter({
      worker,
      cloud: fakeCloud({ fails: true }).cloud,
      localModel: 'local',
      cloudModels,
      mode: 'cascade',
    }).chat.completions.create(ask('q'));
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

  it('an abort ends a local request at once, though the worker has not answered (the model still loading), and cancels its job', async () => {
    const { worker, cancelled } = fakeWorker({ chosen: () => 'local', delayMs: 5_000 });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'local-only' });
    const controller = new AbortController();
    const pending = router.chat.completions.create(ask('slow'), { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(cancelled).toHaveLength(1);
  });

  it('calibrates λ to a target over the models it can use, and validates its configuration', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, lambda: { kind: 'cloudShare', share: 0.3 } });
    expect(await router.lambda()).toBe(0.25);
    // Hybrid spends half the share target on UniRoute's pre-routing, the rest on escalations.
    expect(worker.calibrateLambda).toHaveBeenCalledWith({ kind: 'cloudShare', share: 0.15 }, ['local', 'cloud-small', 'cloud-big']);
    const routeOnly = new EdgeRouter({
      worker,
      cloud: fakeCloud().cloud,
      localModel: 'local',
      cloudModels,
      mode: 'route',
      lambda: { kind: 'cloudShare', share: 0.3 },
    });
    await routeOnly.lambda();
    expect(worker.calibrateLambda).toHaveBeenLastCalledWith({ kind: 'cloudShare', share: 0.3 }, ['local', 'cloud-small', 'cloud-big']);
    expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, cloudModels, mode: 'hybrid' })).toThrow(/needs a local model/);
    expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels: [{ id: 'x', cost: Number.NaN }] })).toThrow(
      /finite number/,
    );
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
    expect(fallback.edgeroute.notes).toEqual([
      'cut for routing',
      'The local model failed (local-engine-failed: no WebGPU and no WASM); cloud-big answered instead.',
    ]);

    const unsure = fakeWorker({ chosen: () => 'local', confidence: () => -9 }).worker;
    const degraded = await new EdgeRouter({
      worker: unsure,
      cloud: fakeCloud({ fails: true }).cloud,
      localModel: 'local',
      cloudModels,
      mode: 'cascade',
    }).chat.completions.create(ask('q'));
    expect(degraded.edgeroute.degraded).toBe(true);
    expect(degraded.edgeroute.notes).toEqual([
      expect.stringMatching(/the cloud failed \(cloud-failed: unreachable after 3 retries\); the local answer is returned/),
    ]);
  });

  it('answers from the cloud when routing itself fails, except for bad input and local-only', async () => {
    const dead = fakeWorker({ chosen: () => 'local', routeFails: new EdgeRouteError('worker-failed', 'the worker stopped') }).worker;
    const { cloud, calls } = fakeCloud();
    const answer = await new EdgeRouter({ worker: dead, cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
    expect(answer.edgeroute).toMatchObject({ model: 'cloud-small', routedTo: 'cloud-small', clusterProbabilities: [] });
    expect(answer.edgeroute.notes).toEqual(['Routing failed (worker-failed: the worker stopped); cloud-small was chosen without a routing decision.']);
    const streamed: string[] = [];
    for await (const chunk of await new EdgeRouter({ worker: dead, cloud, localModel: 'local', cloudModels }).chat.completions.create({
      ...ask('q'),
      stream: true,
    })) {
      streamed.push(chunk.choices[0]?.delta.content ?? '');
    }
    expect(streamed.join('')).toBe('Hello');
    expect(calls).toEqual(['cloud-small', 'stream cloud-small']);
    await expect(
      new EdgeRouter({ worker: dead, cloud, localModel: 'local', cloudModels, mode: 'local-only' }).chat.completions.create(ask('q')),
    ).rejects.toMatchObject({ code: 'worker-failed' });
    const bad = fakeWorker({ chosen: () => 'local', routeFails: new EdgeRouteError('invalid-input', 'no') }).worker;
    await expect(new EdgeRouter({ worker: bad, cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'))).rejects.toMatchObject({
      code: 'invalid-input',
    });
  });

  it('rejects empty, whitespace-only and malformed requests with invalid-input, and keeps answering', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const bad: unknown[] = [
      ask(''),
      ask('   \n\t '),
      { messages: [] },
      { messages: 'hi' },
      { messages: [{ role: 'robot', content: 'x' }] },
      { messages: [{ role: 'user', content: ['parts'] }] },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      },
      { ...ask('q'), temperature: Number.NaN },
      { ...ask('q'), max_tokens: -1 },
      { ...ask('q'), stream: 'yes' },
      null,
    ];
    for (const request of bad) {
      const error = await router.chat.completions.create(request as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(request)).toBeInstanceOf(EdgeRouteError);
      expect(error).toMatchObject({ code: 'invalid-input' });
    }
    expect((await router.chat.completions.create(ask('easy'))).choices[0]!.message.content).toBe('local says easy');
  });

  it('streams cloud answers as they come, with the report on the last chunk', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-small' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const chunks: string[] = [];
    let report: RoutingReport | undefined;
    for await (const chunk of await router.chat.completions.create({ ...ask('q'), stream: true })) {
      chunks.push(chunk.choices[0]?.delta.content ?? '');
      report = chunk.edgeroute ?? report;
    }
    expect(chunks.join('')).toBe('Hello');
    expect(report).toMatchObject({ model: 'cloud-small' });
  });
});

/** Reads a routed stream to its end: the text, and the report of the chunk that carried one. */
async function readStream(stream: AsyncIterable<RoutedChunk>): Promise<{ pieces: string[]; report: RoutedChunk['edgeroute'] }> {
  const pieces: string[] = [];
  let report: RoutedChunk['edgeroute'];
  for await (const chunk of stream) {
    pieces.push(chunk.choices[0]?.delta.content ?? '');
    report = chunk.edgeroute ?? report;
  }
  return { pieces, report };
}

const reset = () => new EdgeRouteError('cloud-network', 'connection reset after 3 retries');
const failedNote = (model: string) => `${model} failed (cloud-network: connection reset after 3 retries); the local model answered instead.`;

describe('EdgeRouter: a failed cloud call falls back to the local model', () => {
  it('hybrid and route: a prompt pre-routed to the cloud gets the local answer, marked degraded, with a note', async () => {
    for (const mode of ['hybrid', 'route'] as const) {
      const { worker, log } = fakeWorker({ chosen: () => 'cloud-big' });
      const { cloud, calls } = fakeCloud({ error: reset });
      const answer = await new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, mode }).chat.completions.create(ask('q'));
      expect(answer.choices[0]!.message.content, mode).toBe('local says q');
      expect(answer.edgeroute, mode).toMatchObject({
        mode,
        model: 'local',
        routedTo: 'cloud-big',
        degraded: true,
        escalated: false,
        costUsd: 0,
        localConfidence: -0.5,
      });
      expect(answer.edgeroute.notes, mode).toEqual([failedNote('cloud-big')]);
      expect(calls).toEqual(['cloud-big']);
      expect(log).toEqual(['start q', 'end q']);
    }
  });

  it('falls back for every cloud error code, and only for those', async () => {
    for (const code of ['cloud-failed', 'cloud-timeout', 'cloud-rate-limited', 'cloud-http', 'cloud-network', 'cloud-protocol'] as const) {
      const { worker } = fakeWorker({ chosen: () => 'cloud-small' });
      const answer = await new EdgeRouter({
        worker,
        cloud: fakeCloud({ error: () => new EdgeRouteError(code, 'x') }).cloud,
        localModel: 'local',
        cloudModels,
      }).chat.completions.create(ask('q'));
      expect(answer.edgeroute, code).toMatchObject({ model: 'local', degraded: true });
      expect(answer.edgeroute.notes, code).toEqual([`cloud-small failed (${code}: x); the local model answered instead.`]);
    }
    // Not a cloud failure (a bug, a bad request): it propagates and the local model is not asked.
    for (const error of [new TypeError('cannot read x of undefined'), new EdgeRouteError('invalid-input', 'bad request')]) {
      const { worker, log } = fakeWorker({ chosen: () => 'cloud-small' });
      await expect(
        new EdgeRouter({ worker, cloud: fakeCloud({ error: () => error }).cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q')),
      ).rejects.toBe(error);
      expect(log).toEqual([]);
    }
  });

  it('when the local model fails too, neither could answer: no-model-available naming both failures', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-big', localFails: true });
    const error = await new EdgeRouter({ worker, cloud: fakeCloud({ error: reset }).cloud, localModel: 'local', cloudModels }).chat.completions
      .create(ask('q'))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(EdgeRouteError);
    expect(error).toMatchObject({ code: 'no-model-available' });
    expect((error as Error).message).toMatch(/local model failed \(no WebGPU and no WASM\) and the cloud failed \(connection reset after 3 retries\)/);
  });

  it('an abort stays an abort: the local model is not asked', async () => {
    const aborted = fakeWorker({ chosen: () => 'cloud-big' });
    const controller = new AbortController();
    controller.abort();
    // The fake cloud sees the aborted signal and throws 'aborted'.
    await expect(
      new EdgeRouter({ worker: aborted.worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'), {
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(aborted.log).toEqual([]);
    // A cloud error that races the caller's abort is reported as the abort.
    const racing = fakeWorker({ chosen: () => 'cloud-big' });
    const late = new AbortController();
    const cloud: RouterCloud = {
      async chat() {
        late.abort();
        throw reset();
      },
      stream: fakeCloud().cloud.stream,
    };
    await expect(
      new EdgeRouter({ worker: racing.worker, cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'), { signal: late.signal }),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(racing.log).toEqual([]);
  });

  it("cloud-only: the cloud's error propagates, even with a local model configured", async () => {
    for (const localModel of [undefined, 'local']) {
      const { worker, log } = fakeWorker({ chosen: () => 'cloud-big' });
      await expect(
        new EdgeRouter({
          worker,
          cloud: fakeCloud({ error: reset }).cloud,
          ...(localModel ? { localModel } : {}),
          cloudModels,
          mode: 'cloud-only',
        }).chat.completions.create(ask('q')),
      ).rejects.toMatchObject({ code: 'cloud-network' });
      expect(log).toEqual([]);
    }
  });

  it('a cloud stream that fails before its first chunk is answered by the local model as one degraded chunk', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'cloud-big' });
    const { cloud, calls } = fakeCloud({ streamFails: { after: 0, error: reset() } });
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    const { pieces, report } = await readStream(await router.chat.completions.create({ ...ask('q'), stream: true }));
    expect(pieces).toEqual(['local says q']);
    expect(report).toMatchObject({ model: 'local', routedTo: 'cloud-big', degraded: true, escalated: false, costUsd: 0, localConfidence: -0.5 });
    expect(report!.notes).toEqual([failedNote('cloud-big')]);
    expect(calls).toEqual(['stream cloud-big']);
    expect(log).toEqual(['start q', 'end q']);
  });

  it('a cloud stream that fails before the router passed on a chunk is answered locally, without a mix of both', async () => {
    // The provider failed before its first chunk: nothing was passed on, the local model answers.
    const { worker } = fakeWorker({ chosen: () => 'cloud-big' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud({ streamFails: { after: 0, error: reset() } }).cloud, localModel: 'local', cloudModels });
    const { pieces, report } = await readStream(await router.chat.completions.create({ ...ask('q'), stream: true }));
    expect(pieces).toEqual(['local says q']);
    expect(report).toMatchObject({ model: 'local', degraded: true });
  });

  it('a cloud stream that fails after a chunk was passed on ends with the error; the local model is not asked', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'cloud-big' });
    // 'Hel' is passed on the moment it arrives (no chunk is held back), so the failure after it ends the stream.
    const router = new EdgeRouter({ worker, cloud: fakeCloud({ streamFails: { after: 1, error: reset() } }).cloud, localModel: 'local', cloudModels });
    const pieces: string[] = [];
    const error = await (async () => {
      for await (const chunk of await router.chat.completions.create({ ...ask('q'), stream: true })) pieces.push(chunk.choices[0]?.delta.content ?? '');
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'cloud-network' });
    expect(pieces).toEqual(['Hel']);
    expect(log).toEqual([]);
  });

  it('streams: local failure after the cloud failed is no-model-available; cloud-only propagates the cloud error', async () => {
    const failing = fakeWorker({ chosen: () => 'cloud-big', localFails: true }).worker;
    const both = new EdgeRouter({ worker: failing, cloud: fakeCloud({ streamFails: { after: 0, error: reset() } }).cloud, localModel: 'local', cloudModels });
    await expect(readStream(await both.chat.completions.create({ ...ask('q'), stream: true }))).rejects.toMatchObject({ code: 'no-model-available' });
    const { worker, log } = fakeWorker({ chosen: () => 'cloud-big' });
    const cloudOnly = new EdgeRouter({
      worker,
      cloud: fakeCloud({ streamFails: { after: 0, error: reset() } }).cloud,
      localModel: 'local',
      cloudModels,
      mode: 'cloud-only',
    });
    await expect(readStream(await cloudOnly.chat.completions.create({ ...ask('q'), stream: true }))).rejects.toMatchObject({ code: 'cloud-network' });
    expect(log).toEqual([]);
  });
});

describe('EdgeRouter: progressive start (the cloud answers while the local model loads)', () => {
  const loading = (progress: number) => (): LocalReadiness => ({ state: 'loading', progress });

  it('hybrid, route and cascade: a local-routed prompt goes to the cloud with a note while the local model loads', async () => {
    for (const mode of ['hybrid', 'route', 'cascade'] as const) {
      const { worker, log } = fakeWorker({ chosen: () => 'local', readiness: loading(0.416) });
      const { cloud, calls } = fakeCloud();
      const answer = await new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, mode }).chat.completions.create(ask('q'));
      expect(answer.choices[0]!.message.content, mode).toBe('cloud-big says q');
      expect(answer.edgeroute, mode).toMatchObject({ mode, model: 'cloud-big', routedTo: 'local', degraded: false, escalated: false, costUsd: 0.01 });
      expect(answer.edgeroute.notes, mode).toEqual(['The local model is still loading (42%); cloud-big answered meanwhile.']);
      expect(calls).toEqual(['cloud-big']);
      expect(log, mode).toEqual([]);
    }
  });

  it("'ready' (or 'failed': the next generation loads it again) answers locally as before", async () => {
    for (const readiness of [{ state: 'ready' }, { state: 'failed', reason: 'out of memory' }] as const) {
      const { worker, log } = fakeWorker({ chosen: () => 'local', readiness: () => readiness });
      const { cloud, calls } = fakeCloud();
      const answer = await new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
      expect(answer.edgeroute, readiness.state).toMatchObject({ model: 'local', notes: [] });
      expect(log).toEqual(['start q', 'end q']);
      expect(calls).toEqual([]);
    }
  });

  it('local-only waits for the load; a cloud-routed prompt gets no loading note', async () => {
    const localOnly = fakeWorker({ chosen: () => 'local', readiness: loading(0.1) });
    const waited = await new EdgeRouter({
      worker: localOnly.worker,
      cloud: fakeCloud().cloud,
      localModel: 'local',
      cloudModels,
      mode: 'local-only',
    }).chat.completions.create(ask('q'));
    expect(waited.edgeroute).toMatchObject({ model: 'local', notes: [] });
    expect(localOnly.log).toEqual(['start q', 'end q']);
    const { worker } = fakeWorker({ chosen: () => 'cloud-small', readiness: loading(0.1) });
    const cloudRouted = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
    expect(cloudRouted.edgeroute).toMatchObject({ model: 'cloud-small', notes: [] });
  });

  it('streams from the cloud meanwhile, the note on the last chunk', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'local', readiness: loading(0.5) });
    const { pieces, report } = await readStream(
      await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create({ ...ask('q'), stream: true }),
    );
    expect(pieces.join('')).toBe('Hello');
    expect(report).toMatchObject({ model: 'cloud-big', degraded: false });
    expect(report!.notes).toEqual(['The local model is still loading (50%); cloud-big answered meanwhile.']);
    expect(log).toEqual([]);
  });

  it('when the cloud fails meanwhile, the local model answers after its load (degraded), both notes kept', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'local', readiness: loading(0.3) });
    const answer = await new EdgeRouter({ worker, cloud: fakeCloud({ error: reset }).cloud, localModel: 'local', cloudModels }).chat.completions.create(
      ask('q'),
    );
    expect(answer.edgeroute).toMatchObject({ model: 'local', degraded: true });
    expect(answer.edgeroute.notes).toEqual(['The local model is still loading (30%); cloud-big answered meanwhile.', failedNote('cloud-big')]);
    expect(log).toEqual(['start q', 'end q']);
  });
});

describe('EdgeRouter: offline', () => {
  const offline = () => false;

  it('the local model answers a cloud-routed prompt, and says so', async () => {
    for (const mode of ['hybrid', 'route'] as const) {
      const { worker, log } = fakeWorker({ chosen: () => 'cloud-big' });
      const { cloud, calls } = fakeCloud();
      const answer = await new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, mode, online: offline }).chat.completions.create(ask('q'));
      expect(answer.choices[0]!.message.content, mode).toBe('local says q');
      expect(answer.edgeroute, mode).toMatchObject({ model: 'local', routedTo: 'cloud-big', escalated: false, costUsd: 0 });
      expect(answer.edgeroute.notes, mode).toEqual(['The browser is offline: the local model answered instead of cloud-big, without a cloud escalation.']);
      expect(calls).toEqual([]);
      expect(log).toEqual(['start q', 'end q']);
    }
  });

  it('never escalates a low-confidence answer', async () => {
    for (const mode of ['cascade', 'hybrid'] as const) {
      const { worker } = fakeWorker({ chosen: () => 'local', confidence: () => -9 });
      const { cloud, calls } = fakeCloud();
      const answer = await new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, mode, online: offline }).chat.completions.create(ask('q'));
      expect(answer.edgeroute, mode).toMatchObject({ model: 'local', escalated: false, degraded: false, localConfidence: -9 });
      expect(answer.edgeroute.notes, mode).toEqual(['The browser is offline: the local model answered, without a cloud escalation.']);
      expect(calls).toEqual([]);
    }
    // Online, the same answer escalates (the offline result above is not the default).
    const { worker } = fakeWorker({ chosen: () => 'local', confidence: () => -9 });
    const online = await new EdgeRouter({
      worker,
      cloud: fakeCloud().cloud,
      localModel: 'local',
      cloudModels,
      mode: 'cascade',
      online: () => true,
    }).chat.completions.create(ask('q'));
    expect(online.edgeroute).toMatchObject({ model: 'cloud-big', escalated: true });
  });

  it('waits for a loading local model instead of calling the cloud, streams included', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'cloud-big', readiness: () => ({ state: 'loading', progress: 0.2 }) });
    const { cloud, calls } = fakeCloud();
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, online: offline });
    const { pieces, report } = await readStream(await router.chat.completions.create({ ...ask('q'), stream: true }));
    expect(pieces).toEqual(['local says q']);
    expect(report).toMatchObject({ model: 'local', routedTo: 'cloud-big' });
    expect(report!.notes).toEqual(['The browser is offline: the local model answered instead of cloud-big, without a cloud escalation.']);
    expect(calls).toEqual([]);
    expect(log).toEqual(['start q', 'end q']);
  });

  it('cloud-only still calls the cloud', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-big' });
    const { cloud, calls } = fakeCloud();
    const answer = await new EdgeRouter({ worker, cloud, cloudModels, mode: 'cloud-only', online: offline }).chat.completions.create(ask('q'));
    expect(answer.edgeroute).toMatchObject({ model: 'cloud-big', notes: [] });
    expect(calls).toEqual(['cloud-big']);
  });
});

describe('EdgeRouter: λ targets that cannot be met', () => {
  const errorOf = async (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('an infeasible calibration rejects lambda() with invalid-config naming the achieved value', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    vi.mocked(worker.calibrateLambda).mockResolvedValueOnce({ lambda: 0, achieved: 0.12345, feasible: false });
    const router = new EdgeRouter({
      worker,
      cloud: fakeCloud().cloud,
      localModel: 'local',
      cloudModels,
      mode: 'route',
      lambda: { kind: 'qualityFloor', quality: 0.99 },
    });
    const error = await errorOf(router.lambda());
    expect(error).toBeInstanceOf(EdgeRouteError);
    expect(error).toMatchObject({ code: 'invalid-config' });
    expect((error as Error).message).toMatch(/qualityFloor 0\.99 cannot be met .* reaches a quality of 0\.123 \(λ = 0\)/);
  });

  it('setTarget rejects the same way; a feasible target resolves to the calibrated λ', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'route', lambda: 0 });
    vi.mocked(worker.calibrateLambda).mockResolvedValueOnce({ lambda: 0, achieved: 0.05, feasible: false });
    const error = await errorOf(router.setTarget({ kind: 'budget', usdPer1000: 0.01 }));
    expect(error).toMatchObject({
      code: 'invalid-config',
      message: expect.stringMatching(/budget 0\.01 USD per 1,000 prompts .* reaches 0\.0500 USD per 1,000 prompts/),
    });
    vi.mocked(worker.calibrateLambda).mockResolvedValueOnce({ lambda: 3, achieved: 0.6, feasible: false });
    expect(await errorOf(router.setTarget({ kind: 'cloudShare', share: 0.5 }))).toMatchObject({
      code: 'invalid-config',
      message: expect.stringMatching(/a cloud share of 0\.600/),
    });
    expect(await router.setTarget({ kind: 'cloudShare', share: 0.3 })).toBe(0.25);
    expect(await router.lambda()).toBe(0.25);
  });

  it('an infeasible target at construction is not an unhandled rejection; each request reports it', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    vi.mocked(worker.calibrateLambda).mockResolvedValueOnce({ lambda: 0, achieved: 0.8, feasible: false });
    const router = new EdgeRouter({
      worker,
      cloud: fakeCloud().cloud,
      localModel: 'local',
      cloudModels,
      mode: 'route',
      lambda: { kind: 'cloudShare', share: 0.1 },
    });
    // Nobody awaits lambda() here (a direct EdgeRouter user): Node must not see an unhandled rejection.
    await new Promise((r) => setTimeout(r, 10));
    await expect(router.chat.completions.create(ask('q'))).rejects.toMatchObject({
      code: 'invalid-config',
      message: expect.stringMatching(/cloud share of 0\.800/),
    });
  });

  it('a rejected setTarget keeps the λ in use: the router goes on answering', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'route', lambda: 0.7 });
    vi.mocked(worker.calibrateLambda).mockResolvedValueOnce({ lambda: 0, achieved: 0.05, feasible: false });
    await expect(router.setTarget({ kind: 'budget', usdPer1000: 0.01 })).rejects.toMatchObject({ code: 'invalid-config' });
    expect(await router.lambda()).toBe(0.7);
    const answer = await router.chat.completions.create(ask('q'));
    expect(answer.edgeroute).toMatchObject({ model: 'local', lambda: 0.7 });
  });

  it('a cloud share outside [0, 1] is rejected at construction', () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    for (const share of [30, -0.1, Number.NaN]) {
      let error: unknown;
      try {
        new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, lambda: { kind: 'cloudShare', share } });
      } catch (e) {
        error = e;
      }
      expect(error, String(share)).toBeInstanceOf(EdgeRouteError);
      expect(error).toMatchObject({ code: 'invalid-config', message: expect.stringMatching(new RegExp(`between 0 and 1 .*got ${share}`)) });
    }
    expect(worker.calibrateLambda).not.toHaveBeenCalled();
    // The bounds themselves are fractions.
    for (const share of [0, 1])
      expect(() => new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, lambda: { kind: 'cloudShare', share } })).not.toThrow();
  });
});

describe('EscalationController', () => {
  it('holds the overall cloud share at the target whatever the confidence scale', () => {
    for (const [target, preRate, scale] of [
      [0.4, 0.2, 1],
      [0.3, 0.15, 100],
      [0.6, 0.5, 0.01],
    ] as const) {
      const controller = new EscalationController(target);
      let cloud = 0;
      let seed = 42;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 1000; i++) {
        const pre = rand() < preRate;
        controller.recordPreRouted(pre);
        if (pre || controller.escalate(-scale * rand())) cloud++;
      }
      expect(Math.abs(cloud / 1000 - target)).toBeLessThan(0.02);
    }
  });
});

describe('EdgeRouter: OpenAI requests', () => {
  const weatherCall = { id: 'call_1', type: 'function' as const, function: { name: 'weather', arguments: '{"city":"Paris"}' } };
  const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } }];

  /** A cloud that answers with a tool call, and streams the same call in pieces with a usage chunk. */
  function toolCloud() {
    const requests: { model: string; request: ChatCompletionRequest }[] = [];
    const chunk = (choices: ChatCompletionChunk['choices'], usage?: ChatCompletionChunk['usage']): ChatCompletionChunk => ({
      id: 't',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'provider-name',
      choices,
      ...(usage ? { usage } : {}),
    });
    const cloud: RouterCloud = {
      async chat(model, request) {
        requests.push({ model, request });
        return {
          id: 't',
          object: 'chat.completion',
          created: 0,
          model: 'provider-name',
          choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [weatherCall] }, finish_reason: 'tool_calls', logprobs: null }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          edgerouteCost: { usd: 0.002 },
        };
      },
      async *stream(model, request, options) {
        requests.push({ model, request });
        yield chunk([
          {
            index: 0,
            delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } }] },
            finish_reason: null,
          },
        ]);
        yield chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }, finish_reason: null }]);
        yield chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]);
        yield chunk([], { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
        options?.onCost?.({ usd: 0.002 });
      },
    };
    return { cloud, requests };
  }

  it('a request with tools goes to the cloud with its tools; tool_calls come back; the report says why', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'local' });
    const { cloud, requests } = toolCloud();
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    const answer = await router.chat.completions.create({ messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'auto' });
    expect(answer.choices[0]!.message).toEqual({ role: 'assistant', content: null, refusal: null, tool_calls: [weatherCall] });
    expect(answer.choices[0]!.finish_reason).toBe('tool_calls');
    expect(answer.edgeroute).toMatchObject({ model: 'cloud-big', forcedCloud: 'the request has tools, which the local model cannot call', costUsd: 0.002 });
    expect(requests[0]!.request.tools).toEqual(tools);
    expect(log).toEqual([]);
    // The round trip: the tool result goes back, and still to the cloud (the local model cannot read it).
    const followUp = await router.chat.completions.create({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [weatherCall] },
        { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
      ],
    });
    expect(followUp.edgeroute.forcedCloud).toMatch(/tool calls or tool results/);
    expect(log).toEqual([]);
  });

  it('streams tool-call deltas through, with usage and the report on the last chunk only when asked', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: toolCloud().cloud, localModel: 'local', cloudModels });
    const read = async (includeUsage: boolean) => {
      const chunks: RoutedChunk[] = [];
      const stream = await router.chat.completions.create({
        messages: [{ role: 'user', content: 'Weather?' }],
        tools,
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
      for await (const c of stream) chunks.push(c);
      return chunks;
    };
    const withUsage = await read(true);
    expect(withUsage.map((c) => c.choices.length)).toEqual([1, 1, 1, 0]);
    expect(withUsage[0]!.choices[0]!.delta.tool_calls![0]).toMatchObject({ index: 0, id: 'call_1', function: { name: 'weather' } });
    expect(withUsage[1]!.choices[0]!.delta.tool_calls![0]!.function!.arguments).toBe('{"city":"Paris"}');
    expect(withUsage.at(-1)!.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    expect(withUsage.at(-1)!.edgeroute).toMatchObject({ model: 'cloud-big', costUsd: 0.002 });
    expect(withUsage.slice(0, -1).every((c) => c.edgeroute === undefined)).toBe(true);
    const without = await read(false);
    expect(without.map((c) => c.choices.length)).toEqual([1, 1, 1]);
    expect(without.every((c) => c.usage === undefined)).toBe(true);
    expect(without.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(without.at(-1)!.edgeroute).toMatchObject({ model: 'cloud-big' });
  });

  it('passes each cloud chunk on as it arrives, before the provider sends the next', async () => {
    const { worker } = fakeWorker({ chosen: () => 'cloud-big' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const cloud: RouterCloud = {
      chat: async () => {
        throw new Error('not used');
      },
      async *stream(model) {
        yield { id: 's', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] };
        await gate;
        yield { id: 's', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] };
      },
    };
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    const iterator = (await router.chat.completions.create({ ...ask('q'), stream: true }))[Symbol.asyncIterator]();
    const first = await Promise.race([iterator.next(), new Promise<'held'>((r) => setTimeout(() => r('held'), 200))]);
    expect(first).not.toBe('held');
    expect((first as IteratorResult<RoutedChunk>).value.choices[0]!.delta.content).toBe('Hel');
    release();
    const second = await iterator.next();
    expect(second.value.choices[0]!.delta.content).toBe('lo');
    expect(second.value.edgeroute).toMatchObject({ model: 'cloud-big' });
    expect((await iterator.next()).done).toBe(true);
  });

  it('model: a configured cloud id forces that model without routing; another name is left to the router', async () => {
    const { worker, log } = fakeWorker({ chosen: () => 'local' });
    const route = vi.spyOn(worker, 'route');
    const { cloud, calls } = fakeCloud();
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    const forced = await router.chat.completions.create({ ...ask('q'), model: 'cloud-small' });
    expect(forced.edgeroute).toMatchObject({ model: 'cloud-small', routedTo: 'cloud-small', forcedCloud: 'the request named the cloud model cloud-small' });
    expect(calls).toEqual(['cloud-small']);
    expect(route).not.toHaveBeenCalled();
    const routed = await router.chat.completions.create({ ...ask('q'), model: 'gpt-4o-mini' });
    expect(routed.edgeroute.model).toBe('local');
    // A local answer's model is edgeroute.model, not the engine's name.
    expect(routed.model).toBe('local');
    expect(routed.choices[0]!.message.refusal).toBeNull();
    expect(log).toEqual(['start q', 'end q']);
  });

  it('a local stream sends usage only when asked; developer messages and text parts reach the engine as text', async () => {
    const seen: unknown[] = [];
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const generate = worker.generate.bind(worker);
    worker.generate = async (request, options) => {
      seen.push(request);
      return generate(request, options);
    };
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const messages = [
      { role: 'developer' as const, content: 'Be brief.' },
      { role: 'user' as const, content: [{ type: 'text' as const, text: 'q' }] },
    ];
    const chunks: RoutedChunk[] = [];
    for await (const c of await router.chat.completions.create({ messages, stream: true, stream_options: { include_usage: true }, max_completion_tokens: 7 }))
      chunks.push(c);
    expect(chunks.map((c) => c.choices.length)).toEqual([1, 0]);
    expect(chunks[1]!.usage!.completion_tokens).toBeGreaterThan(0);
    expect(chunks[1]!.edgeroute).toMatchObject({ model: 'local' });
    expect(seen[0]).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'q' },
      ],
      max_tokens: 7,
      stream: false,
    });
    const plain: RoutedChunk[] = [];
    for await (const c of await router.chat.completions.create({ messages, stream: true })) plain.push(c);
    expect(plain).toHaveLength(1);
    expect(plain[0]!.usage).toBeUndefined();
  });

  it('local-only cannot answer what needs the cloud: a typed error, not a silent local answer', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local' });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'local-only' });
    await expect(router.chat.completions.create({ ...ask('q'), tools })).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringMatching(/tools/),
    });
    await expect(router.chat.completions.create({ ...ask('q'), response_format: { type: 'json_object' } })).rejects.toMatchObject({ code: 'invalid-input' });
  });
});

describe('EdgeRouter: local answers streamed token by token', () => {
  /** A worker that streams "4", " is", " the answer" through onChunk, each after a gate opens. */
  function streamingWorker(options: { failFirst?: boolean } = {}) {
    const { worker, cancelled } = fakeWorker({ chosen: () => 'local' });
    const gates: (() => void)[] = [];
    const chunk = (choices: ChatCompletionChunk['choices'], usage?: ChatCompletionChunk['usage']): ChatCompletionChunk => ({
      id: 'g',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'engine-name',
      choices,
      ...(usage ? { usage } : {}),
    });
    worker.generate = async (_request, _options, onChunk) => {
      if (options.failFirst) throw new EdgeRouteError('local-engine-failed', 'prompt too long');
      for (const piece of ['4', ' is', ' the answer']) {
        onChunk?.(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]));
        await new Promise<void>((r) => gates.push(r));
      }
      onChunk?.(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
      onChunk?.(chunk([], { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }));
      return { completion: completion('engine-name', '4 is the answer'), confidence: { score: -0.2, method: 'mean-logprob' }, millis: 1 };
    };
    return { worker, cancelled, open: () => gates.shift()?.() };
  }

  it('a consumer that stops early cancels the local generation', async () => {
    const { worker, cancelled } = streamingWorker();
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'local-only' });
    for await (const chunk of await router.chat.completions.create({ ...ask('q'), stream: true })) {
      expect(chunk.choices[0]!.delta.content).toBe('4');
      break;
    }
    expect(cancelled).toHaveLength(1);
  });

  it('route mode: each token reaches the caller before the next is generated; the report and usage come last', async () => {
    const { worker, open } = streamingWorker();
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'route' });
    const iterator = (await router.chat.completions.create({ ...ask('q'), stream: true, stream_options: { include_usage: true } }))[Symbol.asyncIterator]();
    const seen: RoutedChunk[] = [];
    for (let i = 0; i < 3; i++) {
      const next = await iterator.next();
      seen.push(next.value);
      open();
    }
    expect(seen.map((c) => c.choices[0]!.delta.content)).toEqual(['4', ' is', ' the answer']);
    expect(seen.every((c) => c.model === 'local' && c.edgeroute === undefined)).toBe(true);
    const rest: RoutedChunk[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
    expect(rest.map((c) => c.choices.length)).toEqual([1, 0]);
    expect(rest[0]!.choices[0]!.finish_reason).toBe('stop');
    expect(rest[1]!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(rest[1]!.edgeroute).toMatchObject({ model: 'local', localConfidence: -0.2, escalated: false });
  });

  it('route mode: a local failure before any token is answered by the cloud stream; hybrid keeps one whole chunk', async () => {
    const failing = streamingWorker({ failFirst: true });
    const router = new EdgeRouter({ worker: failing.worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode: 'route' });
    const { pieces, report } = await readStream(await router.chat.completions.create({ ...ask('q'), stream: true }));
    expect(pieces.join('')).toBe('Hello');
    expect(report).toMatchObject({ model: 'cloud-big' });
    expect(report!.notes.at(-1)).toMatch(/The local model failed \(local-engine-failed: prompt too long\); cloud-big answered instead/);

    const { worker } = fakeWorker({ chosen: () => 'local' });
    const hybrid = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const whole = await readStream(await hybrid.chat.completions.create({ ...ask('q'), stream: true }));
    expect(whole.pieces).toEqual(['local says q']);
  });
});

describe("EdgeRouter with the profile's escalation rule", () => {
  const logit = (q: number): number => Math.log(q / (1 - q));
  const constant = (error: number) => ({ bias: logit(1 - error), confidence: 0, psi: 0, biasNoConfidence: logit(1 - error), psiNoConfidence: 0 });
  /** Confidence-only: P(local right) = σ(2 + 2c); the cloud models at errors 0.2 and 0.1. */
  const rule: EscalationRule = {
    name: 'confidence-only',
    localModelId: 'local',
    confidenceKind: 'mean-logprob',
    params: {
      scale: 'raw',
      mean: 0,
      sd: 1,
      models: { local: { ...constant(0.5), bias: 2, confidence: 2 }, 'cloud-small': constant(0.2), 'cloud-big': constant(0.1) },
    },
    cvAreas: { 'confidence-only': 0.8, uniroute: 0.7, hybrid: 0.79 },
    folds: 6,
    prompts: 400,
  };
  const sigma = (s: number): number => 1 / (1 + Math.exp(-s));

  it("decides by the rule: the confidence-conditioned errors and UniRoute's argmin, where a threshold would not", async () => {
    const { worker } = fakeWorker({ chosen: () => 'local', confidence: (p) => (p === 'sure' ? 0.5 : -0.5), escalationRule: rule });
    const { cloud, calls } = fakeCloud();
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels });
    // −0.5 is above the default threshold (−1.5), but P(local wrong) = 1 − σ(1) ≈ 0.27 > cloud-big's 0.1.
    const unsure = await router.chat.completions.create(ask('unsure'));
    expect(unsure.edgeroute).toMatchObject({ model: 'cloud-big', escalated: true, escalationRule: 'confidence-only', localConfidence: -0.5 });
    expect(unsure.edgeroute.localError).toBeCloseTo(1 - sigma(1), 12);
    const sure = await router.chat.completions.create(ask('sure'));
    expect(sure.edgeroute).toMatchObject({ model: 'local', escalated: false, escalationRule: 'confidence-only' });
    expect(sure.edgeroute.localError).toBeCloseTo(1 - sigma(3), 12);
    expect(calls).toEqual(['cloud-big']);
  });

  it('escalates to the cloud model with the least conditioned error + λ·cost', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local', escalationRule: rule });
    const { cloud, calls } = fakeCloud();
    // λ = 20: cloud-small 0.2 + 0.02 beats cloud-big 0.1 + 0.2, and both beat the local 0.27 + 0.
    const router = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, lambda: 20 });
    const answer = await router.chat.completions.create(ask('q'));
    expect(answer.edgeroute).toMatchObject({ model: 'cloud-small', escalated: true });
    expect(calls).toEqual(['cloud-small']);
    // At λ = 100 no cloud model is worth its price: the local answer stays.
    const cheap = new EdgeRouter({ worker, cloud, localModel: 'local', cloudModels, lambda: 100 });
    expect((await cheap.chat.completions.create(ask('q'))).edgeroute).toMatchObject({ model: 'local', escalated: false });
  });

  it('a rule fitted on another kind of confidence is not applied: the threshold decides, with a note', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local', confidence: () => -0.5, escalationRule: { ...rule, confidenceKind: 'answer-logprob' } });
    const router = new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels });
    const answer = await router.chat.completions.create(ask('q'));
    expect(answer.edgeroute).toMatchObject({ model: 'local', escalated: false, escalationRule: 'threshold' });
    expect(answer.edgeroute).not.toHaveProperty('localError');
    expect(answer.edgeroute.notes).toContain(
      'The profile\'s escalation rule was fitted on "answer-logprob" confidences and this answer\'s is "mean-logprob": the confidence threshold decided instead.',
    );
    const { worker: noRule } = fakeWorker({ chosen: () => 'local', confidence: () => -0.5 });
    const plain = await new EdgeRouter({ worker: noRule, cloud: fakeCloud().cloud, localModel: 'local', cloudModels }).chat.completions.create(ask('q'));
    expect(plain.edgeroute).toMatchObject({ escalationRule: 'threshold', notes: [] });
  });

  it('route mode and local-only never judge a local answer', async () => {
    const { worker } = fakeWorker({ chosen: () => 'local', escalationRule: rule });
    for (const mode of ['route', 'local-only'] as const) {
      const answer = await new EdgeRouter({ worker, cloud: fakeCloud().cloud, localModel: 'local', cloudModels, mode }).chat.completions.create(ask('q'));
      expect(answer.edgeroute).toMatchObject({ model: 'local', escalated: false });
      expect(answer.edgeroute).not.toHaveProperty('escalationRule');
    }
  });

  it('under a cloud-share target the controller ranks P(local right), apart from raw confidences', () => {
    const controller = new EscalationController(0.5);
    // Raw log-probs near −3 and P(right) near 0.5–0.95 alternate. Ranked together, every raw
    // score would escalate and no P(right) would; each ranked among its own kind, the lower
    // P(right) escalate too.
    const byRule: boolean[] = [];
    for (let i = 0; i < 12; i++) {
      controller.recordPreRouted(false);
      controller.escalate(-3 + 0.1 * (i % 3), 'confidence');
      controller.recordPreRouted(false);
      byRule.push(controller.escalate([0.9, 0.5, 0.95, 0.55, 0.85, 0.6][i % 6]!, 'P(right) by hybrid'));
    }
    expect(byRule.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(byRule.filter((d, i) => d && [0.5, 0.55, 0.6].includes([0.9, 0.5, 0.95, 0.55, 0.85, 0.6][i % 6]!)).length).toBeGreaterThanOrEqual(4);
  });
});
