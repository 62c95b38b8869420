import { describe, expect, it } from 'vitest';
import { pairedInterval } from '../../bench/report';
import { oneStandardErrorChoice } from '../../bench/protocol';
import { formatFatal } from '../../bench/fatal';

describe('paired deltas', () => {
  it('gives the mean difference with a 95 % t-interval (hand-computed)', () => {
    // d = 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t(2) = 4.303 → half-width 4.303·0.1/√3.
    const d = pairedInterval([1.1, 1.2, 1.3], [1, 1, 1]);
    expect(d.mean).toBeCloseTo(0.2, 12);
    expect(d.high - d.mean).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 9);
    expect(d.mean - d.low).toBeCloseTo(d.high - d.mean, 12);
    expect(pairedInterval([1], [0])).toMatchObject({ mean: 1, low: -Infinity, high: Infinity });
    expect(() => pairedInterval([1, 2], [1])).toThrow();
  });
});

describe('one-standard-error rule', () => {
  it('picks the simplest candidate within one standard error of the best, else the best', () => {
    // Candidate 0 trails the best (2) by 0.01 on every fold: se 0, not within → not chosen.
    expect(
      oneStandardErrorChoice([
        [0.5, 0.6, 0.7],
        [0.4, 0.5, 0.6],
        [0.51, 0.61, 0.71],
      ]),
    ).toBe(2);
    // Candidate 0 trails by −0.01, +0.01, −0.01 ... mean −1/300, se > |mean|: chosen.
    expect(
      oneStandardErrorChoice([
        [0.5, 0.62, 0.7],
        [0.4, 0.5, 0.6],
        [0.51, 0.61, 0.71],
      ]),
    ).toBe(0);
  });
});

describe('formatFatal', () => {
  it('prints the message and a few short stack frames, not a whole source line', () => {
    const error = new Error(`bad ${'x'.repeat(5000)}`);
    error.stack = `Error: bad\n${Array.from({ length: 20 }, (_, i) => `    at f${i} (${'y'.repeat(400)}.js:1:1)`).join('\n')}`;
    const out = formatFatal(error);
    const lines = out.split('\n');
    expect(lines).toHaveLength(7);
    expect(lines.every((l) => l.length <= 210)).toBe(true);
    expect(lines[0]).toMatch(/^Error: bad x+…$/);
    expect(formatFatal('plain')).toBe('error: plain');
  });
});
