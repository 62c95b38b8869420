/**
 * What to embed of a prompt. Pure string functions: the browser (before routing a live prompt)
 * and the benchmark (before embedding a data set) must produce the same text, or the router
 * sees vectors unlike those it was trained on.
 *
 * A router needs the part of a prompt that distinguishes it from others. Benchmark prompts
 * wrap the question in text every prompt shares, which dominates a sentence embedding:
 * - few-shot solved examples (RouterBench ARC / Winogrande: 5 examples, each ending in
 *   "Answer:\n<letter>", then the real question as the last block);
 * - answer-format instructions ("Print only a single choice from "A" or "B" without
 *   explanation.", "Answer the multiple-choice question below by outputting A, B, C, or D.
 *   Don't say anything else.", "Please answer with the letter of the correct answer.");
 * - labels and cues ("Question:", "Choices:", a final "Answer:").
 * We drop those, keep the question and its answer options, collapse whitespace, and shorten.
 */

/**
 * Default length cap. USE lite reads only its first 128 SentencePiece tokens; benchmark text
 * runs ~4 characters a token, and at 450 characters 90% of the truncated MMLU texts fit in
 * 128 tokens (at 600, the median is 145 tokens: the model would drop the kept tail). When a
 * text is longer we keep head and tail (truncateMiddle): long prompts are usually a passage
 * followed by the question and its options.
 */
export const DEFAULT_MAX_CHARS = 450;

export interface PromptTextOptions {
  /** Cap on the returned length in characters (default DEFAULT_MAX_CHARS). */
  readonly maxChars?: number;
  /**
   * Extra lines to drop wherever they occur (compared after trimming), e.g. a set-specific
   * preamble found by findSharedLines on training prompts. A router that uses this must store
   * the list with its model so live prompts are treated the same.
   */
  readonly boilerplate?: readonly string[];
}

/** Longest answer after "Answer:" that still counts as a solved example's answer ("B", "(C) 4"). */
const MAX_ANSWER_CHARS = 40;

/**
 * "Answer:" (anywhere on a line: Winogrande has "... without explanation. Answer:") or a line
 * starting "A:", followed on that line or the next by a short answer that ends the block.
 */
const SOLVED_ANSWER = new RegExp(String.raw`(?:(?:^|\s)Answer|(?:^|\n)[ \t]*A)[ \t]*:[ \t]*(?:\n[ \t]*)?(\S[^\n]{0,${MAX_ANSWER_CHARS - 1}})$`, 'i');

/** True if a blank-line-separated block is a worked example: it ends with an answered "Answer:". */
export function isSolvedExample(block: string): boolean {
  const match = SOLVED_ANSWER.exec(block.trim());
  return match !== null && match[1] !== undefined && !/^answer\s*:/i.test(match[1]);
}

/** Splits on blank lines (lines holding only whitespace count as blank). */
export function splitBlocks(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .filter((b) => b.trim().length > 0);
}

/**
 * The real question of a few-shot prompt: the blocks after the last solved example. A prompt
 * with no solved example (zero-shot, chat, multi-turn) is returned whole.
 */
export function finalQuestion(prompt: string): string {
  const blocks = splitBlocks(prompt);
  let lastSolved = -1;
  blocks.forEach((b, i) => {
    if (isSolvedExample(b)) lastSolved = i;
  });
  const rest = blocks.slice(lastSolved + 1);
  // Every block solved (odd, but possible): the last one is the best guess at the question.
  if (rest.length === 0) return blocks.length > 0 ? blocks[blocks.length - 1] : '';
  return rest.join('\n\n');
}

/**
 * Answer-format directives. A line is one if it says how to format the answer; these phrases
 * do not occur in real questions of our sets (checked over all eight data sets).
 */
const INSTRUCTION_PATTERNS: readonly RegExp[] = [
  /\bdon'?t say anything else\b/i,
  /\bwithout (?:any )?explanation\b/i,
  /\b(?:output|print|answer|respond|reply) (?:with )?only\b/i,
  /\bonly a single (?:choice|letter)\b/i,
  /^please answer with the letter of the correct answer\.?$/i,
];

/** Cue and label lines that carry nothing: "Answer:", "Choices:", "Options:", "A:". */
const CUE_LINE = /^(?:(?:answer|choices|options)\s*:?|a\s*:)\s*$/i;

/** A leading "Question:" / "Q:" label; the text after it is kept. */
const QUESTION_LABEL = /^(?:question|q)\s*:\s*/i;

/** Longest line treated as an instruction: longer lines are content that happens to match. */
const MAX_INSTRUCTION_CHARS = 300;

export function isInstructionLine(line: string): boolean {
  const t = line.trim();
  if (t.length === 0 || t.length > MAX_INSTRUCTION_CHARS) return false;
  return INSTRUCTION_PATTERNS.some((re) => re.test(t));
}

/** Drops instruction, cue and boilerplate lines; strips "Question:" labels. Keeps line breaks. */
export function stripBoilerplateLines(text: string, boilerplate: readonly string[] = []): string {
  const extra = new Set(boilerplate.map((l) => l.trim()));
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .filter((line) => {
      const t = line.trim();
      return !CUE_LINE.test(t) && !isInstructionLine(t) && !extra.has(t);
    })
    .map((line) => line.replace(QUESTION_LABEL, ''))
    .join('\n');
}

/** Collapses every whitespace run (newlines included) to one space, and trims. */
export function collapseWhitespace(text: string): string {
  return text.replace(/[\s\u200b\ufeff]+/g, ' ').trim();
}

/**
 * Shortens to at most `maxChars`: the first ~2/3 and the last ~1/3, cut at spaces, joined by
 * " … ". Head keeps the topic; tail keeps the question and options of a long passage prompt.
 */
export function truncateMiddle(text: string, maxChars: number): string {
  if (!(maxChars > 0)) throw new RangeError(`maxChars must be positive, got ${maxChars}`);
  if (text.length <= maxChars) return text;
  const sep = ' … ';
  if (maxChars <= sep.length + 2) return text.slice(0, maxChars);
  const budget = maxChars - sep.length;
  const headLen = Math.ceil((budget * 2) / 3);
  const tailLen = budget - headLen;
  let head = text.slice(0, headLen);
  const headCut = head.lastIndexOf(' ');
  if (headCut > headLen / 2) head = head.slice(0, headCut);
  let tail = text.slice(text.length - tailLen);
  const tailCut = tail.indexOf(' ');
  if (tailCut >= 0 && tailCut < tailLen / 2) tail = tail.slice(tailCut + 1);
  return head.trimEnd() + sep + tail.trimStart();
}

/**
 * The text to embed for a prompt: its final question (few-shot examples dropped), without
 * answer-format boilerplate, whitespace collapsed, at most maxChars long. Never empty for a
 * prompt with any non-space character (falls back to the collapsed prompt).
 */
export function textForEmbedding(prompt: string, options: PromptTextOptions = {}): string {
  return embeddingText(prompt, options).text;
}

/** textForEmbedding's text, and whether the length cap cut it (before the cut: `fullChars`). */
export interface EmbeddingText {
  readonly text: string;
  readonly truncated: boolean;
  /** Length of the cleaned text before the cap. */
  readonly fullChars: number;
}

export function embeddingText(prompt: string, options: PromptTextOptions = {}): EmbeddingText {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  const question = collapseWhitespace(stripBoilerplateLines(finalQuestion(prompt), options.boilerplate));
  const text = question.length > 0 ? question : collapseWhitespace(prompt);
  return { text: truncateMiddle(text, maxChars), truncated: text.length > maxChars, fullChars: text.length };
}

/**
 * Lines (trimmed, non-empty) that occur in at least `minShare` of the prompts' final questions,
 * after the built-in stripping: candidates for PromptTextOptions.boilerplate, and a check that
 * the built-in rules leave no shared preamble behind. Each line counts once per prompt.
 */
export function findSharedLines(prompts: readonly string[], minShare = 0.5): string[] {
  if (prompts.length === 0) return [];
  const counts = new Map<string, number>();
  for (const p of prompts) {
    const lines = new Set(
      stripBoilerplateLines(finalQuestion(p))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0),
    );
    for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  const threshold = minShare * prompts.length;
  return [...counts.entries()]
    .filter(([, c]) => c >= threshold)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([l]) => l);
}
