/**
 * The Web Worker's entry file: what it runs lives in src/worker/ (host.ts exposes the API through
 * comlink). Bundlers detect `new Worker(new URL('./edgeroute.worker.js', import.meta.url))` in the
 * page entry; the worker build (vite --mode worker) starts here.
 */
import { startWorkerHost } from '../src/worker/host';

startWorkerHost();
