/**
 * What the transformers.js engines (./transformers-embedder, ./transformers-engine) share:
 * configuring the library's global `env`, choosing a compute backend, turning its per-file
 * progress events into one LoadProgress, and explaining load failures.
 *
 * transformers.js v4 facts relied on here (checked against @huggingface/transformers 4.3.1):
 * - `env.allowLocalModels` defaults to false in browsers and workers, so a localModelPath is
 *   ignored there unless it is switched on;
 * - in a web context, when `env.backends.onnx.wasm.wasmPaths` is unset at import time, the
 *   library points it at a public CDN; we always want our own copies (vite.config.ts emits
 *   ort-wasm-simd-threaded.asyncify.{mjs,wasm} beside the worker, under ort/);
 * - `env.backends.onnx` is a *shallow copy* of ONNX Runtime's env, so `.wasm` is the very object
 *   ORT reads: mutate its fields, never replace the object;
 * - the object form `{ mjs, wasm }` of wasmPaths also lets the library cache the binary
 *   (env.useWasmCache), a prefix string does not;
 * - device 'wasm' does not exist under Node (onnxruntime-node offers 'cpu', 'webgpu', 'cuda').
 */
import type { LoadProgress } from './local-engine';
import { messageOf } from '../../common/errors';

/** The module as `import('@huggingface/transformers')` gives it. */
export type TransformersLibrary = typeof import('@huggingface/transformers');

/** ONNX Runtime's WASM file locations: a folder URL, or the two files themselves. */
export type OrtWasmPaths = string | { readonly mjs?: string | URL; readonly wasm?: string | URL };

/** The fields of transformers.js's `env` that configureTransformersEnv touches. */
export interface TransformersEnvLike {
  allowLocalModels: boolean;
  allowRemoteModels: boolean;
  localModelPath: string;
  remoteHost: string;
  useBrowserCache: boolean;
  /** transformers.js ≥ 3.6: keep ORT's WASM files in the Cache API and import the glue from a blob: URL. */
  useWasmCache?: boolean;
  cacheDir: string | null;
  backends: {
    onnx: {
      wasm?: {
        wasmPaths?: string | { mjs?: string | URL; wasm?: string | URL };
        numThreads?: number;
      };
    };
  };
}

export interface TransformersEnvOptions {
  /**
   * Folder (URL in a browser, path in Node) holding one sub-folder per model, e.g. '/models/'
   * for /models/edgeroute-tiny-embed/config.json. Setting it also sets allowLocalModels.
   */
  readonly localModelPath?: string;
  /** false: never download from remoteHost (the Hugging Face Hub by default). */
  readonly allowRemoteModels?: boolean;
  /** Mirror of the Hub to download from, e.g. 'https://models.example.com/'. */
  readonly remoteHost?: string;
  /**
   * Where ONNX Runtime's WASM files are served. There is deliberately no default: the worker
   * passes the URLs of the copies it ships (see ortWasmPaths), so nothing comes from a CDN.
   */
  readonly wasmPaths?: OrtWasmPaths;
  /** WASM threads; > 1 only helps on cross-origin-isolated pages (SharedArrayBuffer). */
  readonly numThreads?: number;
  /** Node only: folder for downloaded files. */
  readonly cacheDir?: string;
  /** Browser: keep downloaded files in the Cache API (default on where it exists). */
  readonly useBrowserCache?: boolean;
  /**
   * Browser: let transformers.js copy ONNX Runtime's WASM files into the Cache API (its default).
   * It then imports ORT's JS glue from a blob: URL, which a strict Content-Security-Policy
   * (`script-src 'self'`) refuses; the worker turns it off, since it serves those files itself.
   */
  readonly useWasmCache?: boolean;
}

const withSlash = (s: string): string => (s.endsWith('/') ? s : `${s}/`);

/**
 * Applies `options` to transformers.js's `env` (pass the library's `env`; tests pass a plain
 * object). Options left out leave the current value alone, so calls compose. Pure apart from
 * mutating `env`; throws RangeError for settings that cannot work.
 */
export function configureTransformersEnv(env: TransformersEnvLike, options: TransformersEnvOptions): void {
  if (options.localModelPath !== undefined) {
    if (options.localModelPath === '') throw new RangeError('localModelPath is empty; pass the folder that holds the model folders.');
    env.localModelPath = withSlash(options.localModelPath);
    // Browsers default to false, which would silently skip the local folder.
    env.allowLocalModels = true;
  }
  if (options.allowRemoteModels !== undefined) env.allowRemoteModels = options.allowRemoteModels;
  if (options.remoteHost !== undefined) env.remoteHost = withSlash(options.remoteHost);
  if (options.useBrowserCache !== undefined) env.useBrowserCache = options.useBrowserCache;
  if (options.useWasmCache !== undefined) env.useWasmCache = options.useWasmCache;
  if (options.cacheDir !== undefined) env.cacheDir = options.cacheDir;
  if (options.wasmPaths !== undefined || options.numThreads !== undefined) {
    // Mutate ORT's own wasm flags object (see the file comment); create it only if absent.
    const wasm = (env.backends.onnx.wasm ??= {});
    if (options.wasmPaths !== undefined) {
      wasm.wasmPaths = typeof options.wasmPaths === 'string' ? withSlash(options.wasmPaths) : { ...options.wasmPaths };
    }
    if (options.numThreads !== undefined) {
      if (!Number.isInteger(options.numThreads) || options.numThreads < 0) {
        throw new RangeError(`numThreads must be a non-negative integer (0 = ONNX Runtime decides), got ${options.numThreads}.`);
      }
      wasm.numThreads = options.numThreads;
    }
  }
  if (!env.allowLocalModels && !env.allowRemoteModels) {
    throw new RangeError('transformers.js can load no model: both local models (set localModelPath) and remote models are disabled.');
  }
}

/** The ORT build transformers.js v4 loads in browsers; vite.config.ts copies exactly these. */
export const ORT_WASM_FILES = {
  mjs: 'ort-wasm-simd-threaded.asyncify.mjs',
  wasm: 'ort-wasm-simd-threaded.asyncify.wasm',
} as const;

/** wasmPaths for the ORT files copied into `folder` (absolute URL or path, e.g. new URL('./ort/', import.meta.url)). */
export function ortWasmPaths(folder: string | URL): { mjs: string; wasm: string } {
  const base = withSlash(String(folder));
  return { mjs: `${base}${ORT_WASM_FILES.mjs}`, wasm: `${base}${ORT_WASM_FILES.wasm}` };
}

// ---------------------------------------------------------------------------------------------
// Backend choice

export type TransformersDevice = 'webgpu' | 'wasm' | 'auto';
/** What actually runs the model: 'cpu' is onnxruntime-node (Node, tests, benchmarks). */
export type TransformersBackend = 'webgpu' | 'wasm' | 'cpu';

/** navigator.gpu, or a stand-in in tests. */
export interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/** The parts of a GPUAdapter that tell a software (CPU-emulated) adapter apart. */
interface AdapterLike {
  /** Deprecated in the spec in favour of info.isFallbackAdapter; Chrome still has it. */
  readonly isFallbackAdapter?: unknown;
  readonly info?: {
    readonly isFallbackAdapter?: unknown;
    readonly vendor?: unknown;
    readonly architecture?: unknown;
    readonly device?: unknown;
    readonly description?: unknown;
  };
}

/**
 * Why `adapter` is a software fallback (WebGPU emulated on the CPU, e.g. SwiftShader), or
 * undefined for a real GPU. On such an adapter edgeroute's start-up took 492–515 s against
 * 12 s on WASM, so 'auto' must not choose it.
 */
export function softwareAdapterReason(adapter: unknown): string | undefined {
  if (typeof adapter !== 'object' || adapter === null) return undefined;
  const a = adapter as AdapterLike;
  const info = a.info ?? {};
  const names = [info.vendor, info.architecture, info.device, info.description].filter((x): x is string => typeof x === 'string' && x !== '');
  const label = names.length ? ` (${names.join(', ')})` : '';
  if (info.isFallbackAdapter === true || a.isFallbackAdapter === true) return `the WebGPU adapter is a software fallback adapter${label}`;
  if (names.some((n) => /swiftshader/i.test(n))) return `the WebGPU adapter is SwiftShader, a CPU emulation of a GPU${label}`;
  return undefined;
}

/** True under Node (onnxruntime-node), false in browsers and workers. */
export function isNodeRuntime(): boolean {
  return (
    typeof process !== 'undefined'
    && typeof process.versions === 'object'
    && typeof process.versions.node === 'string'
    && typeof (globalThis as { document?: unknown }).document === 'undefined'
    && typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === 'undefined'
  );
}

export interface BackendPlan {
  /** Backends to try, in order; the next is tried when loading on one fails. */
  readonly candidates: readonly TransformersBackend[];
  /** Why 'auto' did not put WebGPU first (set only then). */
  readonly reason?: string;
}

/**
 * The backends to try for `device`. 'auto' tries WebGPU first only when a hardware adapter
 * exists (navigator.gpu alone is not enough: requestAdapter() may still return null; and a
 * software fallback adapter such as SwiftShader is far slower than WASM), then WASM; when it
 * does not, `reason` says why. An explicit 'webgpu' uses whatever adapter there is.
 * Under Node, 'wasm' and 'auto' mean onnxruntime-node's CPU backend.
 */
export async function planBackends(device: TransformersDevice, options: { readonly node?: boolean; readonly gpu?: GpuLike | null } = {}): Promise<BackendPlan> {
  const node = options.node ?? isNodeRuntime();
  const cpu: TransformersBackend = node ? 'cpu' : 'wasm';
  if (device === 'wasm') return { candidates: [cpu] };
  if (device === 'webgpu') return { candidates: ['webgpu'] };
  if (node && options.gpu === undefined) {
    return {
      candidates: [cpu],
      reason: 'under Node, auto uses onnxruntime-node on the CPU (ask for device "webgpu" explicitly to try its experimental WebGPU backend)',
    };
  }
  const gpu = options.gpu === undefined ? (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu : options.gpu;
  if (!gpu) return { candidates: [cpu], reason: 'WebGPU is not available here (no navigator.gpu)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { candidates: [cpu], reason: 'navigator.gpu.requestAdapter() returned no adapter' };
    const software = softwareAdapterReason(adapter);
    if (software) {
      return {
        candidates: [cpu],
        reason: `${software}, on which models run many times slower than on ${cpu}; using ${cpu} (ask for device 'webgpu' to use it anyway)`,
      };
    }
  } catch (error) {
    return { candidates: [cpu], reason: `navigator.gpu.requestAdapter() failed: ${messageOf(error)}` };
  }
  return { candidates: ['webgpu', cpu] };
}

// ---------------------------------------------------------------------------------------------
// Progress

/** transformers.js's progress_callback payload, loosely typed (its union has more members). */
export interface TransformersProgressEvent {
  readonly status: string;
  readonly file?: string;
  readonly name?: string;
  readonly loaded?: number;
  readonly total?: number;
  readonly progress?: number;
}

/**
 * Folds transformers.js's per-file events into one LoadProgress over all files seen so far:
 * bytes loaded / bytes known, scaled by the share of files whose size is known (a file's size
 * arrives with its first 'progress' event). It can step back when a large file starts late,
 * which LoadProgress allows; it stays below 1 until finish(), since the ONNX session is created
 * after the last byte.
 */
export function createProgressAggregator(label: string, onProgress: ((p: LoadProgress) => void) | undefined) {
  const files = new Map<string, { loaded: number; total: number; done: boolean }>();
  let shown = 0;
  let last: LoadProgress | undefined;
  const emit = (p: LoadProgress): void => {
    last = p;
    onProgress?.(p);
  };
  return {
    /** Pass as progress_callback. */
    callback: (event: TransformersProgressEvent): void => {
      const file = event.file;
      if (!file || event.status === 'progress_total') return; // we aggregate ourselves
      const entry = files.get(file) ?? { loaded: 0, total: 0, done: false };
      files.set(file, entry);
      if (event.status === 'progress') {
        if (typeof event.total === 'number' && event.total > 0) entry.total = event.total;
        if (typeof event.loaded === 'number') entry.loaded = event.loaded;
      } else if (event.status === 'done') {
        entry.done = true;
        entry.loaded = Math.max(entry.loaded, entry.total);
      } else if (event.status !== 'initiate' && event.status !== 'download') {
        return;
      }
      let loaded = 0;
      let total = 0;
      let doneCount = 0;
      for (const f of files.values()) {
        loaded += f.loaded;
        total += f.total;
        if (f.done) doneCount++;
      }
      let sized = 0;
      for (const f of files.values()) if (f.total > 0 || f.done) sized++;
      const fraction = total > 0 ? (loaded / total) * (sized / files.size) : doneCount / files.size;
      shown = Math.min(0.99, fraction);
      const text = `${label}: ${event.status === 'done' ? 'loaded' : 'loading'} ${file} (${doneCount}/${files.size} files)`;
      emit(total > 0 ? { progress: shown, text, loadedBytes: loaded, totalBytes: total } : { progress: shown, text });
    },
    /** Reports 1 with `text` (the model is usable). */
    finish(text: string): void {
      shown = 1;
      const bytes = [...files.values()].reduce((s, f) => s + f.total, 0);
      emit(bytes > 0 ? { progress: 1, text, loadedBytes: bytes, totalBytes: bytes } : { progress: 1, text });
    },
    /** A message for a new phase (e.g. falling back to WASM), keeping the fraction. */
    note(text: string): void {
      emit({ progress: shown, text });
    },
    get last(): LoadProgress | undefined {
      return last;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

export type LoadFailureKind = 'not-found' | 'network' | 'backend' | 'other';

/**
 * Explains why loading `model` failed, naming what was tried and what to change. `env` is the
 * library's env at the time of the failure (its paths are what transformers.js used).
 */
export function describeLoadFailure(
  error: unknown,
  model: string,
  env: Pick<TransformersEnvLike, 'allowLocalModels' | 'allowRemoteModels' | 'localModelPath' | 'remoteHost'>,
): { kind: LoadFailureKind; message: string } {
  const name = error instanceof Error ? error.name : '';
  const msg = messageOf(error);
  const localFolder = `${env.localModelPath}${model}/`;
  if (name === 'ModelFileNotFoundError' || /not found locally|Could not locate file|404/i.test(msg)) {
    const tried = /at "([^"]+)"/.exec(msg)?.[1] ?? /from: (\S+)/.exec(msg)?.[1];
    const where = env.allowLocalModels ? `the local folder ${localFolder}` : `(local models are off: env.allowLocalModels is false)`;
    const remote = env.allowRemoteModels
      ? `and it was not on ${env.remoteHost} either`
      : `and env.allowRemoteModels is false, so ${env.remoteHost} was not tried`;
    return {
      kind: 'not-found',
      message:
        `Model "${model}" was not found${tried ? `: ${tried} is missing` : ''}. Looked in ${where} ${remote}. `
        + `Put the model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model*.onnx) at ${localFolder}, `
        + `set env.localModelPath to the folder that holds it, or allow remote models. (transformers.js: ${msg})`,
    };
  }
  if (/Unsupported device|backend|execution provider|WebGPU|wasm|no available backend/i.test(msg)) {
    return { kind: 'backend', message: `No ONNX Runtime backend could run "${model}": ${msg}` };
  }
  if (name === 'TypeError' || /fetch|network|Failed to fetch|status/i.test(msg)) {
    return {
      kind: 'network',
      message:
        `Could not download "${model}" (${msg}). Check that ${env.allowRemoteModels ? env.remoteHost : localFolder} is reachable `
        + `and serves the files (with CORS when it is another origin), then load again.`,
    };
  }
  return { kind: 'other', message: `transformers.js failed to load "${model}": ${msg}` };
}
