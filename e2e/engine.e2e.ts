/**
 * The in-browser engine on WebGPU (SwiftShader), asked for explicitly: 'auto' would choose WASM
 * on a software adapter (see worker-auto-device.e2e.ts); see engine-run.ts.
 */
import { engineRunTests } from './engine-run';
import { test } from './fixtures';

test.describe('worker on WebGPU (SwiftShader, device "webgpu"): tiny models offline, clusters, generation with log-probs, confidence', () => {
  // SwiftShader runs the LM on the CPU through WebGPU emulation (~1 s a token): a few prompts
  // here, so no gap is required; the 20-vs-20 confidence gap is measured in the WASM run.
  engineRunTests({ label: 'webgpu', device: 'webgpu', backend: 'webgpu', confidencePrompts: 3, minGap: 0, timeoutMs: 240_000 });
});
