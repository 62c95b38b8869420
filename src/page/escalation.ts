/** How hard the controller pulls the realised share back to the target (3: a 1-point drift moves q by 3 points). */
const CONTROLLER_GAIN = 3;

/**
 * Holds a hybrid router's overall cloud share at a target. UniRoute's λ is calibrated to send
 * `preRouteShare` of the target to the cloud before generation; of the prompts answered
 * locally, those whose confidence falls in the lowest quantile q of the confidences seen so far
 * escalate, with q chosen so that pre-routed + escalated ≈ target. The local model's confidence
 * scale is unknown in advance (it depends on the model and the prompt mix), hence online.
 */
export class EscalationController {
  /** Scores seen so far, by what they measure: a raw confidence and a P(local right) do not rank together. */
  private readonly seen = new Map<string, number[]>();
  private total = 0;
  private preRouted = 0;
  private escalated = 0;
  private fallbacks = 0;

  constructor(readonly target: number) {}

  recordPreRouted(toCloud: boolean): void {
    this.total++;
    if (toCloud) this.preRouted++;
  }

  /** A local-routed prompt the cloud answered anyway (the local engine failed). */
  recordFallback(): void {
    this.fallbacks++;
  }

  /**
   * Records a local answer's score (higher = likelier right) of `kind`; true when it should
   * escalate. Each answer is ranked among the scores of its own kind.
   */
  escalate(confidence: number, kind = 'confidence'): boolean {
    // Pre-routed prompts and local failures go to the cloud whatever the threshold says.
    const pre = this.total > 0 ? (this.preRouted + this.fallbacks) / this.total : 0;
    const realised = this.total > 0 ? (this.preRouted + this.fallbacks + this.escalated) / this.total : this.target;
    // The quantile that meets the target on average, corrected by how far the realised share
    // has drifted from it (a proportional controller on top of the feed-forward term).
    const q = pre >= 1 ? 0 : Math.min(1, Math.max(0, (this.target - pre + CONTROLLER_GAIN * (this.target - realised)) / (1 - pre)));
    const confidences = this.seen.get(kind) ?? [];
    this.seen.set(kind, confidences);
    confidences.push(confidence);
    let escalate = !Number.isFinite(confidence);
    if (!escalate) {
      const sorted = confidences.filter(Number.isFinite);
      // Rank of this answer among all local answers so far: escalate the lowest q.
      const below = sorted.filter((c) => c < confidence).length + 0.5 * (sorted.filter((c) => c === confidence).length - 1);
      escalate = (below + 0.5) / sorted.length <= q;
    }
    if (escalate) this.escalated++;
    return escalate;
  }
}
