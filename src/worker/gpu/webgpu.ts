/**
 * WebGPU capability probe. Runs wherever `navigator.gpu` may exist (page or worker) and never
 * throws: a missing or broken adapter is a normal outcome the router must plan around
 * (it then uses WASM for embeddings and the cloud for answers).
 */

export interface GpuAdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter: boolean;
}

export interface GpuComputeCheck {
  /** What the shader was given and returned: out[i] = 2·in[i] + 1. */
  readonly input: readonly number[];
  readonly output: readonly number[];
  readonly ok: boolean;
  readonly millis: number;
}

export interface GpuProbe {
  readonly available: boolean;
  /** Why WebGPU is unusable, when it is. */
  readonly reason?: string;
  readonly adapter?: GpuAdapterSummary;
  readonly features: readonly string[];
  /** web-llm's q4f16 models need this; without it edgeroute picks q4f32 builds. */
  readonly shaderF16: boolean;
  readonly maxStorageBufferBindingSize?: number;
  readonly compute?: GpuComputeCheck;
}

const DOUBLE_PLUS_ONE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&src)) { dst[id.x] = 2.0 * src[id.x] + 1.0; }
}`;

function gpuOf(scope: { navigator?: Navigator | WorkerNavigator }): GPU | undefined {
  const nav = scope.navigator as (Navigator & { gpu?: GPU }) | undefined;
  return nav?.gpu;
}

/** Requests an adapter and, unless `compute` is false, runs one small compute pass and checks it. */
export async function probeWebGpu(options: { compute?: boolean } = {}): Promise<GpuProbe> {
  const gpu = gpuOf(globalThis as { navigator?: Navigator });
  if (!gpu) {
    return { available: false, reason: 'navigator.gpu is missing: this browser or context has no WebGPU', features: [], shaderF16: false };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { available: false, reason: `requestAdapter failed: ${String(error)}`, features: [], shaderF16: false };
  }
  if (!adapter) {
    return {
      available: false,
      reason: 'requestAdapter returned null: no usable GPU adapter (blocklisted driver or WebGPU disabled)',
      features: [],
      shaderF16: false,
    };
  }
  const info = adapter.info;
  const features = [...adapter.features].map(String).sort();
  const summary: GpuAdapterSummary = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    // info.isFallbackAdapter is the spec's; older Chrome has only the adapter's own (deprecated) one.
    isFallbackAdapter:
      Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter)
      || (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
  };
  const base = {
    available: true,
    adapter: summary,
    features,
    shaderF16: adapter.features.has('shader-f16'),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
  if (options.compute === false) return base;
  try {
    return { ...base, compute: await runComputeCheck(adapter) };
  } catch (error) {
    return { ...base, available: false, reason: `compute pass failed: ${String(error)}` };
  }
}

async function runComputeCheck(adapter: GPUAdapter): Promise<GpuComputeCheck> {
  const started = performance.now();
  const device = await adapter.requestDevice();
  try {
    const input = Array.from({ length: 64 }, (_, i) => i - 16);
    const bytes = input.length * 4;
    const src = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    new Float32Array(src.getMappedRange()).set(input);
    src.unmap();
    const dst = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: DOUBLE_PLUS_ONE }), entryPoint: 'main' },
    });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: src } },
        { binding: 1, resource: { buffer: dst } },
      ],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(input.length / 64));
    pass.end();
    encoder.copyBufferToBuffer(dst, 0, readback, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const output = Array.from(new Float32Array(readback.getMappedRange().slice(0)));
    readback.unmap();
    const ok = output.length === input.length && output.every((v, i) => v === 2 * input[i] + 1);
    return { input, output, ok, millis: performance.now() - started };
  } finally {
    device.destroy();
  }
}
