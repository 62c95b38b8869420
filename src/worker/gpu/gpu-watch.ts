/**
 * Notices when a GPU device used in this (worker) global is lost. ONNX Runtime and web-llm keep
 * their GPUDevice to themselves and report a loss only through failing GPU calls whose messages
 * do not say so (ORT: "Buffer was unmapped before mapping was resolved"), and every later call
 * fails the same way: the engines cannot recover in this global. So the worker wraps
 * GPUAdapter.prototype.requestDevice once, before any engine loads, and listens to the `lost`
 * promise of every device created; the worker then fails GPU work with 'device-lost' and the
 * page starts a fresh worker.
 *
 * A device that edgeroute destroys itself (an engine's unload, inside `expected()`) is not a loss.
 */

export interface GpuLoss {
  /** GPUDeviceLostInfo.reason: 'unknown' (driver reset, out of memory…) or 'destroyed'. */
  readonly reason: string;
  readonly message: string;
}

export interface GpuWatch {
  /** The first loss seen, if any. */
  readonly lost: GpuLoss | undefined;
  /** Devices created since the watch started. */
  readonly devices: number;
  /** Resolves at the first loss (never rejects). */
  readonly whenLost: Promise<GpuLoss>;
  /** Runs `work` while device destruction is edgeroute's own doing (an unload). */
  expected<T>(work: () => Promise<T>): Promise<T>;
}

interface DeviceLike {
  readonly lost: Promise<{ readonly reason: string; readonly message: string }>;
  destroy(): void;
}

interface AdapterPrototype {
  requestDevice(this: unknown, descriptor?: unknown): Promise<DeviceLike>;
}

/**
 * Starts watching `scope` (default globalThis). Where there is no WebGPU the watch sees no
 * devices and never reports a loss. Watching the same scope twice returns the first watch.
 */
export function watchGpuDevices(scope: { GPUAdapter?: { prototype: AdapterPrototype } } = globalThis as never): GpuWatch {
  const existing = watches.get(scope);
  if (existing) return existing;
  let lost: GpuLoss | undefined;
  let devices = 0;
  let expecting = 0;
  let announce: (loss: GpuLoss) => void = () => undefined;
  const whenLost = new Promise<GpuLoss>((resolve) => {
    announce = resolve;
  });
  const ours = new WeakSet<DeviceLike>();

  const track = (device: DeviceLike): void => {
    devices++;
    const destroy = device.destroy.bind(device);
    // Destroyed by our own unload → not a loss; by anything else → a loss like any other.
    device.destroy = () => {
      if (expecting > 0) ours.add(device);
      destroy();
    };
    device.lost.then(
      (info) => {
        if (info.reason === 'destroyed' && ours.has(device)) return;
        if (lost) return;
        lost = { reason: info.reason, message: info.message };
        announce(lost);
      },
      () => undefined,
    );
  };

  const proto = scope.GPUAdapter?.prototype;
  if (proto && typeof proto.requestDevice === 'function') {
    const requestDevice = proto.requestDevice;
    proto.requestDevice = async function watchedRequestDevice(this: unknown, descriptor?: unknown): Promise<DeviceLike> {
      const device = await requestDevice.call(this, descriptor);
      track(device);
      return device;
    };
  }

  const watch: GpuWatch = {
    get lost() {
      return lost;
    },
    get devices() {
      return devices;
    },
    whenLost,
    async expected<T>(work: () => Promise<T>): Promise<T> {
      expecting++;
      try {
        return await work();
      } finally {
        expecting--;
      }
    },
  };
  watches.set(scope, watch);
  return watch;
}

const watches = new WeakMap<object, GpuWatch>();
