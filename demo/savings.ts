/**
 * The chat's running total: what the routed answers cost against always calling the best cloud
 * model. An answer the best model gave costs the same either way; for any other answer the best
 * model's price is estimated from its per-token prices, the prompt and the answer length (4
 * characters a token, the rule the cloud client uses when a provider sends no usage).
 */
import { cloudCostUsd, tokensForChars } from '../src/page/cloud-client';
import type { DemoCloudModel } from './settings';

export interface SavingsTotals {
  readonly answers: number;
  readonly local: number;
  readonly escalated: number;
  readonly spentUsd: number;
  /** What always calling the best cloud model would have cost. */
  readonly baselineUsd: number;
}

export const NO_SAVINGS: SavingsTotals = { answers: 0, local: 0, escalated: 0, spentUsd: 0, baselineUsd: 0 };

export interface AnswerCost {
  readonly model: string;
  readonly costUsd: number;
  readonly escalated: boolean;
  readonly local: boolean;
  readonly promptChars: number;
  readonly answerChars: number;
}

export function estimateCallUsd(model: DemoCloudModel, promptChars: number, answerChars: number): number {
  return cloudCostUsd(model, tokensForChars(promptChars), tokensForChars(answerChars));
}

export function addAnswer(totals: SavingsTotals, answer: AnswerCost, best: DemoCloudModel | undefined): SavingsTotals {
  const baseline = best === undefined
    ? answer.costUsd
    : answer.model === best.id ? answer.costUsd : estimateCallUsd(best, answer.promptChars, answer.answerChars);
  return {
    answers: totals.answers + 1,
    local: totals.local + (answer.local ? 1 : 0),
    escalated: totals.escalated + (answer.escalated ? 1 : 0),
    spentUsd: totals.spentUsd + answer.costUsd,
    baselineUsd: totals.baselineUsd + baseline,
  };
}

/** The configured cloud model with the lowest validation error (ties: the cheaper). */
export function bestCloudModel(
  models: readonly DemoCloudModel[], profile: readonly { readonly id: string; readonly globalError: number; readonly cost: number }[],
): DemoCloudModel | undefined {
  const known = models
    .map((m) => ({ m, p: profile.find((p) => p.id === m.id) }))
    .filter((x): x is { m: DemoCloudModel; p: { id: string; globalError: number; cost: number } } => x.p !== undefined);
  known.sort((a, b) => a.p.globalError - b.p.globalError || a.p.cost - b.p.cost);
  return known[0]?.m;
}
