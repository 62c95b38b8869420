/**
 * Small logistic regressions by Newton's method (a handful of weights, a few thousand rows): the
 * fits of the confidence-conditioned errors and of the escalation rule. Pure, no DOM or I/O.
 */

export function sigmoid(s: number): number {
  return s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s));
}

/** softplus(s) − y·s = binary cross-entropy of logit s against label y (soft labels allowed). */
export function bceWithLogit(s: number, y: number): number {
  return Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s))) - y * s;
}

/**
 * Logistic regression by Newton's method, P(y = 1) = σ(w·x + offset), with an L2 penalty
 * (l2/2)·‖w − prior‖² on every weight (prior 0 by default; offset 0 by default: a fixed term per
 * row, e.g. another model's logit that is trusted as it is); small dimensions only.
 * Without rows the prior is returned.
 */
export function fitLogisticNewton(
  rows: readonly (readonly number[])[],
  y: readonly number[],
  l2: number,
  prior?: readonly number[],
  offset?: readonly number[],
): number[] {
  const d = prior?.length ?? rows[0]?.length ?? 0;
  const centre = prior ?? new Array<number>(d).fill(0);
  if (offset && offset.length !== rows.length) throw new RangeError(`${offset.length} offsets for ${rows.length} rows`);
  const w = [...centre];
  if (rows.length === 0) return w;
  const loss = (v: readonly number[]): number => {
    let l = 0;
    rows.forEach((x, i) => {
      let s = offset ? offset[i]! : 0;
      for (let j = 0; j < d; j++) s += v[j]! * x[j]!;
      l += bceWithLogit(s, y[i]!);
    });
    return l + (l2 / 2) * v.reduce((a, b, j) => a + (b - centre[j]!) ** 2, 0);
  };
  let f = loss(w);
  for (let iter = 0; iter < 100; iter++) {
    const g = w.map((v, j) => l2 * (v - centre[j]!));
    const H = Array.from({ length: d }, (_, a) => Array.from({ length: d }, (_, b) => (a === b ? l2 : 0)));
    rows.forEach((x, i) => {
      let s = offset ? offset[i]! : 0;
      for (let j = 0; j < d; j++) s += w[j]! * x[j]!;
      const p = sigmoid(s);
      const h = p * (1 - p);
      for (let a = 0; a < d; a++) {
        g[a]! += (p - y[i]!) * x[a]!;
        for (let b = 0; b < d; b++) H[a]![b]! += h * x[a]! * x[b]!;
      }
    });
    const step = solveSymmetric(H, g);
    if (!step) break;
    let t = 1;
    let next = w.map((v, j) => v - t * step[j]!);
    let fNext = loss(next);
    while (fNext > f && t > 1e-8) {
      t /= 2;
      next = w.map((v, j) => v - t * step[j]!);
      fNext = loss(next);
    }
    if (fNext > f) break;
    const moved = Math.max(...next.map((v, j) => Math.abs(v - w[j]!)));
    for (let j = 0; j < d; j++) w[j] = next[j]!;
    f = fNext;
    if (moved < 1e-9) break;
  }
  return w;
}

/** Gaussian elimination with partial pivoting; undefined when singular. */
function solveSymmetric(A: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    if (Math.abs(M[p]![c]!) < 1e-12) return undefined;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * x[k]!;
    x[r] = s / M[r]![r]!;
  }
  return x;
}
