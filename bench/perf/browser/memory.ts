/**
 * The worker's memory as the page can see it. Bundled into the benchmark pages (not written
 * inline in page.evaluate) so the Node side's transpiler helpers never reach the browser.
 */
import type { EdgeWorker } from '../../../src/page/worker-client';

export interface MemoryReading {
  readonly method: 'measureUserAgentSpecificMemory' | 'performance.memory' | 'none';
  readonly crossOriginIsolated: boolean;
  /** Bytes attributed to the page's dedicated workers (the edgeroute worker and any it starts). */
  readonly workerBytes?: number;
  readonly workers: readonly string[];
  readonly pageBytes?: number;
  /** Everything the measurement covers (all realms of the page). */
  readonly totalBytes?: number;
  /** performance.memory.usedJSHeapSize inside the worker, where the browser exposes it there. */
  readonly workerUsedJSHeapSize?: number;
  readonly pageUsedJSHeapSize?: number;
  readonly error?: string;
}

interface BreakdownEntry {
  readonly bytes: number;
  readonly attribution: readonly { readonly url?: string; readonly scope?: string }[];
  readonly types: readonly string[];
}

type MemoryPerformance = Performance & {
  measureUserAgentSpecificMemory?: () => Promise<{ bytes: number; breakdown: BreakdownEntry[] }>;
  memory?: { usedJSHeapSize: number };
};

const inWorker = (e: BreakdownEntry): boolean => e.attribution.some((a) => a.scope === 'DedicatedWorkerGlobalScope');
const inWindow = (e: BreakdownEntry): boolean => e.attribution.some((a) => a.scope === 'Window');
const bytesOf = (entries: readonly BreakdownEntry[]): number => entries.reduce((a, e) => a + e.bytes, 0);

/**
 * performance.measureUserAgentSpecificMemory() (needs cross-origin isolation), split into the
 * dedicated workers and the window; also performance.memory where it exists, as a fallback.
 */
export async function measureMemory(worker: EdgeWorker | undefined): Promise<MemoryReading> {
  const perf = performance as MemoryPerformance;
  const inside = await worker?.api.memory();
  const fallback = perf.memory ? ('performance.memory' as const) : ('none' as const);
  const base = {
    crossOriginIsolated: self.crossOriginIsolated,
    ...(inside?.usedJSHeapSize !== undefined ? { workerUsedJSHeapSize: inside.usedJSHeapSize } : {}),
    ...(perf.memory ? { pageUsedJSHeapSize: perf.memory.usedJSHeapSize } : {}),
  };
  if (typeof perf.measureUserAgentSpecificMemory !== 'function' || !self.crossOriginIsolated) {
    return { ...base, method: fallback, workers: [], error: 'measureUserAgentSpecificMemory is not available (it needs a cross-origin isolated page)' };
  }
  try {
    const m = await perf.measureUserAgentSpecificMemory();
    const workers = m.breakdown.filter(inWorker);
    return {
      ...base,
      method: 'measureUserAgentSpecificMemory',
      workerBytes: bytesOf(workers),
      workers: [...new Set(workers.flatMap((e) => e.attribution.map((a) => a.url ?? '?')))],
      pageBytes: bytesOf(m.breakdown.filter(inWindow)),
      totalBytes: m.bytes,
    };
  } catch (error) {
    return { ...base, method: fallback, workers: [], error: String(error) };
  }
}

declare global {
  interface Window {
    __perfMemory?: () => Promise<MemoryReading>;
  }
}

export function exposeMeasureMemory(): void {
  window.__perfMemory = () => measureMemory(window.__perfWorker);
}
