/**
 * WorkerSupervisor with scripted workers: a worker that dies mid-call fails that call (or, for a
 * route, repeats it on a fresh worker), a lost GPU retires the worker, concurrent callers share
 * one restart, a failed restart is a typed error and the next call tries again.
 */
import { describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import type { LocalChatRequest as ChatCompletionRequest } from '../../src/common/openai';
import { WorkerSupervisor } from '../../src/page/supervisor';
import type { EdgeWorker, WorkerExit } from '../../src/page/worker-client';
import type { GenerateResult, LoadProgress, ProfileSummary, RouteResult } from '../../src/worker/protocol';

interface FakeWorker extends EdgeWorker {
  readonly id: number;
  /** Simulates a crash: calls in flight fail, `alive` turns false. */
  crash(): void;
  setupCalls: number;
}

type Behaviour = {
  route?: (worker: FakeWorker) => Promise<RouteResult>;
  generate?: (worker: FakeWorker) => Promise<GenerateResult>;
};

const routeResult = (worker: FakeWorker): RouteResult => ({
  clusterProbabilities: [1],
  predictedErrors: { local: 0.2 },
  chosenModel: 'local',
  lambda: 0,
  embedMillis: 0,
  clusterMillis: 0,
  decideMillis: 0,
  promptChars: 1,
  embeddedChars: 1,
  truncated: false,
  notes: [`worker ${worker.id}`],
});

/** A worker with EdgeWorker's exit semantics: calls in flight reject with 'worker-failed' at exit. */
function fakeWorker(id: number, behaviour: Behaviour): FakeWorker {
  let exit: WorkerExit | undefined;
  const pending = new Set<(e: WorkerExit) => void>();
  let settle: (e: WorkerExit) => void = () => undefined;
  const exited = new Promise<WorkerExit>((r) => {
    settle = r;
  });
  const end = (e: WorkerExit): void => {
    if (exit) return;
    exit = e;
    for (const fail of pending) fail(e);
    settle(e);
  };
  const self: FakeWorker = {
    id,
    setupCalls: 0,
    api: {
      route: () => (behaviour.route ?? (async (w: FakeWorker) => routeResult(w)))(self),
      calibrateLambda: async () => ({ lambda: 0.5, achieved: 0.3, feasible: true }),
      generate: () =>
        (
          behaviour.generate
          ?? (async () => {
            throw new Error('no generate');
          })
        )(self),
      cancel: async () => undefined,
    } as unknown as EdgeWorker['api'],
    exited,
    get alive() {
      return exit === undefined;
    },
    watched: true,
    call<T>(fn: (api: EdgeWorker['api']) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (exit) return reject(new EdgeRouteError('worker-failed', exit.message));
        const onExit = (e: WorkerExit): void => reject(new EdgeRouteError('worker-failed', e.message));
        pending.add(onExit);
        fn(self.api)
          .then(resolve, reject)
          .finally(() => pending.delete(onExit));
      });
    },
    terminate: () => end({ reason: 'terminated', message: 'terminated' }),
    crash: () => end({ reason: 'lost', message: 'crashed' }),
  };
  return self;
}

const summary = { prompts: 40 } as unknown as ProfileSummary;
const request: ChatCompletionRequest = { messages: [{ role: 'user', content: 'q' }] };

/** One background load of the local model, settled by the test. */
interface Preload {
  readonly worker: EdgeWorker;
  readonly report: (progress: LoadProgress) => void;
  readonly finish: () => void;
  readonly fail: (error: Error) => void;
}

function harness(
  behaviour: (id: number) => Behaviour,
  options: { failStarts?: number; preloadLocal?: (worker: EdgeWorker, onProgress: (p: LoadProgress) => void) => Promise<unknown> } = {},
) {
  const workers: FakeWorker[] = [];
  let failStarts = options.failStarts ?? 0;
  const create = () =>
    WorkerSupervisor.create({
      start: async () => {
        if (workers.length > 0 && failStarts > 0) {
          failStarts--;
          throw new EdgeRouteError('worker-failed', 'the worker script could not load');
        }
        const w = fakeWorker(workers.length + 1, behaviour(workers.length + 1));
        workers.push(w);
        return w;
      },
      setup: async (w) => {
        (w as FakeWorker).setupCalls++;
        return summary;
      },
      ...(options.preloadLocal ? { preloadLocal: options.preloadLocal } : {}),
    });
  return { workers, create };
}

describe('WorkerSupervisor', () => {
  it('repeats a route on a fresh, set-up worker when the worker dies under it, and says so', async () => {
    const { workers, create } = harness((id) => ({
      route: id === 1 ? (w) => new Promise<RouteResult>(() => queueMicrotask(() => w.crash())) : undefined,
    }));
    const supervisor = await create();
    const result = await supervisor.route('q', 0);
    expect(result.notes).toEqual(['worker 2', expect.stringMatching(/worker had stopped .*; a new one was started/)]);
    expect(workers.map((w) => [w.id, w.alive, w.setupCalls])).toEqual([
      [1, false, 1],
      [2, true, 1],
    ]);
    expect(supervisor.restarts).toBe(1);
    expect(supervisor.current).toBe(workers[1]);
  });

  it('does not repeat a generation: it fails with worker-failed, and the next call runs on a new worker', async () => {
    const { workers, create } = harness((id) => ({
      generate: id === 1 ? (w) => new Promise<GenerateResult>(() => setTimeout(() => w.crash(), 5)) : undefined,
    }));
    const supervisor = await create();
    await expect(supervisor.generate(request)).rejects.toMatchObject({ name: 'EdgeRouteError', code: 'worker-failed' });
    expect(workers).toHaveLength(1);
    expect((await supervisor.route('q', 0)).notes[0]).toBe('worker 2');
  });

  it('retires a worker whose GPU was lost; concurrent callers share one restart', async () => {
    const { workers, create } = harness((id) => ({
      generate:
        id === 1
          ? async () => {
              throw new EdgeRouteError('device-lost', 'lost');
            }
          : undefined,
    }));
    const supervisor = await create();
    await expect(supervisor.generate(request)).rejects.toMatchObject({ code: 'device-lost' });
    expect(workers[0]!.alive).toBe(false);
    const routes = await Promise.all(Array.from({ length: 5 }, () => supervisor.route('q', 0)));
    expect(workers).toHaveLength(2);
    for (const r of routes) expect(r.notes).toEqual(['worker 2', expect.stringMatching(/GPU device was lost/)]);
  });

  it('a restart that fails is a typed error; the next call tries again', async () => {
    const { workers, create } = harness(() => ({}), { failStarts: 1 });
    const supervisor = await create();
    workers[0]!.crash();
    await expect(supervisor.route('q', 0)).rejects.toMatchObject({ code: 'worker-failed', message: /could not start: the worker script could not load/ });
    expect((await supervisor.route('q', 0)).notes[0]).toBe('worker 2');
  });

  it('other errors pass through untouched and keep the worker', async () => {
    const { workers, create } = harness(() => ({
      route: async () => {
        throw new EdgeRouteError('invalid-input', 'bad prompt');
      },
    }));
    const supervisor = await create();
    await expect(supervisor.route('q', 0)).rejects.toMatchObject({ code: 'invalid-input' });
    expect(workers).toHaveLength(1);
    expect(workers[0]!.alive).toBe(true);
  });

  it('after close(), calls fail and nothing restarts', async () => {
    const { workers, create } = harness(() => ({}));
    const supervisor = await create();
    supervisor.close();
    await expect(supervisor.route('q', 0)).rejects.toMatchObject({ code: 'worker-failed', message: /closed/ });
    expect(workers).toHaveLength(1);
  });

  it('a first worker that cannot be set up is terminated and the error surfaces', async () => {
    let started: FakeWorker | undefined;
    await expect(
      WorkerSupervisor.create({
        start: async () => (started = fakeWorker(1, {})),
        setup: async () => {
          throw new EdgeRouteError('embedder-failed', 'no model');
        },
      }),
    ).rejects.toMatchObject({ code: 'embedder-failed' });
    expect(started?.alive).toBe(false);
  });

  it('without preloadLocal the local model loads on first use: readiness is ready', async () => {
    const supervisor = await harness(() => ({})).create();
    expect(supervisor.localReadiness()).toEqual({ state: 'ready' });
  });

  it('with preloadLocal, starts a load on create and reports loading with its progress, then ready', async () => {
    const loads: Preload[] = [];
    const { workers, create } = harness(() => ({}), { preloadLocal: recordLoads(loads) });
    const supervisor = await create();
    expect(loads.map((l) => l.worker)).toEqual([workers[0]]);
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0 });
    loads[0]!.report({ progress: 0.37, text: 'fetching weights' });
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0.37 });
    // A provider's progress outside [0, 1] is clamped.
    loads[0]!.report({ progress: 1.7, text: '' });
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 1 });
    loads[0]!.finish();
    await settled();
    expect(supervisor.localReadiness()).toEqual({ state: 'ready' });
    // Late progress after the load does not turn it back to loading.
    loads[0]!.report({ progress: 0.5, text: '' });
    expect(supervisor.localReadiness()).toEqual({ state: 'ready' });
  });

  it('a failed load is reported as failed with its reason', async () => {
    const loads: Preload[] = [];
    const supervisor = await harness(() => ({}), { preloadLocal: recordLoads(loads) }).create();
    loads[0]!.fail(new EdgeRouteError('local-engine-failed', 'out of GPU memory'));
    await settled();
    expect(supervisor.localReadiness()).toEqual({ state: 'failed', reason: 'out of GPU memory' });
  });

  it("loads again on the worker started after a crash; the dead worker's load no longer counts", async () => {
    const loads: Preload[] = [];
    const { workers, create } = harness(() => ({}), { preloadLocal: recordLoads(loads) });
    const supervisor = await create();
    loads[0]!.report({ progress: 0.9, text: '' });
    workers[0]!.crash();
    expect((await supervisor.route('q', 0)).notes[0]).toBe('worker 2');
    expect(loads.map((l) => l.worker)).toEqual([workers[0], workers[1]]);
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0 });
    // The first worker's load settling or reporting late must not speak for the new worker.
    loads[0]!.report({ progress: 0.95, text: '' });
    loads[0]!.finish();
    await settled();
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0 });
    loads[1]!.report({ progress: 0.25, text: '' });
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0.25 });
    loads[1]!.finish();
    await settled();
    expect(supervisor.localReadiness()).toEqual({ state: 'ready' });
  });

  it('a ready model that crashes is loading again after the restart, and a dead load failing is ignored', async () => {
    const loads: Preload[] = [];
    const { workers, create } = harness(() => ({}), { preloadLocal: recordLoads(loads) });
    const supervisor = await create();
    loads[0]!.finish();
    await settled();
    expect(supervisor.localReadiness()).toEqual({ state: 'ready' });
    workers[0]!.crash();
    await supervisor.route('q', 0);
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0 });
    expect(supervisor.restarts).toBe(1);
    workers[1]!.crash();
    await supervisor.route('q', 0);
    loads[1]!.fail(new EdgeRouteError('worker-failed', 'crashed'));
    await settled();
    expect(loads).toHaveLength(3);
    expect(supervisor.localReadiness()).toEqual({ state: 'loading', progress: 0 });
  });
});

/** A preloadLocal that records each load for the test to drive. */
function recordLoads(loads: Preload[]): (worker: EdgeWorker, onProgress: (p: LoadProgress) => void) => Promise<unknown> {
  return (worker, onProgress) =>
    new Promise<unknown>((resolve, reject) => {
      loads.push({ worker, report: onProgress, finish: () => resolve(undefined), fail: reject });
    });
}

/** Lets the supervisor's then-handlers run. */
const settled = () => new Promise((r) => setTimeout(r, 0));
