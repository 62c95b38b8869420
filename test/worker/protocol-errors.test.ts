/**
 * Errors thrown in the worker reach the page typed: through a real comlink channel
 * (MessageChannel), an EdgeRouteError keeps its code, and anything else becomes an
 * EdgeRouteError naming what it was. Without installErrorTransfer the code is lost.
 */
import { expose, wrap } from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgeRouteError } from '../../src/common/errors';
import { EmbedderError } from '../../src/worker/embedders/embedder';
import { deserializeThrown, installErrorTransfer, serializeThrown } from '../../src/worker/protocol-errors';

const ports: MessagePort[] = [];
afterAll(() => ports.forEach((p) => p.close()));

/** An exposed object on one end of a channel, wrapped on the other, as page and worker do. */
function channel<T extends object>(target: T) {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  expose(target, port1);
  return wrap<T>(port2);
}

const thrower = {
  async typed(): Promise<void> {
    throw new EdgeRouteError('device-lost', 'the GPU went away');
  },
  async embedder(): Promise<void> {
    throw new EmbedderError('inference-failed', 'NaN in the output');
  },
  async cancelled(): Promise<void> {
    throw new EmbedderError('aborted', 'stopped');
  },
  async plain(): Promise<void> {
    throw new TypeError('x is not a function');
  },
  async bare(): Promise<void> {
    throw 'a bare string';
  },
};

describe('errors across comlink', () => {
  it('keep their EdgeRouteError code; others become typed worker or embedder failures', async () => {
    installErrorTransfer();
    const remote = channel(thrower);
    const typed = await remote.typed().catch((e: unknown) => e);
    expect(typed).toBeInstanceOf(EdgeRouteError);
    expect(typed).toMatchObject({ code: 'device-lost', message: 'the GPU went away' });
    await expect(remote.embedder()).rejects.toMatchObject({ name: 'EdgeRouteError', code: 'embedder-failed', message: /NaN in the output/ });
    await expect(remote.cancelled()).rejects.toMatchObject({ code: 'aborted' });
    await expect(remote.plain()).rejects.toMatchObject({ code: 'worker-failed', message: /TypeError: x is not a function/ });
    const bare = await remote.bare().catch((e: unknown) => e);
    expect(bare).toBeInstanceOf(EdgeRouteError);
    expect(bare).toMatchObject({ code: 'worker-failed', message: /"a bare string"/ });
  });

  it('serialize the code and refuse to invent one', () => {
    const wire = serializeThrown(new EdgeRouteError('storage-quota', 'full'));
    expect(wire).toMatchObject({ isError: true, value: { name: 'EdgeRouteError', message: 'full', code: 'storage-quota' } });
    expect(deserializeThrown(wire)).toMatchObject({ code: 'storage-quota' });
    // A made-up code is not trusted: the error is still typed, as a worker failure.
    const forged = deserializeThrown({ isError: true, value: { name: 'EdgeRouteError', message: 'x', code: 'not-a-code' } });
    expect(forged).toMatchObject({ code: 'worker-failed' });
  });
});
