import { describe, expect, it } from 'vitest';
import { EdgeRouteError, errorCode } from '../../../src/common/errors';
import { EngineLifecycle, type LoadRun } from '../../../src/worker/engines/engine-lifecycle';
import type { LoadProgress } from '../../../src/worker/engines/local-engine';

const caps = { logprobs: true, multipleChoices: false, streaming: true };
const asEdge = (error: unknown): EdgeRouteError =>
  error instanceof EdgeRouteError ? error : new EdgeRouteError('local-engine-failed', `mapped: ${(error as Error).message}`);

/** A load the test finishes by hand. */
function gate() {
  let open!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { done, open, fail };
}

describe('EngineLifecycle', () => {
  it('loads once with progress; concurrent loads share it; a load when ready resolves at once', async () => {
    const life = new EngineLifecycle(caps);
    const g = gate();
    let runs = 0;
    const seen: LoadProgress[] = [];
    const run = async (r: LoadRun): Promise<void> => {
      runs++;
      r.report({ progress: 0.5, text: 'half' });
      await g.done;
    };
    const a = life.load({ onProgress: (p) => seen.push(p) }, 'Loading m', run, asEdge);
    const b = life.load({}, 'Loading m', run, asEdge);
    expect(b).toBe(a);
    expect(life.status('m')).toMatchObject({ state: 'loading', progress: { progress: 0.5 } });
    g.open();
    await a;
    expect(runs).toBe(1);
    expect(seen).toEqual([{ progress: 0.5, text: 'half' }]);
    expect(life.status('m')).toEqual({ state: 'ready', modelId: 'm', ...caps, progress: { progress: 0.5, text: 'half' } });
    await life.load({}, 'Loading m', run, asEdge);
    expect(runs).toBe(1);
    expect(() => life.requireReady('e:m')).not.toThrow();
  });

  it('a failed load is typed, leaves the engine failed with the reason, and may be retried', async () => {
    const life = new EngineLifecycle(caps);
    const error = await life
      .load(
        {},
        'Loading m',
        async () => {
          throw new Error('404');
        },
        asEdge,
      )
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe('local-engine-failed');
    expect(life.status('m')).toMatchObject({ state: 'failed', error: { code: 'local-engine-failed', message: 'mapped: 404' } });
    expect(() => life.requireReady('e:m')).toThrow(/e:m is not loaded \(state: failed\).*Last load failed: mapped: 404/);
    await life.load({}, 'Loading m', async () => undefined, asEdge);
    expect(life.status('m').state).toBe('ready');
    expect(life.status('m').error).toBeUndefined();
  });

  it('an aborted load leaves it unloaded, without an error', async () => {
    const life = new EngineLifecycle(caps);
    const aborted = new EdgeRouteError('aborted', 'stop');
    await expect(
      life.load(
        {},
        'Loading m',
        async () => {
          throw aborted;
        },
        asEdge,
      ),
    ).rejects.toBe(aborted);
    expect(life.status('m')).toEqual({ state: 'unloaded', modelId: 'm', ...caps });
  });

  it('unload() cuts off a load in flight: it rejects with aborted and changes nothing afterwards', async () => {
    const life = new EngineLifecycle(caps);
    const g = gate();
    let cutOffSeen: boolean | undefined;
    const loading = life.load(
      {},
      'Loading m',
      async (r) => {
        await g.done;
        cutOffSeen = r.cutOff;
        r.report({ progress: 1, text: 'late' });
      },
      asEdge,
    );
    const epoch = life.epoch;
    life.unload();
    expect(life.isCurrent(epoch)).toBe(false);
    g.open();
    const error = await loading.catch((e: unknown) => e);
    expect(errorCode(error)).toBe('aborted');
    expect((error as Error).message).toBe('Loading m was cut off by unload().');
    expect(cutOffSeen).toBe(true);
    expect(life.status('m')).toEqual({ state: 'unloaded', modelId: 'm', ...caps });
  });

  it('a throwing progress callback does not break the load; fail() marks a loaded engine failed', async () => {
    const life = new EngineLifecycle(caps);
    await life.load(
      {
        onProgress: () => {
          throw new Error('UI bug');
        },
      },
      'Loading m',
      async (r) => r.report({ progress: 1, text: 'x' }),
      asEdge,
    );
    expect(life.state).toBe('ready');
    life.fail(new EdgeRouteError('device-lost', 'gone'));
    expect(life.status('m')).toMatchObject({ state: 'failed', error: { code: 'device-lost' } });
    expect(() => life.requireReady('e:m')).toThrow(/state: failed/);
  });
});
