/**
 * The chat's running tally: quality and cost of the routed answers next to always calling the
 * best cloud model (GPT-4o with the defaults). For a recorded prompt both sides are the data
 * set's own records: each model's 0/1 score against the benchmark's reference and its recorded
 * cost per call; an on-device answer costs nothing. For a typed question there is no reference,
 * so it counts for cost only, with the best model's price estimated from its per-token prices,
 * the prompt and the answer length (4 characters a token, the cloud client's rule).
 */
import { cloudCostUsd, tokensForChars } from '../src/page/cloud-client';
import type { DemoExample } from './examples';
import type { DemoCloudModel } from './settings';

export interface SavingsTotals {
  readonly answers: number;
  readonly local: number;
  readonly escalated: number;
  /** Answers with a reference (recorded prompts). */
  readonly graded: number;
  /** Of those, how many the routed answer got right, and how many the baseline model did. */
  readonly correct: number;
  readonly baselineCorrect: number;
  readonly spentUsd: number;
  /** What always calling the best cloud model would have cost. */
  readonly baselineUsd: number;
}

export const NO_SAVINGS: SavingsTotals = { answers: 0, local: 0, escalated: 0, graded: 0, correct: 0, baselineCorrect: 0, spentUsd: 0, baselineUsd: 0 };

export interface AnswerCost {
  /** Profile id of the model whose answer was returned. */
  readonly model: string;
  readonly costUsd: number;
  readonly escalated: boolean;
  readonly local: boolean;
  readonly promptChars: number;
  readonly answerChars: number;
  /** The recorded item, when the prompt is one. */
  readonly recorded?: DemoExample;
}

export function estimateCallUsd(model: DemoCloudModel, promptChars: number, answerChars: number): number {
  return cloudCostUsd(model, tokensForChars(promptChars), tokensForChars(answerChars));
}

export function addAnswer(totals: SavingsTotals, answer: AnswerCost, best: DemoCloudModel | undefined): SavingsTotals {
  const item = answer.recorded;
  const score = item?.scores[answer.model];
  const baseScore = best ? item?.scores[best.id] : undefined;
  const graded = score !== undefined && baseScore !== undefined;
  // A recorded prompt is costed from the records on both sides; the device's answer is free.
  const recordedCost = item && !answer.local ? item.costs[answer.model] : undefined;
  const spent = answer.local ? 0 : (recordedCost ?? answer.costUsd);
  const baseline =
    best === undefined
      ? spent
      : (item?.costs[best.id] ?? (answer.model === best.id ? answer.costUsd : estimateCallUsd(best, answer.promptChars, answer.answerChars)));
  return {
    answers: totals.answers + 1,
    local: totals.local + (answer.local ? 1 : 0),
    escalated: totals.escalated + (answer.escalated ? 1 : 0),
    graded: totals.graded + (graded ? 1 : 0),
    correct: totals.correct + (graded ? score : 0),
    baselineCorrect: totals.baselineCorrect + (graded ? baseScore : 0),
    spentUsd: totals.spentUsd + spent,
    baselineUsd: totals.baselineUsd + baseline,
  };
}

/** "3/4 correct vs 3/4 for always gpt-4o, 71% cheaper" and the details, in words. */
export function describeTotals(t: SavingsTotals, baselineId: string, usd: (v: number) => string): string {
  if (t.answers === 0) return `No answers yet. Quality and cost are compared with always calling ${baselineId}.`;
  const quality =
    t.graded > 0
      ? `${t.correct}/${t.graded} correct vs ${t.baselineCorrect}/${t.graded} for always ${baselineId}`
      : `no recorded prompt yet, so nothing graded`;
  const cheaper = t.baselineUsd > 0 ? Math.round(100 * (1 - t.spentUsd / t.baselineUsd)) : 0;
  const price = cheaper >= 0 ? `${cheaper}% cheaper` : `${-cheaper}% dearer`;
  return `${quality}, ${price} (${usd(t.spentUsd)} vs ${usd(t.baselineUsd)}) · ${t.answers} answer${t.answers === 1 ? '' : 's'}: ${t.local} on this device, ${t.escalated} escalated`;
}

/** The configured cloud model with the lowest validation error (ties: the cheaper). */
export function bestCloudModel(
  models: readonly DemoCloudModel[],
  profile: readonly { readonly id: string; readonly globalError: number; readonly cost: number }[],
): DemoCloudModel | undefined {
  const known = models
    .map((m) => ({ m, p: profile.find((p) => p.id === m.id) }))
    .filter((x): x is { m: DemoCloudModel; p: { id: string; globalError: number; cost: number } } => x.p !== undefined);
  known.sort((a, b) => a.p.globalError - b.p.globalError || a.p.cost - b.p.cost);
  return known[0]?.m;
}
