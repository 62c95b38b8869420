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
  /**
   * The GPU device under the local model or the embedder was lost (driver reset, out of GPU
   * memory, device destroyed). The worker cannot use the GPU again: createRouter's router
   * restarts it for the next request; direct worker users should terminate it and start another.
   */
  | 'device-lost'
  /**
   * A cloud-model failure that fits none of the codes below. CloudClient (src/page/cloud-client.ts)
   * uses it only for unexpected errors thrown by fetch; its errors are CloudError instances, and
   * `isCloudErrorCode(code)` is true for every cloud code including this one.
   */
  | 'cloud-failed'
  /** The provider did not answer within the model's timeoutMs (after the retries). */
  | 'cloud-timeout'
  /** HTTP 429 after the retries, or a Retry-After longer than edgeroute will wait. */
  | 'cloud-rate-limited'
  /** Any other non-2xx answer (401/403/404/400/422 at once; 5xx after the retries). */
  | 'cloud-http'
  /** The connection failed or was reset (after the retries). */
  | 'cloud-network'
  /** The answer was not the OpenAI shape: malformed JSON, a cut SSE stream, missing fields. */
  | 'cloud-protocol'
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

/** Every code, at run time (an error crossing the worker boundary is checked against it). */
const ALL_CODES: Readonly<Record<EdgeRouteErrorCode, true>> = {
  'invalid-config': true,
  'invalid-input': true,
  'storage-unavailable': true,
  'storage-quota': true,
  'storage-failed': true,
  'worker-failed': true,
  'webgpu-unavailable': true,
  'embedder-failed': true,
  'local-engine-failed': true,
  'device-lost': true,
  'cloud-failed': true,
  'cloud-timeout': true,
  'cloud-rate-limited': true,
  'cloud-http': true,
  'cloud-network': true,
  'cloud-protocol': true,
  'measurement-failed': true,
  'no-model-available': true,
  aborted: true,
};

export function isEdgeRouteErrorCode(value: unknown): value is EdgeRouteErrorCode {
  return typeof value === 'string' && Object.hasOwn(ALL_CODES, value);
}

/** The `code` of an EdgeRouteError (or of anything carrying a known code), else undefined. */
export function errorCode(error: unknown): EdgeRouteErrorCode | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return isEdgeRouteErrorCode(code) ? code : undefined;
}

const CLOUD_CODES: ReadonlySet<EdgeRouteErrorCode> = new Set<EdgeRouteErrorCode>([
  'cloud-failed',
  'cloud-timeout',
  'cloud-rate-limited',
  'cloud-http',
  'cloud-network',
  'cloud-protocol',
]);

/** True for every code a cloud call fails with ('aborted' excluded): the umbrella 'cloud-failed' and its refinements. */
export function isCloudErrorCode(code: EdgeRouteErrorCode): boolean {
  return CLOUD_CODES.has(code);
}

/** The message of anything thrown, for use inside a sentence. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The typed error for work stopped by its AbortSignal; the signal's reason is the cause. */
export function abortedError(what: string, signal: AbortSignal | undefined): EdgeRouteError {
  return new EdgeRouteError('aborted', `${what} was aborted by its AbortSignal.`, { cause: signal?.reason });
}
