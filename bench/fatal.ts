/**
 * How the benchmark reports an error it did not expect: name, message and a few stack frames,
 * each cut short. Node's default report prints the source line of the throw, which inside
 * TF.js's WASM glue is one minified line of the whole file.
 */
export function formatFatal(error: unknown, frames = 6, width = 200): string {
  if (!(error instanceof Error)) return `error: ${String(error).slice(0, 2000)}`;
  const cut = (s: string): string => (s.length > width ? `${s.slice(0, width)}…` : s);
  const stack = (error.stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at '))
    .slice(0, frames);
  const cause = error.cause instanceof Error ? [`caused by ${error.cause.name}: ${cut(error.cause.message)}`] : [];
  return [`${error.name}: ${cut(error.message)}`, ...stack.map((l) => `    ${cut(l)}`), ...cause].join('\n');
}
