/**
 * Lets the event loop run (incoming messages, timers) before the next piece of work.
 *
 * A generation on ONNX Runtime's WASM backend resolves each forward pass through microtasks
 * only, so a token loop never gives the worker's event loop a turn: until the whole answer was
 * done the worker answered nothing else, not a cancel(jobId), not another request's route().
 * A posted message is a real task, queued behind what already waits (unlike scheduler.yield(),
 * whose continuation may run first), and costs far less than a clamped setTimeout(0).
 */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}
