/**
 * Device probes run on /perf/pages/probe.html: the routing decision in the browser (the same
 * code as in Node) and the rates this device achieves on dense matrix products, which bound
 * how fast an embedding can be: a WGSL matmul on WebGPU (here SwiftShader, i.e. the CPU), TF.js's
 * WASM backend (XNNPACK, SIMD, one thread: the embedders' configuration) and plain JS.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { runDecisionBench, runProfileFitBench, type DecisionBenchOptions, type DecisionBenchResult, type ProfileFitBenchResult } from '../decision';
import { exposeMeasureMemory } from './memory';

export interface MatmulResult {
  readonly kernel: string;
  readonly size: number;
  readonly runs: number;
  /** Per product, milliseconds. */
  readonly bestMillis: number;
  readonly medianMillis: number;
  /** 2·n³ / best time: the rate this kernel reaches here. */
  readonly bestGflops: number;
  readonly medianGflops: number;
  /** Largest |difference| against a float64 product on sampled entries. */
  readonly maxAbsError: number;
}

export interface WebGpuRates {
  readonly available: boolean;
  readonly reason?: string;
  readonly adapter?: { vendor: string; architecture: string; device: string; description: string };
  readonly results: readonly MatmulResult[];
}

export interface PerfProbe {
  decision(options?: DecisionBenchOptions): DecisionBenchResult;
  profileFit(): ProfileFitBenchResult;
  webgpuMatmul(size: number, budgetMillis: number): Promise<WebGpuRates>;
  wasmMatmul(size: number, budgetMillis: number): Promise<MatmulResult & { readonly backend: string; readonly simd: boolean; readonly threads: boolean }>;
  jsMatmul(size: number, budgetMillis: number): MatmulResult;
}

declare global {
  interface Window {
    __perfProbe?: PerfProbe;
  }
}

function randomMatrix(n: number, seed: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n * n);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Largest error of C = A·B on 32 sampled entries, against float64 sums. */
function checkProduct(a: Float32Array, b: Float32Array, c: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (let t = 0; t < 32; t++) {
    const i = (t * 7919) % n;
    const j = (t * 104729) % n;
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
    worst = Math.max(worst, Math.abs(s - c[i * n + j]!));
  }
  return worst;
}

/** Runs `once` until `budgetMillis` is spent (at least `minRuns` times) after one untimed warm-up. */
async function timeRuns(once: () => Promise<void> | void, budgetMillis: number, minRuns = 3): Promise<number[]> {
  await once();
  const times: number[] = [];
  const started = performance.now();
  while (times.length < minRuns || performance.now() - started < budgetMillis) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
    if (times.length >= 200) break;
  }
  return times;
}

function summarise(kernel: string, size: number, times: number[], maxAbsError: number): MatmulResult {
  const sorted = [...times].sort((x, y) => x - y);
  const best = sorted[0]!;
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const flop = 2 * size ** 3;
  return {
    kernel,
    size,
    runs: times.length,
    bestMillis: best,
    medianMillis: median,
    bestGflops: flop / (best * 1e6),
    medianGflops: flop / (median * 1e6),
    maxAbsError,
  };
}

const WGSL_HEADER = /* wgsl */ `
struct Dims { n: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;
`;

/** One output per invocation, straight from global memory. */
const NAIVE = `${WGSL_HEADER}
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let n = dims.n;
  if (g.x >= n || g.y >= n) { return; }
  var s = 0.0;
  for (var k = 0u; k < n; k++) { s += A[g.y * n + k] * B[k * n + g.x]; }
  C[g.y * n + g.x] = s;
}`;

/** 64×64 output tile per workgroup, 4×4 outputs per invocation, 16-wide K slices in workgroup memory. */
const TILED = `${WGSL_HEADER}
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let n = dims.n;
  let tid = l.y * 16u + l.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < n; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let idx = tid * 4u + i;
      As[idx] = A[(w.y * 64u + idx / 16u) * n + k0 + idx % 16u];
      Bs[idx] = B[(k0 + idx / 64u) * n + w.x * 64u + idx % 64u];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = As[(l.y * 4u + i) * 16u + kk];
        b[i] = Bs[kk * 64u + l.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { C[(w.y * 64u + l.y * 4u + i) * n + w.x * 64u + l.x * 4u + j] = acc[i * 4u + j]; }
  }
}`;

async function webgpuMatmul(size: number, budgetMillis: number): Promise<WebGpuRates> {
  if (size % 64 !== 0) throw new Error('webgpuMatmul: size must be a multiple of 64');
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { available: false, reason: 'navigator.gpu is missing', results: [] };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { available: false, reason: 'requestAdapter returned null', results: [] };
  const device = await adapter.requestDevice();
  const info = adapter.info;
  const a = randomMatrix(size, 1);
  const b = randomMatrix(size, 2);
  const bytes = size * size * 4;
  const storage = (data: Float32Array<ArrayBuffer>): GPUBuffer => {
    const buffer = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  const bufA = storage(a);
  const bufB = storage(b);
  const bufC = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, new Uint32Array([size, 0, 0, 0]));
  const readback = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const results: MatmulResult[] = [];
  try {
    for (const [kernel, code, groups] of [
      ['WGSL naive (1 output / invocation)', NAIVE, size / 16],
      ['WGSL tiled (64×64 tile, 4×4 / invocation)', TILED, size / 64],
    ] as const) {
      const pipeline = await device.createComputePipelineAsync({
        layout: 'auto',
        compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
      });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [bufA, bufB, bufC, uniform].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      // One product per submission; onSubmittedWorkDone waits for the device to finish it.
      const once = async (): Promise<void> => {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(groups, groups);
        pass.end();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
      };
      const times = await timeRuns(once, budgetMillis);
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(bufC, 0, readback, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      const c = new Float32Array(readback.getMappedRange().slice(0));
      readback.unmap();
      results.push(summarise(kernel, size, times, checkProduct(a, b, c, size)));
    }
  } finally {
    device.destroy();
  }
  return {
    available: true,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    results,
  };
}

async function wasmMatmul(size: number, budgetMillis: number): Promise<MatmulResult & { backend: string; simd: boolean; threads: boolean }> {
  // As in the worker: TF.js's single-threaded SIMD build, from the files the build ships.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths('/dist/tfjs/');
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js WASM backend did not initialise');
  await tf.ready();
  const a = randomMatrix(size, 1);
  const b = randomMatrix(size, 2);
  const ta = tf.tensor2d(a, [size, size]);
  const tb = tf.tensor2d(b, [size, size]);
  let last: Float32Array = new Float32Array(0);
  const times = await timeRuns(() => {
    const c = tf.matMul(ta, tb);
    last = c.dataSync() as Float32Array;
    c.dispose();
  }, budgetMillis);
  const error = checkProduct(a, b, last, size);
  ta.dispose();
  tb.dispose();
  return {
    ...summarise('TF.js WASM matMul (XNNPACK)', size, times, error),
    backend: tf.getBackend(),
    simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
    threads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
  };
}

function jsMatmul(size: number, budgetMillis: number): MatmulResult {
  const a = randomMatrix(size, 1);
  const b = randomMatrix(size, 2);
  const c = new Float32Array(size * size);
  const once = (): void => {
    c.fill(0);
    // i-k-j order: the inner loop walks B and C rows contiguously.
    for (let i = 0; i < size; i++) {
      for (let k = 0; k < size; k++) {
        const aik = a[i * size + k]!;
        const bo = k * size;
        const co = i * size;
        for (let j = 0; j < size; j++) c[co + j] = c[co + j]! + aik * b[bo + j]!;
      }
    }
  };
  // Synchronous: timeRuns awaits nothing real here, so this stays on one task.
  const times: number[] = [];
  once();
  const started = performance.now();
  while (times.length < 3 || performance.now() - started < budgetMillis) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  return summarise('JS Float32Array loops', size, times, checkProduct(a, b, c, size));
}

exposeMeasureMemory();
window.__perfProbe = { decision: runDecisionBench, profileFit: runProfileFitBench, webgpuMatmul, wasmMatmul, jsMatmul };
