/**
 * The router's modes, the papers' two methods and their combination:
 * - 'route'      UniRoute decides before generating: argmin_h Σ_k P(k|x)·Ψ_k(h) + λ·cost(h).
 * - 'cascade'    the local model always answers first; a low confidence escalates to the cloud.
 * - 'hybrid'     (default with a local model) skip the local model when UniRoute predicts it fails, else cascade.
 * - 'local-only', 'cloud-only'.
 */
export const ROUTER_MODES = ['hybrid', 'route', 'cascade', 'local-only', 'cloud-only'] as const;

export type RouterMode = (typeof ROUTER_MODES)[number];

export function isRouterMode(value: unknown): value is RouterMode {
  return (ROUTER_MODES as readonly unknown[]).includes(value);
}
