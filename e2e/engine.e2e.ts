/**
 * The in-browser engine on WebGPU (SwiftShader), asked for explicitly: 'auto' would choose WASM
 * on a software adapter (see worker-auto-device.e2e.ts); see engine-run.ts.
 */
import { checkRun, runEngine } from './engine-run';
import { expect, test } from './fixtures';

test('worker on WebGPU (SwiftShader, device "webgpu"): tiny models offline, clusters, generation with log-probs, confidence', async ({ page, site }) => {
  test.setTimeout(240_000);
  // SwiftShader runs the LM on the CPU through WebGPU emulation (~1 s a token): a few prompts
  // here; the 20-vs-20 confidence gap is measured in the WASM run.
  const run = await runEngine(page, site.url, 3, 'webgpu');
  checkRun(run, 'webgpu', 0);
  expect(run.embedder.backend).toBe('webgpu');
});
