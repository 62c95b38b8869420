/**
 * How hybrid and cascade modes judge a local answer's confidence: loaded with the first local
 * answer, so an app that never answers locally does not download it.
 */
import { judgeLocalAnswer } from '../common/escalation';
import type { EscalationRuleName, LocalConfidence, RouteResult } from '../worker/protocol';
import type { EscalationController } from './escalation';

/** Mean token log-prob below which a local answer escalates when no escalation rule applies. */
export const DEFAULT_CONFIDENCE_THRESHOLD = -1.5;

export interface LocalJudgement {
  readonly escalate: boolean;
  /** The cloud model an escalation goes to. */
  readonly target: string;
  readonly rule: EscalationRuleName | 'threshold';
  /** The local answer's predicted error given its confidence (with a rule only). */
  readonly localError?: number;
  readonly note?: string;
}

export interface LocalJudgementInput {
  readonly route: RouteResult;
  readonly lambda: number;
  readonly confidence: LocalConfidence;
  /** UniRoute's best cloud model before generating. */
  readonly cloudChoice: string;
  readonly cloudModels: readonly { readonly id: string; readonly cost: number }[];
  /** Holds a cloud-share target, when one is set. */
  readonly controller: EscalationController | undefined;
  readonly threshold: number | undefined;
}

/**
 * Whether a local answer escalates, and to which cloud model. With the profile's escalation rule
 * for answers of this confidence kind (route.escalationRule: confidence-only, UniRoute or the
 * fitted hybrid, chosen by cross-validation): every candidate's error given the confidence, and
 * UniRoute's argmin over them; under a cloud-share target the controller ranks P(local right)
 * instead. Otherwise the threshold on the raw confidence (or the controller on it), with a note
 * when a rule exists for another kind of confidence.
 */
export function judgeLocal(input: LocalJudgementInput): LocalJudgement {
  const { route, confidence, controller, cloudChoice } = input;
  const rule = route.escalationRule;
  if (rule && rule.confidenceKind === confidence.method) {
    const { localError, bestCloud } = judgeLocalAnswer(rule, route.clusterErrors ?? route.predictedErrors, confidence.score, input.cloudModels, input.lambda);
    const escalate = controller ? controller.escalate(1 - localError, `P(right) by ${rule.name}`) : bestCloud !== undefined && bestCloud.objective < localError;
    return { escalate, target: bestCloud?.id ?? cloudChoice, rule: rule.name, localError };
  }
  const threshold = input.threshold ?? DEFAULT_CONFIDENCE_THRESHOLD;
  const escalate = controller ? controller.escalate(confidence.score) : !(confidence.score >= threshold);
  const note = rule
    ? `The profile's escalation rule was fitted on "${rule.confidenceKind}" confidences and this answer's is "${confidence.method}": the confidence threshold decided instead.`
    : undefined;
  return { escalate, target: cloudChoice, rule: 'threshold', ...(note ? { note } : {}) };
}
