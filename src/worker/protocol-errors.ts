/**
 * Errors across the worker boundary. comlink sends a thrown Error as { name, message, stack }
 * only, so an EdgeRouteError's `code` was lost on the way and the page got a plain Error it
 * could not branch on. installErrorTransfer() replaces comlink's 'throw' handler, on both sides,
 * with one that keeps the code: an EdgeRouteError arrives as an EdgeRouteError with its code,
 * an EmbedderError as 'embedder-failed' (or 'aborted'), and anything else the worker throws as
 * 'worker-failed' naming what it was. Never a bare value.
 *
 * comlink's handler table is global to the comlink module, so with the ESM build (comlink an
 * external) this also applies to the app's own comlink use: errors of other names then arrive
 * as EdgeRouteError('worker-failed') too, still carrying the original name and message.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { EdgeRouteError, isEdgeRouteErrorCode } from '../common/errors';

/** What crosses the boundary for a thrown value. */
export type WireThrow =
  | { readonly isError: true; readonly value: { readonly name: string; readonly message: string; readonly stack?: string; readonly code?: string } }
  | { readonly isError: false; readonly value: unknown };

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

/** The sending side: an Error's name, message, stack and (when a string) code. */
export function serializeThrown(value: unknown): WireThrow {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      isError: true,
      value: {
        name: value.name,
        message: value.message,
        ...(value.stack !== undefined ? { stack: value.stack } : {}),
        ...(typeof code === 'string' ? { code } : {}),
      },
    };
  }
  // A thrown non-Error: sent as text, since it may not survive structured cloning.
  return { isError: false, value: describe(value) };
}

/** The receiving side: always an EdgeRouteError. */
export function deserializeThrown(wire: WireThrow): EdgeRouteError {
  if (!wire.isError) return new EdgeRouteError('worker-failed', `The edgeroute worker threw ${String(wire.value)}, not an Error.`);
  const { name, message, stack, code } = wire.value;
  let error: EdgeRouteError;
  if ((name === 'EdgeRouteError' || name === 'CloudError') && isEdgeRouteErrorCode(code)) {
    error = new EdgeRouteError(code, message);
  } else if (name === 'EmbedderError') {
    error = new EdgeRouteError(code === 'aborted' ? 'aborted' : 'embedder-failed', `The embedder failed: ${message}`);
  } else {
    error = new EdgeRouteError('worker-failed', `The edgeroute worker failed: ${name}: ${message}`);
  }
  // The worker's stack says where it happened; the page's would only show comlink.
  if (stack) error.stack = stack;
  return error;
}

let installed = false;

/** Makes comlink carry EdgeRouteError codes (idempotent; call in the page and in the worker). */
export function installErrorTransfer(): void {
  if (installed) return;
  const original = transferHandlers.get('throw');
  if (!original) return; // a comlink without the 'throw' handler: leave it alone
  const handler: TransferHandler<{ value: unknown }, WireThrow> = {
    // comlink marks thrown values with a private symbol; its own test finds them.
    canHandle: (value): value is { value: unknown } => original.canHandle(value),
    serialize: ({ value }) => [serializeThrown(value), []],
    deserialize: (wire) => {
      throw deserializeThrown(wire);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
  installed = true;
}
