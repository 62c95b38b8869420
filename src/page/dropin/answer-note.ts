/** What <edgeroute-chat> writes under an answer (pure, so it is tested in Node). */
import type { RoutingReport } from '../router';

/** Where the answer came from, in words (not colour alone). */
export function routeLabel(report: RoutingReport): string {
  if (report.degraded) return 'On device (the cloud failed)';
  if (report.escalated) return 'Escalated: low confidence';
  if (report.localConfidence !== undefined && !report.escalated) return 'On device';
  return 'Cloud, sent before generating';
}

/** The line under an answer: model first, then where it ran, confidence, cost and latency. */
export function answerNote(report: RoutingReport): string {
  const confidence = report.localConfidence === undefined ? '' : ` · local confidence ${report.localConfidence.toFixed(2)}`;
  return `${report.model} · ${routeLabel(report)}${confidence} · $${report.costUsd.toFixed(5)} · ${Math.round(report.latencyMs.total)} ms`;
}
