/**
 * watchGpuDevices on a stand-in WebGPU: every device created through GPUAdapter.prototype
 * is watched; a loss (reason 'unknown', or a destroy() that is not edgeroute's own) is reported
 * once; a device destroyed inside expected() (an unload, the probe) is not a loss.
 */
import { describe, expect, it } from 'vitest';
import { watchGpuDevices } from '../../src/worker/gpu/gpu-watch';

class FakeDevice {
  lose: (info: { reason: string; message: string }) => void = () => undefined;
  readonly lost = new Promise<{ reason: string; message: string }>((resolve) => {
    this.lose = resolve;
  });
  destroy(): void {
    this.lose({ reason: 'destroyed', message: 'Device was destroyed.' });
  }
}

function fakeScope() {
  const made: FakeDevice[] = [];
  class GPUAdapter {
    async requestDevice(): Promise<FakeDevice> {
      const device = new FakeDevice();
      made.push(device);
      return device;
    }
  }
  return { scope: { GPUAdapter } as never, made, adapter: () => new GPUAdapter() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('watchGpuDevices', () => {
  it('ignores devices edgeroute destroys itself, reports the first real loss once', async () => {
    const { scope, made, adapter } = fakeScope();
    const watch = watchGpuDevices(scope);
    expect(watchGpuDevices(scope)).toBe(watch);
    const probe = await adapter().requestDevice();
    await watch.expected(async () => probe.destroy());
    await tick();
    expect(watch.lost).toBeUndefined();

    const engine = await adapter().requestDevice();
    const other = await adapter().requestDevice();
    expect(watch.devices).toBe(3);
    expect(made).toHaveLength(3);
    engine.destroy(); // not inside expected(): as if the device went away under the engine
    expect(await watch.whenLost).toEqual({ reason: 'destroyed', message: 'Device was destroyed.' });
    (other as FakeDevice).lose({ reason: 'unknown', message: 'GPU process crashed' });
    await tick();
    expect(watch.lost).toEqual({ reason: 'destroyed', message: 'Device was destroyed.' });
  });

  it('reports a driver loss (reason unknown)', async () => {
    const { scope, adapter } = fakeScope();
    const watch = watchGpuDevices(scope);
    const device = (await adapter().requestDevice()) as FakeDevice;
    device.lose({ reason: 'unknown', message: 'out of memory' });
    expect(await watch.whenLost).toEqual({ reason: 'unknown', message: 'out of memory' });
  });

  it('sees no devices and no loss where there is no WebGPU', () => {
    const watch = watchGpuDevices({} as never);
    expect(watch.devices).toBe(0);
    expect(watch.lost).toBeUndefined();
  });
});
