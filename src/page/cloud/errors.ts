/** The error every CloudClient failure is. */
import { EdgeRouteError, type EdgeRouteErrorCode } from '../../common/errors';

// ---------------------------------------------------------------------------------------------
// Errors

export interface CloudErrorDetails {
  readonly modelId: string;
  /** HTTP status of the last attempt, when there was a response. */
  readonly status?: number;
  /** Attempts made (1 + retries). */
  readonly attempts: number;
  /** The failure is of a transient kind (timeout, network, 429, 5xx): trying later may work. */
  readonly transient: boolean;
  /** What the provider's Retry-After asked for, in ms. */
  readonly retryAfterMs?: number;
  /** The provider's OpenAI-style error object `{ type, param, code }`, when its body had one. */
  readonly provider?: ProviderErrorFields;
  readonly cause?: unknown;
}

/** The fields of an OpenAI error body besides its message. */
export interface ProviderErrorFields {
  readonly type?: string;
  readonly param?: string | null;
  readonly code?: string | null;
}

/** OpenAI's error `type` for an HTTP status, when the provider named none. */
export function openAIErrorType(status: number | undefined, code: EdgeRouteErrorCode): string {
  if (code === 'aborted') return 'aborted';
  if (status === 429) return 'rate_limit_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status !== undefined && status >= 400 && status < 500) return 'invalid_request_error';
  if (code === 'cloud-timeout') return 'timeout_error';
  if (code === 'cloud-network') return 'connection_error';
  return 'server_error';
}

/**
 * Every CloudClient failure; `code` is one of the cloud codes (see isCloudErrorCode) or
 * 'aborted'. Besides edgeroute's `code` it carries the fields of OpenAI's APIError: `status`,
 * `type`, `param` and the provider's own code as `providerCode` (OpenAI calls it `code`, which
 * here is edgeroute's; the fetch adapter puts it back under `error.code`).
 */
export class CloudError extends EdgeRouteError {
  readonly modelId: string;
  /** HTTP status of the last attempt; undefined when no response came (timeout, network, abort). */
  readonly status: number | undefined;
  /** OpenAI's error type: the provider's, else derived from the status ('rate_limit_error' …). */
  readonly type: string;
  /** The request field at fault, as the provider named it; null when none. */
  readonly param: string | null;
  /** The provider's error code ('rate_limit_exceeded', 'context_length_exceeded' …); null when none. */
  readonly providerCode: string | null;
  readonly attempts: number;
  readonly transient: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: EdgeRouteErrorCode, message: string, details: CloudErrorDetails) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.modelId = details.modelId;
    this.status = details.status;
    this.attempts = details.attempts;
    this.transient = details.transient;
    this.retryAfterMs = details.retryAfterMs;
    this.type = details.provider?.type ?? openAIErrorType(details.status, code);
    this.param = details.provider?.param ?? null;
    this.providerCode = details.provider?.code ?? null;
  }

  /** The provider fields again, to build a copy (a final error after retries). */
  get provider(): ProviderErrorFields {
    return { type: this.type, param: this.param, code: this.providerCode };
  }
}
