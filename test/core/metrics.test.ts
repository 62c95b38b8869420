import { describe, expect, it } from 'vitest';
import { apgr, costToReach, cpt, pairScoreSweep, deferralArea, normalisedFrontier, paretoClean, pgr, qnc, strongShareCurve } from '../../src/core/metrics';
import type { DeferralCurve } from '../../src/core/types';

const pt = (cost: number, quality: number) => ({ lambda: NaN, cost, quality });

describe('paretoClean', () => {
  it('drops points dominated by a cheaper point with at least the same quality', () => {
    const curve: DeferralCurve = [
      pt(1, 0.8),
      pt(0.5, 0.4), // dominated by (0, 0.5)
      pt(0.5, 0.7), // dominated by (0.3, 0.7): same quality, cheaper
      pt(0, 0.5),
      pt(0.3, 0.7),
      pt(0.9, 0.6), // dominated
    ];
    expect(paretoClean(curve).map((p) => [p.cost, p.quality])).toEqual([
      [0, 0.5],
      [0.3, 0.7],
      [1, 0.8],
    ]);
  });

  it('keeps the better of two points at equal cost and drops non-finite ones', () => {
    const cleaned = paretoClean([pt(0.2, 0.3), pt(0.2, 0.6), pt(NaN, 1), pt(0.4, NaN)]);
    expect(cleaned.map((p) => [p.cost, p.quality])).toEqual([[0.2, 0.6]]);
  });

  it('normalisedFrontier divides cost by maxCost', () => {
    expect(normalisedFrontier([pt(0, 0.5), pt(2, 0.9), pt(3, 0.8)], 4)).toEqual([
      { cost: 0, quality: 0.5 },
      { cost: 0.5, quality: 0.9 },
    ]);
  });
});

describe('deferralArea', () => {
  it('3-point curve, trapezoids by hand', () => {
    // maxCost 2 → normalised x = 0, 0.5, 1.
    // area = 0.5·(0.5+0.7)/2 + 0.5·(0.7+0.9)/2 = 0.30 + 0.40 = 0.70
    expect(deferralArea([pt(0, 0.5), pt(1, 0.7), pt(2, 0.9)], 2)).toBeCloseTo(0.7, 12);
  });

  it('dominated points do not change the area', () => {
    const base = [pt(0, 0.5), pt(1, 0.7), pt(2, 0.9)];
    expect(deferralArea([...base, pt(0.5, 0.3), pt(1.5, 0.7)], 2)).toBeCloseTo(0.7, 12);
  });

  it('extends flat from the last point to normalised cost 1', () => {
    // x = 0, 0.5: 0.5·(0.5+0.8)/2 + 0.5·0.8 = 0.325 + 0.400 = 0.725
    expect(deferralArea([pt(0, 0.5), pt(1, 0.8)], 2)).toBeCloseTo(0.725, 12);
  });

  it('counts nothing below the cheapest point', () => {
    // x = 0.2, 0.6: [0, 0.2] → 0; 0.4·(0.6+0.8)/2 = 0.28; flat 0.4·0.8 = 0.32 → 0.60
    expect(deferralArea([pt(0.2, 0.6), pt(0.6, 0.8)], 1)).toBeCloseTo(0.6, 12);
  });

  it('clips points beyond the priciest model by interpolation', () => {
    // x = 0, 2 (q 0.4 → 0.8): at x = 1 q = 0.6; area = (0.4+0.6)/2 = 0.5
    expect(deferralArea([pt(0, 0.4), pt(2, 0.8)], 1)).toBeCloseTo(0.5, 12);
  });

  it('a constant-quality single point at cost 0 has area = its quality', () => {
    expect(deferralArea([pt(0, 0.42)], 3)).toBeCloseTo(0.42, 12);
    expect(deferralArea([], 3)).toBe(0);
  });

  it('rejects a non-positive maxCost', () => {
    expect(() => deferralArea([pt(0, 1)], 0)).toThrow(RangeError);
  });
});

describe('qnc', () => {
  const curve = [pt(0, 0.5), pt(0.5, 0.7), pt(1, 0.9)];
  it('interpolates inside the segment that crosses the target', () => {
    // target 0.8 lies in (0.5, 0.7)–(1, 0.9): 0.5 + 0.5·(0.8−0.7)/(0.9−0.7) = 0.75
    expect(qnc(curve, 0.8, 1)).toBeCloseTo(0.75, 12);
    // normalisation: same curve with costs doubled and maxCost 2
    expect(
      qnc(
        curve.map((p) => pt(2 * p.cost, p.quality)),
        0.8,
        2,
      ),
    ).toBeCloseTo(0.75, 12);
  });
  it('hits a point exactly, or the first point', () => {
    expect(qnc(curve, 0.7, 1)).toBeCloseTo(0.5, 12);
    expect(qnc(curve, 0.4, 1)).toBe(0);
  });
  it('is Infinity when never reached', () => {
    expect(qnc(curve, 0.95, 1)).toBe(Infinity);
  });
  it('a router above the best model reaches it below cost 1 (after Pareto cleaning)', () => {
    // (1, 0.85) is dominated by (0.4, 0.9); 0.85 reached on (0,0.5)–(0.4,0.9): 0.4·0.35/0.4 = 0.35
    expect(qnc([pt(0, 0.5), pt(0.4, 0.9), pt(1, 0.85)], 0.85, 1)).toBeCloseTo(0.35, 12);
  });
});

describe('RouteLLM metrics', () => {
  const q = { weakQuality: 0.5, strongQuality: 0.9 };
  const at = (strongShare: number, p: number) => ({ strongShare, quality: 0.5 + 0.4 * p }); // PGR = p

  it('pgr by hand', () => {
    expect(pgr(0.6, 0.5, 0.9)).toBeCloseTo(0.25, 12);
    expect(pgr(0.9, 0.5, 0.9)).toBeCloseTo(1, 12);
    expect(pgr(0.7, 0.6, 0.6)).toBeNaN();
  });

  it('APGR of a random router is exactly 0.5', () => {
    const random = [0.1, 0.25, 0.5, 0.7, 0.9].map((s) => at(s, s));
    expect(apgr(random, q)).toBeCloseTo(0.5, 12);
    expect(apgr([], q)).toBeCloseTo(0.5, 12); // only the anchors: the straight line
  });

  it('APGR of an oracle-like router', () => {
    // PGR 1 already at share 0.2: 0.2·(0+1)/2 + 0.8·1 = 0.9
    expect(apgr([at(0.2, 1)], q)).toBeCloseTo(0.9, 12);
  });

  it('APGR hand case with a dip (no Pareto cleaning) and unsorted input', () => {
    // points (0,0) (0.5,0.8) (0.6,0.6) (1,1):
    // 0.5·0.4 + 0.1·0.7 + 0.4·0.8 = 0.20 + 0.07 + 0.32 = 0.59
    expect(apgr([at(0.6, 0.6), at(0.5, 0.8)], q)).toBeCloseTo(0.59, 12);
  });

  it('CPT(50%) and CPT(80%) by hand', () => {
    const curve = [at(0.5, 0.9), at(0.2, 0.6)];
    // PGR 0.5 on (0,0)–(0.2,0.6): 0.2·0.5/0.6 = 1/6
    expect(cpt(curve, q, 0.5)).toBeCloseTo(1 / 6, 12);
    // PGR 0.8 on (0.2,0.6)–(0.5,0.9): 0.2 + 0.3·(0.2/0.3) = 0.4
    expect(cpt(curve, q, 0.8)).toBeCloseTo(0.4, 12);
    // random router: CPT(x) = x
    const random = [0.3, 0.6].map((s) => at(s, s));
    expect(cpt(random, q, 0.5)).toBeCloseTo(0.5, 12);
    expect(cpt(random, q, 0.8)).toBeCloseTo(0.8, 12);
    expect(cpt(random, q, 1.2)).toBe(Infinity);
  });

  it('strongShareCurve reads shares from a DeferralCurve', () => {
    const curve: DeferralCurve = [
      { lambda: 1, cost: 0, quality: 0.5, shares: { weak: 1 } },
      { lambda: 0.1, cost: 0.3, quality: 0.8, shares: { weak: 0.7, strong: 0.3 } },
    ];
    expect(strongShareCurve(curve, 'strong')).toEqual([
      { strongShare: 0, quality: 0.5 },
      { strongShare: 0.3, quality: 0.8 },
    ]);
    expect(() => strongShareCurve([pt(0, 1)], 'strong')).toThrow();
  });
});

describe('pairScoreSweep (RouteLLM full-range threshold sweep)', () => {
  it('moves prompts to the strong model in score order, ties together, from share 0 to 1', () => {
    // Scores 0.9 > 0.5 = 0.5 > −0.3: the tie moves as one threshold step.
    const points = pairScoreSweep([0.5, 0.9, -0.3, 0.5], [0, 0, 1, 1], [1, 1, 0, 1]);
    expect(points).toEqual([
      { strongShare: 0, quality: 0.5 },
      { strongShare: 0.25, quality: 0.75 },
      { strongShare: 0.75, quality: 1 },
      { strongShare: 1, quality: 0.75 },
    ]);
  });

  it('covers the range a λ ≥ 0 sweep leaves out (negative scores), which changes APGR', () => {
    // Weak right on 0–1, strong right on 2–4, both wrong on 5. Scores: +1 where only the strong
    // model is right; below 0 the router believes the weak model is at least as good.
    const weak = [1, 1, 0, 0, 0, 0];
    const strong = [0, 0, 1, 1, 1, 0];
    const score = [-0.2, -1, 1, 1, 1, -0.1];
    const full = pairScoreSweep(score, weak, strong);
    expect(full.map((p) => p.strongShare)).toEqual([0, 3 / 6, 4 / 6, 5 / 6, 1]);
    expect(full.map((p) => p.quality * 6)).toEqual([2, 5, 5, 4, 3].map((v) => expect.closeTo(v, 12)));
    const gap = { weakQuality: 2 / 6, strongQuality: 3 / 6 };
    // PGR 0 → 3 over [0, ½], 3 on [½, ⅔], 3 → 2 over [⅔, ⅚], 2 → 1 over [⅚, 1].
    expect(apgr(full, gap)).toBeCloseTo(0.75 + 3 / 6 + 2.5 / 6 + 1.5 / 6, 12);
    // What a λ ≥ 0 sweep sees (positive scores only), joined by a straight line to strong-only.
    const positiveOnly = full.slice(0, 2);
    expect(apgr(positiveOnly, gap)).toBeCloseTo(0.75 + 1, 12);
    expect(cpt(full, gap, 1)).toBeCloseTo(1 / 6, 12);
  });

  it('rejects NaN scores and mismatched lengths', () => {
    expect(() => pairScoreSweep([NaN], [0], [1])).toThrow(/NaN/);
    expect(() => pairScoreSweep([0, 1], [0], [1, 1])).toThrow(/lengths/);
    expect(() => pairScoreSweep([], [], [])).toThrow(/no prompts/);
  });
});

describe('costToReach', () => {
  it('interpolates to the first cost at which the cleaned curve reaches the target, Infinity if never', () => {
    const curve: DeferralCurve = [pt(0, 0.5), pt(0.5, 0.7), pt(1, 0.8)];
    expect(costToReach(curve, 0.6, 1)).toBeCloseTo(0.25, 12);
    expect(costToReach(curve, 0.95 * 0.8, 2)).toBeCloseTo((0.5 + (0.5 * (0.76 - 0.7)) / 0.1) / 2, 12);
    expect(costToReach(curve, 0.81, 1)).toBe(Infinity);
    expect(qnc(curve, 0.8, 1)).toBe(costToReach(curve, 0.8, 1));
  });
});
