/** The same engine run with WebGPU disabled: everything must fall back to WASM; see engine-run.ts. */
import { CHROMIUM_ARGS_NO_WEBGPU, requireChromium } from './browser';
import { engineRunTests } from './engine-run';
import { test } from './fixtures';

test.use({ launchOptions: { executablePath: requireChromium(), args: CHROMIUM_ARGS_NO_WEBGPU } });

test.describe('worker without WebGPU falls back to WASM for the embedder and the local model', () => {
  engineRunTests({ label: 'wasm', backend: 'wasm', confidencePrompts: 20, minGap: 0.2, timeoutMs: 240_000 });
});
