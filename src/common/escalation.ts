/**
 * The page's side of the escalation rule (src/core/escalation-rule.ts): the worker fits it on the
 * validation prompts and sends it with each routing decision; once the local model has answered,
 * the page applies it to the answer's confidence. Loaded on the first local answer only.
 */
import { ruleError, type EscalationRule } from '../core/escalation-rule';

/** What the rule says of one local answer. */
export interface EscalationJudgement {
  /** The local answer's predicted error given its confidence. */
  readonly localError: number;
  /** The cloud model with the least error + λ·cost given that confidence, and that objective. */
  readonly bestCloud: { readonly id: string; readonly objective: number } | undefined;
}

/**
 * Every candidate's error under `rule`, given UniRoute's `predictedErrors` (ψ_h(x) by model id)
 * and the local answer's `confidence`; the local model and the best cloud model by error + λ·cost
 * (a cost-free cloud model adds nothing even at λ = ∞). Escalate when that cloud objective is below
 * the local error: UniRoute's argmin with the confidence-conditioned errors (ties stay local).
 */
export function judgeLocalAnswer(
  rule: EscalationRule,
  predictedErrors: Readonly<Record<string, number>>,
  confidence: number,
  cloud: readonly { readonly id: string; readonly cost: number }[],
  lambda: number,
): EscalationJudgement {
  const error = (id: string): number => ruleError(rule.name, rule.params, id, predictedErrors[id] ?? NaN, confidence);
  let bestCloud: EscalationJudgement['bestCloud'];
  for (const m of cloud) {
    if (rule.params.models[m.id] === undefined || predictedErrors[m.id] === undefined) continue;
    const objective = error(m.id) + (m.cost > 0 ? lambda * m.cost : 0);
    if (bestCloud === undefined || objective < bestCloud.objective) bestCloud = { id: m.id, objective };
  }
  return { localError: error(rule.localModelId), bestCloud };
}
