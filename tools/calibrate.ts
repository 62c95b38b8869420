/**
 * Calibrates a cloud model for the router: runs it on validation prompts through any
 * OpenAI-compatible endpoint, grades every answer, and writes its scores in the shape UniRoute's
 * addModel takes ({ id, cost, scores }), with accuracy, cost and usage beside them.
 *
 *   npm run calibrate -- --base-url http://127.0.0.1:8787/v1 --model gpt-4-1106-preview \
 *       --set routerbench-mix [--data ../shared/data] [--limit N] [--concurrency 4] \
 *       [--out reports/calibration-<model>.json] [--price-in USD/Mtok --price-out USD/Mtok] [--cost USD]
 *
 * --set is a data-set name (read from --data: a folder or tools/make-replay-sample.ts's sample)
 * or a path to a ValidationSet JSON (each prompt's own reference and grading).
 * The data sets have no answer key, so a prompt's reference is inferred from the OTHER models'
 * recorded answers (never the calibrated model's): the majority answer of those scored 1, or,
 * when none was right, the only option no model chose. Where the data recorded the calibrated
 * model's own score, our grade is compared with it ("agreement"): against the replay cloud this
 * checks the grader and the reference inference against the recorded correctness labels.
 *
 * The API key comes from EDGEROUTE_API_KEY (if set); it is sent as a Bearer token, never written.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_DATA_DIR } from '../dev/data';
import { extractChoiceLetter, extractFinalNumber, gradeAnswer, type GradingKind } from '../src/core/grading';
import type { ChatCompletion, ChatCompletionRequest, ChatMessage } from '../src/common/openai';
import { validateValidationSet } from '../src/common/validation-set';
import { loadReplaySets, recordedText, type ReplayItem } from '../dev/replay-data';

// ---------------------------------------------------------------------------------------------
// Reference inference

export type NoReferenceReason = 'no-reference' | 'conflicting-references';

export type InferredReference =
  | { readonly reference: string; readonly how: 'majority' | 'elimination'; readonly votes: number }
  | { readonly reference?: undefined; readonly reason: NoReferenceReason };

/** GSM8K-style sets are graded on the final number; the others are multiple choice. */
export function gradingKindFor(set: string, task: string): GradingKind {
  return /gsm8k/i.test(task) || /gsm8k/i.test(set) ? 'numeric' : 'multiple-choice';
}

/**
 * Option letters of the prompt's last question ("A) …", "A: …", "(A) …", "A. …" at a line start).
 * Few-shot prompts (RouterBench) repeat earlier questions; only the part after the last
 * solved example counts. A–D when none are found.
 */
export function optionLetters(prompt: string): string[] {
  const parts = prompt.trimEnd().split(/\n\s*\n/);
  // The last block with options: the final question (its "Answer:" line may sit in its own block).
  for (let i = parts.length - 1; i >= 0; i--) {
    const found = [...parts[i]!.matchAll(/^\s*\(?([A-J])[).:]\s/gm)].map((m) => m[1]!);
    if (found.length >= 2) return [...new Set(found)].sort();
  }
  return ['A', 'B', 'C', 'D'];
}

/** The answer a recorded or live response gives, as a comparable key (a letter, or a number). */
export function answerKey(kind: GradingKind, text: string, letters: readonly string[]): string | undefined {
  if (kind === 'multiple-choice') return extractChoiceLetter(text, letters.join(''));
  if (kind === 'numeric') {
    const n = extractFinalNumber(text);
    return n === undefined ? undefined : String(n);
  }
  const t = text.trim().toLowerCase();
  return t === '' ? undefined : t;
}

/**
 * The reference of `item` for grading `model`, from the other models' recorded answers only:
 * the majority answer among those scored 1 (a tie → no reference); with none scored 1, for
 * multiple choice, the one option that no wrong model chose.
 */
export function inferReference(item: ReplayItem, model: string, kind: GradingKind): InferredReference {
  const letters = optionLetters(item.prompt);
  const right = new Map<string, number>();
  const wrong = new Set<string>();
  for (const [other, raw] of Object.entries(item.responses)) {
    if (other === model) continue; // never from the model being calibrated
    const score = item.scores[other];
    if (score === undefined) continue;
    const key = answerKey(kind, recordedText(raw), letters);
    if (key === undefined) continue;
    if (score >= 0.5) right.set(key, (right.get(key) ?? 0) + 1);
    else wrong.add(key);
  }
  if (right.size > 0) {
    const ranked = [...right.entries()].sort((a, b) => b[1] - a[1]);
    if (ranked.length > 1 && ranked[0]![1] === ranked[1]![1]) return { reason: 'conflicting-references' };
    return { reference: ranked[0]![0], how: 'majority', votes: ranked[0]![1] };
  }
  if (kind === 'multiple-choice') {
    const left = letters.filter((l) => !wrong.has(l));
    if (left.length === 1) return { reference: left[0]!, how: 'elimination', votes: 0 };
  }
  return { reason: 'no-reference' };
}

// ---------------------------------------------------------------------------------------------
// Prompts to run

export interface CalibrationPrompt {
  readonly id: string;
  readonly prompt: string;
  readonly grading?: GradingKind;
  readonly reference?: string;
  /** Why there is no reference (the prompt is run but not graded). */
  readonly noReference?: NoReferenceReason;
  /** The calibrated model's recorded score on this prompt, where the data has one. */
  readonly recordedScore?: number;
}

export interface CalibrationSource {
  readonly name: string;
  readonly source: string;
  readonly licence: string;
  readonly systemPrompt?: string;
  readonly prompts: readonly CalibrationPrompt[];
}

const looksLikeFile = (s: string): boolean => /\.json$/i.test(s) || s.includes('/') || s.includes(path.sep);

/** Prompts of a data set (references inferred for `model`) or of a ValidationSet JSON file. */
export async function loadCalibrationSource(set: string, model: string, dataDir: string): Promise<CalibrationSource> {
  if (looksLikeFile(set)) {
    const vs = validateValidationSet(JSON.parse(await readFile(set, 'utf8')) as unknown);
    return {
      name: vs.name,
      source: vs.source,
      licence: vs.licence,
      prompts: vs.prompts.map((p) => ({
        id: p.id,
        prompt: p.prompt,
        ...(p.grading !== undefined && p.reference !== undefined ? { grading: p.grading, reference: p.reference } : { noReference: 'no-reference' as const }),
        ...(p.scores[model] !== undefined ? { recordedScore: p.scores[model] } : {}),
      })),
    };
  }
  const [loaded] = await loadReplaySets(dataDir, [set]);
  const card = loaded!.card;
  return {
    name: loaded!.name,
    source: String(card.source ?? ''),
    licence: String(card.license ?? card['licence'] ?? ''),
    ...(typeof card.system_prompt === 'string' ? { systemPrompt: card.system_prompt } : {}),
    prompts: loaded!.items.map((it) => {
      const grading = gradingKindFor(loaded!.name, it.task);
      const inferred = inferReference(it, model, grading);
      return {
        id: it.id,
        prompt: it.prompt,
        grading,
        ...(inferred.reference !== undefined ? { reference: inferred.reference } : { noReference: inferred.reason }),
        ...(it.scores[model] !== undefined ? { recordedScore: it.scores[model] } : {}),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Calling the model

export interface CallResult {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** USD of this call as recorded, when the endpoint (the replay cloud) says so. */
  readonly recordedCost?: number;
}

class CallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly fatal = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

async function callOnce(baseUrl: string, body: ChatCompletionRequest, timeoutMs: number, apiKey: string | undefined): Promise<CallResult> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${baseUrl.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (error) {
    const e = error as Error;
    const why =
      e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${e.message}${e.cause ? ` (${String((e.cause as Error).message ?? e.cause)})` : ''}`;
    throw new CallError(`request failed: ${why}`, true);
  }
  if (!res.ok) {
    let detail = text.slice(0, 300);
    let code: unknown;
    try {
      const err = (JSON.parse(text) as { error?: { message?: string; code?: unknown } }).error;
      detail = err?.message ?? detail;
      code = err?.code;
    } catch {
      /* not JSON: keep the raw text */
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    const retryable = res.status === 429 || res.status >= 500;
    // A wrong key or model fails every prompt the same way: stop instead of running them all.
    const fatal = res.status === 401 || res.status === 403 || code === 'model_not_found';
    throw new CallError(`HTTP ${res.status}: ${detail}`, retryable, fatal, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined);
  }
  let completion: ChatCompletion;
  try {
    completion = JSON.parse(text) as ChatCompletion;
  } catch {
    throw new CallError(`malformed JSON in a ${res.status} response (${text.length} bytes)`, true);
  }
  const content = completion.choices?.[0]?.message?.content;
  if (typeof content !== 'string') throw new CallError('response has no choices[0].message.content', true);
  const cost = Number(res.headers.get('x-edgeroute-replay-cost') ?? NaN);
  return {
    text: content,
    promptTokens: completion.usage?.prompt_tokens ?? 0,
    completionTokens: completion.usage?.completion_tokens ?? 0,
    ...(Number.isFinite(cost) ? { recordedCost: cost } : {}),
  };
}

/** One call with retries on 429 (honouring Retry-After, capped), 5xx, network errors and bad bodies. */
export async function callModel(
  baseUrl: string,
  body: ChatCompletionRequest,
  options: { timeoutMs: number; retries: number; apiKey?: string; backoffMs?: number },
): Promise<CallResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await callOnce(baseUrl, body, options.timeoutMs, options.apiKey);
    } catch (error) {
      const e = error instanceof CallError ? error : new CallError(String(error), false);
      if (!e.retryable || attempt >= options.retries) throw e;
      const backoff = (options.backoffMs ?? 500) * 2 ** attempt;
      await sleep(Math.min(60_000, e.retryAfterMs ?? backoff));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

export type DisagreementReason = 'answer-unreadable' | 'answer-differs-from-reference' | 'matches-reference-but-recorded-0';

export interface CalibrationOptions {
  readonly baseUrl: string;
  readonly model: string;
  readonly set: string;
  readonly data?: string;
  readonly limit?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
  readonly maxTokens?: number;
  /** USD per million tokens, for the cost when the endpoint does not report one. */
  readonly priceIn?: number;
  readonly priceOut?: number;
  /** USD per call to write as the model's cost, overriding the measured one. */
  readonly cost?: number;
  readonly apiKey?: string;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CalibrationReport {
  /** UniRoute addModel input: the model, its USD per call, and prompt id → 0|1. */
  readonly id: string;
  readonly cost: number;
  readonly scores: Record<string, 0 | 1>;
  readonly set: { readonly name: string; readonly source: string; readonly licence: string };
  readonly baseUrl: string;
  readonly createdAt: string;
  readonly summary: {
    readonly prompts: number;
    readonly graded: number;
    readonly correct: number;
    readonly accuracy: number;
    /** Prompts run but not graded (no reference), or not run (request failed), by reason. */
    readonly ungraded: Record<string, number>;
  };
  readonly costSummary: {
    readonly source: 'recorded' | 'price' | 'override' | 'unknown';
    readonly calls: number;
    readonly totalUsd: number;
    readonly meanUsdPerCall: number;
  };
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number };
  /** Our grade vs the model's recorded score, on graded prompts that have one; null when none do. */
  readonly agreement: {
    readonly compared: number;
    readonly agreed: number;
    readonly rate: number;
    readonly disagreements: Partial<Record<DisagreementReason, number>>;
    readonly examples: readonly { id: string; reason: DisagreementReason; answer: string; reference: string; recorded: number }[];
  } | null;
  readonly failures: readonly { id: string; error: string }[];
}

/** Drops user:password from a URL before it is written anywhere. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

export async function runCalibration(options: CalibrationOptions): Promise<CalibrationReport> {
  const source = await loadCalibrationSource(options.set, options.model, options.data ?? DEFAULT_DATA_DIR);
  const prompts = options.limit !== undefined ? source.prompts.slice(0, options.limit) : source.prompts;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));

  const scores: Record<string, 0 | 1> = {};
  const ungraded: Record<string, number> = {};
  const disagreements: Partial<Record<DisagreementReason, number>> = {};
  const examples: { id: string; reason: DisagreementReason; answer: string; reference: string; recorded: number }[] = [];
  const failures: { id: string; error: string }[] = [];
  let correct = 0;
  let compared = 0;
  let agreed = 0;
  let calls = 0;
  let recordedUsd = 0;
  let recordedCalls = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  let fatal: Error | undefined;
  let next = 0;
  let done = 0;

  const handle = (p: CalibrationPrompt, result: CallResult): void => {
    calls++;
    promptTokens += result.promptTokens;
    completionTokens += result.completionTokens;
    if (result.recordedCost !== undefined) {
      recordedUsd += result.recordedCost;
      recordedCalls++;
    }
    if (p.grading === undefined || p.reference === undefined) {
      const why = p.noReference ?? 'no-reference';
      ungraded[why] = (ungraded[why] ?? 0) + 1;
      return;
    }
    const s = gradeAnswer(p.grading, result.text, p.reference);
    scores[p.id] = s;
    correct += s;
    if (p.recordedScore === undefined) return;
    compared++;
    const recorded = p.recordedScore >= 0.5 ? 1 : 0;
    if (s === recorded) {
      agreed++;
      return;
    }
    const letters = optionLetters(p.prompt);
    const reason: DisagreementReason =
      s === 1
        ? 'matches-reference-but-recorded-0'
        : answerKey(p.grading, result.text, p.grading === 'multiple-choice' ? 'ABCDEFGHIJ'.split('') : letters) === undefined
          ? 'answer-unreadable'
          : 'answer-differs-from-reference';
    disagreements[reason] = (disagreements[reason] ?? 0) + 1;
    if (examples.length < 20) examples.push({ id: p.id, reason, answer: result.text.slice(0, 200), reference: p.reference, recorded: p.recordedScore });
  };

  const worker = async (): Promise<void> => {
    while (next < prompts.length && !fatal) {
      const p = prompts[next++]!;
      const messages: ChatMessage[] = [
        ...(source.systemPrompt !== undefined ? [{ role: 'system' as const, content: source.systemPrompt }] : []),
        { role: 'user', content: p.prompt },
      ];
      const body: ChatCompletionRequest = {
        model: options.model,
        messages,
        temperature: 0,
        stream: false,
        ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
      };
      try {
        handle(
          p,
          await callModel(options.baseUrl, body, {
            timeoutMs: options.timeoutMs ?? 60_000,
            retries: options.retries ?? 3,
            ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
            ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
          }),
        );
      } catch (error) {
        if (error instanceof CallError && error.fatal) fatal = new Error(`${options.model} on prompt ${p.id}: ${error.message}`);
        ungraded['request-failed'] = (ungraded['request-failed'] ?? 0) + 1;
        failures.push({ id: p.id, error: (error as Error).message });
      }
      options.onProgress?.(++done, prompts.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, prompts.length) }, worker));
  if (fatal) throw fatal;

  const graded = Object.keys(scores).length;
  let costSource: CalibrationReport['costSummary']['source'] = 'unknown';
  let totalUsd = 0;
  if (recordedCalls > 0 && recordedCalls === calls) {
    costSource = 'recorded';
    totalUsd = recordedUsd;
  } else if (options.priceIn !== undefined && options.priceOut !== undefined) {
    costSource = 'price';
    totalUsd = (promptTokens * options.priceIn + completionTokens * options.priceOut) / 1e6;
  }
  const meanUsdPerCall = calls > 0 ? totalUsd / calls : 0;
  return {
    id: options.model,
    cost: options.cost ?? meanUsdPerCall,
    scores,
    set: { name: source.name, source: source.source, licence: source.licence },
    baseUrl: safeUrl(options.baseUrl),
    createdAt: new Date().toISOString(),
    summary: { prompts: prompts.length, graded, correct, accuracy: graded > 0 ? correct / graded : 0, ungraded },
    costSummary: { source: options.cost !== undefined ? 'override' : costSource, calls, totalUsd, meanUsdPerCall },
    usage: { promptTokens, completionTokens },
    agreement: compared > 0 ? { compared, agreed, rate: agreed / compared, disagreements, examples } : null,
    failures: failures.slice(0, 50),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function numberOption(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0, got "${raw}"`);
  return n;
}

const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export interface MainIo {
  readonly log: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Parses the command line, runs the calibration, writes the JSON and prints a summary. */
export async function main(
  argv: readonly string[],
  io: MainIo = { log: (l) => console.log(l), env: process.env },
): Promise<{ report: CalibrationReport; out: string }> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'base-url': { type: 'string' },
      model: { type: 'string' },
      set: { type: 'string' },
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      limit: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      out: { type: 'string' },
      'timeout-ms': { type: 'string', default: '60000' },
      retries: { type: 'string', default: '3' },
      'max-tokens': { type: 'string' },
      'price-in': { type: 'string' },
      'price-out': { type: 'string' },
      cost: { type: 'string' },
    },
  });
  const baseUrl = values['base-url'];
  const model = values.model;
  const set = values.set;
  if (!baseUrl || !model || !set) {
    throw new Error(
      'usage: calibrate --base-url <url/v1> --model <id> --set <set name | validation-set.json> '
        + '[--data ../shared/data] [--limit N] [--concurrency 4] [--out reports/calibration-<model>.json]',
    );
  }
  const out = values.out ?? path.join('reports', `calibration-${fileSafe(model)}.json`);
  const limit = numberOption(values.limit, 'limit');
  const maxTokens = numberOption(values['max-tokens'], 'max-tokens');
  const priceIn = numberOption(values['price-in'], 'price-in');
  const priceOut = numberOption(values['price-out'], 'price-out');
  const cost = numberOption(values.cost, 'cost');
  const apiKey = io.env['EDGEROUTE_API_KEY'] || undefined;
  const started = Date.now();
  let lastShown = started;
  const report = await runCalibration({
    baseUrl,
    model,
    set,
    data: values.data,
    concurrency: Number(values.concurrency),
    timeoutMs: Number(values['timeout-ms']),
    retries: Number(values.retries),
    ...(limit !== undefined ? { limit } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(priceIn !== undefined ? { priceIn } : {}),
    ...(priceOut !== undefined ? { priceOut } : {}),
    ...(cost !== undefined ? { cost } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    onProgress: (done, total) => {
      if (Date.now() - lastShown > 5000 && done < total) {
        lastShown = Date.now();
        io.log(`  ${done}/${total} prompts…`);
      }
    },
  });
  await mkdir(path.dirname(out) || '.', { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);

  const s = report.summary;
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  io.log(`calibrated ${model} on ${report.set.name} via ${report.baseUrl} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  io.log(`  prompts ${s.prompts}, graded ${s.graded}, correct ${s.correct}, accuracy ${pct(s.accuracy)}`);
  const ungraded = Object.entries(s.ungraded)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  if (ungraded) io.log(`  not graded: ${ungraded}`);
  const c = report.costSummary;
  io.log(
    `  cost: ${c.source}, $${c.totalUsd.toFixed(4)} for ${c.calls} calls, $${c.meanUsdPerCall.toExponential(3)} per call; `
      + `tokens in ${report.usage.promptTokens}, out ${report.usage.completionTokens}`,
  );
  if (report.agreement) {
    const a = report.agreement;
    const reasons =
      Object.entries(a.disagreements)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none';
    io.log(`  agreement with recorded scores: ${a.agreed}/${a.compared} = ${pct(a.rate)}; disagreements: ${reasons}`);
  }
  if (report.failures.length > 0) io.log(`  first failure: ${report.failures[0]!.id}: ${report.failures[0]!.error}`);
  io.log(`  wrote ${out} (addModel input: id, cost, scores)`);
  return { report, out };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`calibrate: ${(error as Error)?.message ?? String(error)}`);
    process.exit(1);
  });
}
