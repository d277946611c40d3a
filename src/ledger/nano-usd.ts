// Costs as reports show them: to the nano-dollar. A call's cost is often a fraction of a nano-dollar
// (a cached gpt-4o-mini token served at flex is 37.5 n$), so figures rounded one by one do not add
// up to their rounded total, and a total that adds up its rows' rounded figures changes with the grouping.

/** USD rounded to the nano-dollar. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}

/**
 * `parts` (USD) rounded to the nano-dollar so that they add up to `total` rounded (largest remainder):
 * each is rounded to the nearest nano-dollar, then the nano-dollars that rounding gained or lost on the
 * whole are taken back from (given to) the parts rounded up (down) the most. Each stays within one
 * nano-dollar of its exact value; `total` is what they add up to exactly, in any order.
 */
export function roundUsdToTotal(parts: readonly number[], total: number): number[] {
  const exact = parts.map((p) => p * 1e9);
  const nanos = exact.map((e) => Math.round(e));
  let gap = Math.round(total * 1e9) - nanos.reduce((s, n) => s + n, 0);
  const step = Math.sign(gap);
  // By how much rounding moved each part the wrong way for the gap, largest first.
  const order = exact.map((_, i) => i).sort((a, b) => step * (exact[b] - nanos[b]) - step * (exact[a] - nanos[a]));
  for (let k = 0; gap !== 0 && k < order.length; k++) {
    nanos[order[k]] += step;
    gap -= step;
  }
  return nanos.map((n) => n / 1e9);
}
