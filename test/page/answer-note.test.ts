import { describe, expect, it } from 'vitest';
import { answerNote, routeLabel } from '../../src/page/dropin/answer-note';
import type { RoutingReport } from '../../src/page/router';

const base: RoutingReport = {
  mode: 'hybrid',
  model: 'gpt-4o',
  lambda: 0,
  predictedErrors: {},
  clusterProbabilities: [],
  routedTo: 'gpt-4o',
  escalated: false,
  degraded: false,
  costUsd: 0.00004,
  latencyMs: { embed: 1, cluster: 0, decide: 0, local: 0, cloud: 30, total: 36.4 },
  truncated: false,
  notes: [],
};

describe('<edgeroute-chat> answer notes', () => {
  it('says where each answer ran in words', () => {
    expect(routeLabel(base)).toBe('Cloud, sent before generating');
    expect(routeLabel({ ...base, model: 'llama3.2-1b', routedTo: 'llama3.2-1b', localConfidence: -0.4 })).toBe('On device');
    expect(routeLabel({ ...base, localConfidence: -3.1, escalated: true })).toBe('Escalated: low confidence');
    expect(routeLabel({ ...base, model: 'llama3.2-1b', localConfidence: -0.4, degraded: true })).toBe('On device (the cloud failed)');
  });

  it('starts with the model and ends with cost and latency', () => {
    expect(answerNote(base)).toBe('gpt-4o · Cloud, sent before generating · $0.00004 · 36 ms');
    expect(answerNote({ ...base, model: 'llama3.2-1b', localConfidence: -0.42, costUsd: 0 })).toBe(
      'llama3.2-1b · On device · local confidence -0.42 · $0.00000 · 36 ms',
    );
  });
});
