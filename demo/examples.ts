/**
 * The chat's recorded prompts (public/demo/examples.json, written by tools/make-demo-assets.ts):
 * for each, what Llama-3.2-1B, GPT-4o-mini and GPT-4o really answered in the cascade sets, each
 * answer's 0/1 score against the benchmark's reference, its recorded cost, and Llama-3.2-1B's own
 * confidence (the log-probability of the answer letter). No DOM here: tested in Node.
 */
export interface DemoExample {
  /** `<set>:<item id>`. */
  readonly id: string;
  readonly set: string;
  readonly prompt: string;
  /** model id → 1 if that model's recorded answer was right, else 0. */
  readonly scores: Readonly<Record<string, number>>;
  /** model id → recorded USD of that call. */
  readonly costs: Readonly<Record<string, number>>;
  /** model id → the answer as recorded. */
  readonly responses: Readonly<Record<string, string>>;
  /** The right answer (the letter every correct model of the set gave), when one was right. */
  readonly reference?: string;
  /** Llama-3.2-1B's log-probability of the letter it answered. */
  readonly localConfidence: number;
}

export interface DemoExamples {
  readonly source: string;
  readonly licence: string;
  /** The system prompt the recorded runs used. */
  readonly systemPrompt: string;
  readonly models: readonly string[];
  readonly items: readonly DemoExample[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks examples.json; throws naming the first bad item. */
export function parseExamples(raw: unknown): DemoExamples {
  if (!isRecord(raw) || !Array.isArray(raw.items) || !Array.isArray(raw.models)) throw new Error('examples.json: expected { models: [], items: [] }');
  const models = raw.models.map(String);
  raw.items.forEach((it: unknown, i) => {
    if (!isRecord(it) || typeof it.prompt !== 'string' || typeof it.id !== 'string' || typeof it.localConfidence !== 'number') {
      throw new Error(`examples.json: item ${i} needs id, prompt and localConfidence`);
    }
    for (const field of ['scores', 'costs', 'responses'] as const) {
      const o = it[field];
      if (!isRecord(o) || !models.every((m) => o[m] !== undefined))
        throw new Error(`examples.json: item ${it.id} lacks ${field} for one of ${models.join(', ')}`);
    }
  });
  return raw as unknown as DemoExamples;
}

/** Prompts compare after trimming and collapsing whitespace (a textarea may change line ends). */
export const promptKey = (text: string): string => text.replace(/\s+/g, ' ').trim();

export class ExampleBook {
  private readonly byPrompt: Map<string, DemoExample>;

  constructor(readonly examples: DemoExamples) {
    this.byPrompt = new Map(examples.items.map((e) => [promptKey(e.prompt), e]));
  }

  /** The recorded item for this prompt text, if it is one. */
  find(prompt: string): DemoExample | undefined {
    return this.byPrompt.get(promptKey(prompt));
  }
}

/** The question line of a multiple-choice prompt, for a short button label. */
export function exampleTitle(prompt: string, max = 90): string {
  const q = /Question:\s*([\s\S]*?)(?:\n\s*\n|\nChoices:|$)/.exec(prompt)?.[1] ?? prompt;
  const line = q.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** "B: 1" — the letter with its choice text from the prompt, when the answer is a bare letter. */
export function describeAnswer(prompt: string, answer: string): string {
  const letter = /^\s*\(?([A-D])\)?[.:]?\s*$/.exec(answer)?.[1];
  if (!letter) return answer;
  const choice = new RegExp(`^\\s*${letter}[:.)]\\s*(.+)$`, 'm').exec(prompt.split(/Choices:/)[1] ?? prompt)?.[1];
  return choice ? `${letter}: ${choice.trim()}` : letter;
}
