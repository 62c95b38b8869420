/**
 * Runs on /perf/pages/start.html right after edgeroute.iife.js: from a fresh page load to the
 * first routed answer (worker start, embedder load, routing profile, one route), with the time
 * of each step since navigation start (performance.now()'s origin). The worker stays open on
 * window.__perfWorker for the routing and memory measurements that follow on the same page.
 */
import type { EdgeWorker } from '../../../src/page/worker-client';
import type { EmbedderStatus, ProfileSummary, RouteResult } from '../../../src/worker/protocol';
import { FIRST_PROMPT, VALIDATION_SET_URL, embedderCase, type EmbedderKey } from '../configs';
import { exposeMeasureMemory } from './memory';

export interface StartupResult {
  readonly embedderKey: EmbedderKey;
  readonly embedder: EmbedderStatus;
  readonly profile: Pick<ProfileSummary, 'source' | 'counters' | 'k' | 'clusters' | 'prompts' | 'millis' | 'embedderId'>;
  readonly firstRoute: Pick<RouteResult, 'chosenModel' | 'embedMillis' | 'clusterMillis' | 'decideMillis'>;
  /** Milliseconds since navigation start when each step had finished. */
  readonly marks: {
    readonly scriptStart: number;
    readonly workerReady: number;
    readonly embedderLoaded: number;
    readonly profileReady: number;
    readonly firstRouteAnswered: number;
  };
  /** From the navigation entry: when the HTML and the DOM were done. */
  readonly navigation: { readonly responseEnd: number; readonly domContentLoaded: number };
}

declare global {
  interface Window {
    __perfStartup?: Promise<StartupResult | { readonly error: string }>;
    __perfWorker?: EdgeWorker;
  }
}

async function start(): Promise<StartupResult> {
  const scriptStart = performance.now();
  const spec = embedderCase(new URLSearchParams(location.search).get('embedder'));
  const worker = await window.EdgeRoute.startEdgeWorker();
  window.__perfWorker = worker;
  const workerReady = performance.now();
  await worker.api.configure({ embedder: spec.config });
  // A page fetches its validation set while the embedder loads.
  const [embedder, set] = await Promise.all([
    worker.api.loadEmbedder(),
    fetch(VALIDATION_SET_URL).then((r) => r.json() as Promise<Parameters<typeof worker.api.prepareProfile>[0]>),
  ]);
  const embedderLoaded = performance.now();
  const profile = await worker.api.prepareProfile(set);
  const profileReady = performance.now();
  const route = await worker.api.route(FIRST_PROMPT, 0);
  const firstRouteAnswered = performance.now();
  const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  return {
    embedderKey: spec.key,
    embedder,
    profile: {
      source: profile.source,
      counters: profile.counters,
      k: profile.k,
      clusters: profile.clusters,
      prompts: profile.prompts,
      millis: profile.millis,
      embedderId: profile.embedderId,
    },
    firstRoute: { chosenModel: route.chosenModel, embedMillis: route.embedMillis, clusterMillis: route.clusterMillis, decideMillis: route.decideMillis },
    marks: { scriptStart, workerReady, embedderLoaded, profileReady, firstRouteAnswered },
    navigation: { responseEnd: nav?.responseEnd ?? NaN, domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN },
  };
}

exposeMeasureMemory();
window.__perfStartup = start().catch((error: unknown) => ({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
