import { describe, expect, it } from 'vitest';
import {
  agreementConfidence,
  answerConfidence,
  meanLogProb,
  meanTopKEntropy,
  minLogProb,
  semanticEntropy,
  sequenceLogProb,
  topKEntropyConfidence,
  type TokenLogprob,
} from '../../src/core/confidence';

const tok = (token: string, logprob: number, tops: [string, number][] = []): TokenLogprob => ({
  token,
  logprob,
  top_logprobs: tops.map(([t, lp]) => ({ token: t, logprob: lp })),
});

describe('log-prob scores', () => {
  const answer = [tok('a', -0.1), tok('b', -0.5), tok('c', -0.3)];
  it('mean, min and sum by hand', () => {
    expect(sequenceLogProb(answer)).toBeCloseTo(-0.9, 12);
    expect(meanLogProb(answer)).toBeCloseTo(-0.3, 12); // −0.9 / 3
    expect(minLogProb(answer)).toBeCloseTo(-0.5, 12);
  });
  it('empty answer → NaN (no evidence)', () => {
    expect(meanLogProb([])).toBeNaN();
    expect(minLogProb([])).toBeNaN();
    expect(answerConfidence([])).toBeNaN();
    expect(answerConfidence([], { method: 'weighted' })).toBeNaN();
  });
});

describe('top-k entropy', () => {
  it('renormalises the alternatives: two tokens of mass 0.3 each → ln 2', () => {
    const t = tok('a', Math.log(0.3), [
      ['a', Math.log(0.3)],
      ['b', Math.log(0.3)],
    ]);
    expect(meanTopKEntropy([t])).toBeCloseTo(Math.LN2, 12);
  });
  it('a single candidate has entropy 0; the mean is over tokens', () => {
    const sure = tok('x', Math.log(0.99), [['x', Math.log(0.99)]]);
    const split = tok('a', Math.log(0.5), [
      ['a', Math.log(0.5)],
      ['b', Math.log(0.5)],
    ]);
    // (0 + ln 2) / 2
    expect(meanTopKEntropy([sure, split])).toBeCloseTo(Math.LN2 / 2, 12);
    expect(topKEntropyConfidence([sure, split])).toBeCloseTo(-Math.LN2 / 2, 12);
    expect(meanTopKEntropy([tok('x', -0.2)])).toBe(0); // no alternatives: only the sampled token
  });
  it('adds the sampled token when it is missing from top_logprobs', () => {
    // masses 0.4, 0.4 (alternatives) + 0.2 (sampled) → H = −(2·0.4 ln 0.4 + 0.2 ln 0.2)
    const t = tok('x', Math.log(0.2), [
      ['a', Math.log(0.4)],
      ['b', Math.log(0.4)],
    ]);
    const h = -(2 * 0.4 * Math.log(0.4) + 0.2 * Math.log(0.2));
    expect(meanTopKEntropy([t])).toBeCloseTo(h, 12);
  });
  it('survives −Infinity log-probs', () => {
    const t = tok('a', 0, [
      ['a', 0],
      ['b', -Infinity],
    ]);
    expect(meanTopKEntropy([t])).toBe(0);
  });
});

describe('answerConfidence', () => {
  const answer = [
    tok('a', Math.log(0.5), [
      ['a', Math.log(0.5)],
      ['b', Math.log(0.5)],
    ]),
    tok('b', Math.log(0.9), [['b', Math.log(0.9)]]),
  ];
  it('each method, and a weighted sum', () => {
    const mean = (Math.log(0.5) + Math.log(0.9)) / 2;
    expect(answerConfidence(answer)).toBeCloseTo(mean, 12);
    expect(answerConfidence(answer, { method: 'min-logprob' })).toBeCloseTo(Math.log(0.5), 12);
    expect(answerConfidence(answer, { method: 'neg-entropy' })).toBeCloseTo(-Math.LN2 / 2, 12);
    expect(answerConfidence(answer, { method: 'weighted', weights: { meanLogProb: 2, minLogProb: 1, negEntropy: 3 } })).toBeCloseTo(
      2 * mean + Math.log(0.5) - (3 * Math.LN2) / 2,
      12,
    );
  });
  it('a surer answer scores higher on every method', () => {
    const unsure = [
      tok('a', Math.log(0.3), [
        ['a', Math.log(0.3)],
        ['b', Math.log(0.3)],
        ['c', Math.log(0.3)],
      ]),
    ];
    const sure = [
      tok('a', Math.log(0.95), [
        ['a', Math.log(0.95)],
        ['b', Math.log(0.04)],
      ]),
    ];
    for (const method of ['mean-logprob', 'min-logprob', 'neg-entropy'] as const) {
      expect(answerConfidence(sure, { method })).toBeGreaterThan(answerConfidence(unsure, { method }));
    }
  });
});

describe('semantic entropy', () => {
  const A = Float32Array.of(1, 0, 0);
  const A2 = Float32Array.of(0.99, 0.1, 0);
  const B = Float32Array.of(0, 1, 0);
  const opts = { similarityThreshold: 0.9 };

  it('three identical answers → 0', () => {
    const r = semanticEntropy([{ embedding: A }, { embedding: A }, { embedding: A2 }], opts);
    expect(r.entropy).toBe(0);
    expect(r.clusters).toEqual([[0, 1, 2]]);
    expect(r.majorityShare).toBe(1);
  });

  it('a 2-vs-1 split → ln 3 − (2/3) ln 2', () => {
    // −(2/3 ln 2/3 + 1/3 ln 1/3) = ln 3 − (2/3) ln 2 ≈ 0.6365
    const r = semanticEntropy([{ embedding: A }, { embedding: B }, { embedding: A2 }], opts);
    expect(r.entropy).toBeCloseTo(Math.log(3) - (2 / 3) * Math.LN2, 12);
    expect(r.clusters).toEqual([[0, 2], [1]]);
    expect(r.clusterProbabilities[0]).toBeCloseTo(2 / 3, 12);
    expect(r.majorityShare).toBeCloseTo(2 / 3, 12);
    expect(agreementConfidence([{ embedding: A }, { embedding: B }, { embedding: A2 }], opts)).toBeCloseTo(2 / 3, 12);
    expect(agreementConfidence([{ embedding: A }, { embedding: B }, { embedding: A2 }], { ...opts, measure: 'neg-entropy' })).toBeCloseTo(
      -(Math.log(3) - (2 / 3) * Math.LN2),
      12,
    );
  });

  it('weights classes by sequence probability when every answer has one', () => {
    // class {A, A2}: 0.1 + 0.1, class {B}: 0.2 → 1/2 each → ln 2
    const r = semanticEntropy(
      [
        { embedding: A, logprob: Math.log(0.1) },
        { embedding: B, logprob: Math.log(0.2) },
        { embedding: A2, logprob: Math.log(0.1) },
      ],
      opts,
    );
    expect(r.entropy).toBeCloseTo(Math.LN2, 12);
    // one missing logprob → counts again
    const c = semanticEntropy([{ embedding: A, logprob: -1 }, { embedding: B }, { embedding: A2, logprob: -1 }], opts);
    expect(c.entropy).toBeCloseTo(Math.log(3) - (2 / 3) * Math.LN2, 12);
  });

  it('groups transitively and does not depend on answer order', () => {
    // cos(x, y) = cos(y, z) ≈ 0.92 ≥ 0.9, cos(x, z) ≈ 0.70 < 0.9: one class via y.
    const ang = (deg: number) => Float32Array.of(Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180), 0);
    const x = ang(0);
    const y = ang(23);
    const z = ang(46);
    const far = Float32Array.of(0, 0, 1);
    const r1 = semanticEntropy([{ embedding: x }, { embedding: z }, { embedding: far }, { embedding: y }], opts);
    const r2 = semanticEntropy([{ embedding: far }, { embedding: y }, { embedding: x }, { embedding: z }], opts);
    expect(r1.clusters).toEqual([[0, 1, 3], [2]]);
    expect(r2.clusters).toEqual([[0], [1, 2, 3]]);
    expect(r1.entropy).toBeCloseTo(r2.entropy, 12);
  });

  it('empty input', () => {
    expect(semanticEntropy([], opts).entropy).toBe(0);
  });
});
