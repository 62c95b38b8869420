/**
 * Grading a model's answer against a reference, for measuring a new model's scores on the
 * validation prompts (UniRoute's addModel) and for the calibration command. Three graders cover
 * the data sets: a multiple-choice letter, a final numeric answer (GSM8K), and exact match.
 */

export type GradingKind = 'multiple-choice' | 'numeric' | 'exact';

export interface Grader {
  readonly kind: GradingKind;
  /** 1 when `answer` matches `reference`, else 0. */
  grade(answer: string, reference: string): 0 | 1;
}

const LETTERS = 'ABCDEFGHIJ';

/**
 * The answer letter a model chose: a lone letter, "(B)", "B)", "B.", "Answer: B", "The answer is B".
 * Undefined when none can be found, or when the text names two different letters as answers.
 */
export function extractChoiceLetter(answer: string, letters = LETTERS.slice(0, 4)): string | undefined {
  const text = answer.trim();
  const set = `[${letters}]`;
  const patterns = [
    new RegExp(`^\\(?(${set})\\)?[.):]?$`, 'i'),
    new RegExp(`answer(?: is|:)?\\s*\\(?(${set})\\b`, 'i'),
    new RegExp(`^\\(?(${set})[).:]\\s`, 'i'),
    new RegExp(`^(${set})\\b`),
  ];
  for (const p of patterns) {
    const m = p.exec(text);
    if (m?.[1]) return m[1].toUpperCase();
  }
  return undefined;
}

/**
 * The final numeric answer: after "####" (GSM8K's format) when present, else the last number
 * in the text. Thousands separators, currency signs and a trailing ".0" are ignored.
 */
export function extractFinalNumber(answer: string): number | undefined {
  const marked = /####\s*([-$\d.,]+)/.exec(answer);
  const candidates = marked ? [marked[1]!] : (answer.match(/-?\$?\d[\d,]*(?:\.\d+)?/g) ?? []);
  const last = candidates[candidates.length - 1];
  if (last === undefined) return undefined;
  const value = Number(last.replace(/[$,]/g, '').replace(/\.$/, ''));
  return Number.isFinite(value) ? value : undefined;
}

/** Lower case, collapsed whitespace, no surrounding punctuation or quotes. */
export function normaliseAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^["'`(]+|["'`).!?]+$/g, '')
    .trim();
}

export const graders: Readonly<Record<GradingKind, Grader>> = {
  'multiple-choice': {
    kind: 'multiple-choice',
    grade: (answer, reference) => {
      const ref = extractChoiceLetter(reference, LETTERS) ?? reference.trim().toUpperCase();
      return extractChoiceLetter(answer, LETTERS) === ref ? 1 : 0;
    },
  },
  numeric: {
    kind: 'numeric',
    grade: (answer, reference) => {
      const a = extractFinalNumber(answer);
      const r = extractFinalNumber(reference);
      return a !== undefined && r !== undefined && Math.abs(a - r) <= 1e-6 * Math.max(1, Math.abs(r)) ? 1 : 0;
    },
  },
  exact: {
    kind: 'exact',
    grade: (answer, reference) => (normaliseAnswer(answer) === normaliseAnswer(reference) ? 1 : 0),
  },
};

/** Grades with the grader of `kind`. */
export function gradeAnswer(kind: GradingKind, answer: string, reference: string): 0 | 1 {
  const grader = graders[kind];
  if (!grader) throw new Error(`unknown grading kind "${String(kind)}": use multiple-choice, numeric or exact`);
  return grader.grade(answer, reference);
}
