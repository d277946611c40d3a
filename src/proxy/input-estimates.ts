// A call's input estimate widened by what the body does not show: stored context it brings in, and the
// attempts of a server-side fallback, each of which reads (and is billed) the whole input.
import type { InputEstimate } from '../tokens/index.js';

/** The estimate plus `stored` tokens of context the body brings in without showing them. */
export function withStoredContext(estimate: InputEstimate, stored: number): InputEstimate {
  return stored === 0 ? estimate : { upperBound: estimate.upperBound + stored, exact: () => estimate.exact() + stored };
}

/** The estimate for `attempts` model attempts, each reading the whole input. */
export function timesAttempts(estimate: InputEstimate, attempts: number): InputEstimate {
  return { upperBound: estimate.upperBound * attempts, exact: () => estimate.exact() * attempts };
}
