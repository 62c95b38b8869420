/**
 * Settles like `promise`, or rejects with `reason()` as soon as `signal` fires: for work that
 * cannot itself be interrupted (some fetch bodies, an engine call). The losing promise's
 * rejection is swallowed so it is never reported as unhandled.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, reason: (signal: AbortSignal) => unknown): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(reason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
