/** The demo page: for now it starts the worker and shows the device's WebGPU status. */
import { startEdgeWorker } from '../index';

const status = document.querySelector<HTMLElement>('#status');

async function main(): Promise<void> {
  if (!status) return;
  try {
    const worker = await startEdgeWorker();
    const gpu = await worker.api.probeGpu();
    status.textContent = gpu.available
      ? `WebGPU ready: ${gpu.adapter?.vendor || 'unknown vendor'} ${gpu.adapter?.architecture ?? ''} (shader-f16: ${gpu.shaderF16 ? 'yes' : 'no'}); compute check ${gpu.compute?.ok ? 'passed' : 'failed'}.`
      : `No WebGPU (${gpu.reason ?? 'unknown reason'}): embeddings will run on WASM and answers come from the cloud.`;
    status.dataset.state = gpu.available ? 'webgpu' : 'no-webgpu';
  } catch (error) {
    status.textContent = `The worker failed to start: ${String(error)}`;
    status.dataset.state = 'error';
  }
}

void main();
