import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_CHARS,
  embeddingText,
  finalQuestion,
  findSharedLines,
  isInstructionLine,
  isSolvedExample,
  textForEmbedding,
  truncateMiddle,
} from '../../src/core/prompt-text';

// Shapes copied from the real sets (../shared/data), shortened to two solved examples.
const ARC_PRINT = 'Print only a single choice  from "A" or "B" or "C" or "D" without explanation.';
const arcPrompt = [
  'George wants to warm his hands quickly by rubbing them. Which skin surface will produce the most heat?\nA) dry palms\nB) wet palms\nC) palms covered with oil\nD) palms covered with lotion\n'
    + ARC_PRINT
    + '\nAnswer:\nA',
  'A fold observed in layers of sedimentary rock most likely resulted from the\nA) cooling of flowing magma.\nB) converging of crustal plates.\nC) deposition of river sediments.\nD) solution of carbonate minerals.\n'
    + ARC_PRINT
    + '\nAnswer:\nB',
  'An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nA) Planetary years will become longer.\nB) Planetary gravity will become stronger.\nC) Planetary days will become shorter.\nD) Planetary density will decrease.\n'
    + ARC_PRINT
    + '\nAnswer:',
].join('\n\n');

const WINO_PRINT = 'Print only a single choice  from "A" or "B" without explanation. Answer:';
const winoPrompt = [
  'Please answer with the letter of the correct answer.',
  "Ian volunteered to eat Dennis's menudo after already having a bowl because _ despised eating intestine.\nA) Ian\nB) Dennis\n" + WINO_PRINT + '\nB',
  'Please answer with the letter of the correct answer.',
  'He never comes to my home, but I always go to his house because the _ is smaller.\nA) home\nB) house\n' + WINO_PRINT + '\nA',
  'Sarah was a much better surgeon than Maria so _ always got the easier cases.\nA) Maria\nB) Sarah\n' + WINO_PRINT,
].join('\n\n');

const cascadeMmlu =
  "Answer the multiple-choice question below by outputting A, B, C, or D. Don't say anything else.\n\n"
  + 'Question: Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\n\nChoices:\nA: 0\nB: 1\nC: 2\nD: 3\n\nAnswer: ';

const medmcqa =
  'Below is a multiple-choice question from a medical school entrance exam. Output "A", "B", "C", or "D" to indicate the correct answer. Don\'t say anything else.\n\n'
  + 'Question: Which is a "Soft steroid" used in bronchial asthma?\n\nChoices:\nA: Budesonide\nB: Dexamethasone\nC: Ciclesonide\nD: Fiunisolide\n\nAnswer: ';

const routellmMmlu = 'Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:';

describe('few-shot extraction', () => {
  it('keeps only the final ARC question with its options', () => {
    expect(textForEmbedding(arcPrompt)).toBe(
      'An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation? '
        + 'A) Planetary years will become longer. B) Planetary gravity will become stronger. C) Planetary days will become shorter. D) Planetary density will decrease.',
    );
  });

  it('handles Winogrande, whose "Answer:" trails the instruction line', () => {
    expect(textForEmbedding(winoPrompt)).toBe('Sarah was a much better surgeon than Maria so _ always got the easier cases. A) Maria B) Sarah');
  });

  it('recognises solved and unsolved blocks', () => {
    expect(isSolvedExample('Q?\nA) x\nB) y\n' + WINO_PRINT + '\nB')).toBe(true);
    expect(isSolvedExample('Q?\nA) x\nAnswer:\nB')).toBe(true);
    expect(isSolvedExample('Q?\nA) x\nAnswer: (C) 4')).toBe(true);
    expect(isSolvedExample('Q?\nA) x\nAnswer:')).toBe(false);
    expect(isSolvedExample('Answer: ')).toBe(false);
    expect(isSolvedExample('Choices:\nA: Budesonide\nB: Dexamethasone')).toBe(false);
    expect(isSolvedExample('Please answer with the letter of the correct answer.')).toBe(false);
  });

  it('leaves prompts without solved examples whole (multi-turn MT-Bench)', () => {
    const twoTurns = 'Picture yourself as a 100-years-old tree.\n\nCome up with a proposal to convince the deforesters.';
    expect(finalQuestion(twoTurns)).toBe(twoTurns);
    expect(textForEmbedding(twoTurns)).toBe('Picture yourself as a 100-years-old tree. Come up with a proposal to convince the deforesters.');
  });
});

describe('boilerplate', () => {
  it('strips the cascade preambles, labels and answer cue', () => {
    expect(textForEmbedding(cascadeMmlu)).toBe('Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field. A: 0 B: 1 C: 2 D: 3');
    expect(textForEmbedding(medmcqa)).toBe('Which is a "Soft steroid" used in bronchial asthma? A: Budesonide B: Dexamethasone C: Ciclesonide D: Fiunisolide');
  });

  it('keeps zero-shot MMLU (RouteLLM) content and options', () => {
    expect(textForEmbedding(routellmMmlu)).toBe('Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q. A. 0 B. 4 C. 2 D. 6');
  });

  it('does not treat ordinary questions as instructions', () => {
    expect(isInstructionLine('Which statement about the oral phase of digestion is INCORRECT?')).toBe(false);
    expect(isInstructionLine('A. Bottom to top')).toBe(false);
    expect(isInstructionLine(ARC_PRINT)).toBe(true);
  });

  it('drops caller-given boilerplate lines and finds shared lines', () => {
    const prompts = ['Set rule: be brief.\nWhat is 2+2?', 'Set rule: be brief.\nName a prime.', 'Set rule: be brief.\nWho wrote Hamlet?'];
    expect(findSharedLines(prompts, 0.5)).toEqual(['Set rule: be brief.']);
    expect(textForEmbedding(prompts[0], { boilerplate: ['Set rule: be brief.'] })).toBe('What is 2+2?');
  });

  it('never returns empty text for a non-empty prompt', () => {
    expect(textForEmbedding('Answer:')).toBe('Answer:');
    expect(textForEmbedding('')).toBe('');
  });
});

describe('truncation', () => {
  it('keeps head and tail within maxChars', () => {
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
    const t = truncateMiddle(words, 100);
    expect(t.length).toBeLessThanOrEqual(100);
    expect(t.startsWith('w0 w1 ')).toBe(true);
    expect(t.endsWith('w398 w399')).toBe(true);
    expect(t).toContain(' … ');
  });

  it('applies the default cap', () => {
    const long = 'Passage. '.repeat(200) + 'Which option is correct?\nA. x\nB. y\nAnswer:';
    const t = textForEmbedding(long);
    expect(t.length).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    expect(t.endsWith('Which option is correct? A. x B. y')).toBe(true);
  });

  it('leaves short text alone', () => {
    expect(truncateMiddle('short', 10)).toBe('short');
  });
});

describe('embeddingText', () => {
  it('says when the cap cut the prompt, and keeps head and tail of a 100k-character one', () => {
    const huge = `Start of a long passage. ${'filler words here '.repeat(6000)}What is the final question?`;
    expect(huge.length).toBeGreaterThan(100_000);
    const cut = embeddingText(huge);
    expect(cut).toMatchObject({ truncated: true });
    expect(cut.fullChars).toBeGreaterThan(100_000);
    expect(cut.text.length).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    expect(cut.text.startsWith('Start of a long passage.')).toBe(true);
    expect(cut.text.endsWith('What is the final question?')).toBe(true);
    expect(cut.text).toBe(textForEmbedding(huge));
    expect(embeddingText('What is 17 × 23?')).toEqual({ text: 'What is 17 × 23?', truncated: false, fullChars: 16 });
  });
});
