import { describe, expect, it } from 'vitest';
import { extractChoiceLetter, extractFinalNumber, gradeAnswer } from '../../research/index';

describe('grading', () => {
  it('reads the chosen letter in the forms models write it', () => {
    expect(extractChoiceLetter('B')).toBe('B');
    expect(extractChoiceLetter(' (c) ')).toBe('C');
    expect(extractChoiceLetter('D) Planetary density will decrease.')).toBe('D');
    expect(extractChoiceLetter('The answer is A because ...')).toBe('A');
    expect(extractChoiceLetter('Answer: b')).toBe('B');
    expect(extractChoiceLetter('I am not sure.')).toBeUndefined();
    expect(extractChoiceLetter('E')).toBeUndefined();
  });

  it('reads the final number, GSM8K style', () => {
    expect(extractFinalNumber('so 9 * $2 = $<<9*2=18>>18.\n#### 18')).toBe(18);
    expect(extractFinalNumber('She makes $1,234.50 in total.')).toBe(1234.5);
    expect(extractFinalNumber('It takes 2 + 1 = 3 bolts.')).toBe(3);
    expect(extractFinalNumber('-7 degrees')).toBe(-7);
    expect(extractFinalNumber('no numbers')).toBeUndefined();
  });

  it('grades the three kinds', () => {
    expect(gradeAnswer('multiple-choice', 'C', 'C')).toBe(1);
    expect(gradeAnswer('multiple-choice', 'The answer is (B).', 'C')).toBe(0);
    expect(gradeAnswer('numeric', 'Total: 18 dollars', '#### 18')).toBe(1);
    expect(gradeAnswer('numeric', 'Total: 17', '18')).toBe(0);
    expect(gradeAnswer('exact', '  Paris. ', 'paris')).toBe(1);
    expect(gradeAnswer('exact', 'Lyon', 'paris')).toBe(0);
    expect(() => gradeAnswer('fuzzy' as never, 'a', 'a')).toThrow(/unknown grading kind/);
  });
});
