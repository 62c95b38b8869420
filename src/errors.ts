/**
 * Every failure edgeroute reports is an EdgeRouteError with a stable `code`, so callers can
 * branch on it, and a message that says what to do next (web-llm's style).
 */
export type EdgeRouteErrorCode =
  | 'invalid-config'
  | 'invalid-input'
  | 'storage-unavailable'
  | 'storage-quota'
  | 'storage-failed'
  | 'worker-failed'
  | 'webgpu-unavailable'
  | 'embedder-failed'
  | 'local-engine-failed'
  | 'cloud-failed'
  /** The answer function given to measureModel failed (not an abort). */
  | 'measurement-failed'
  | 'no-model-available'
  | 'aborted';

export class EdgeRouteError extends Error {
  readonly code: EdgeRouteErrorCode;

  constructor(code: EdgeRouteErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgeRouteError';
    this.code = code;
  }
}
