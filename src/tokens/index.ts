// Token estimation for requests and responses: a cheap upper bound for the hot path, the exact
// (OpenAI) or conservative (other families) count on demand. How and why: docs/tokens.md.
import { preloadEncodings } from './encoders.js';
import { profileFor } from './model-profile.js';

export { countTextTokens, estimateInput, type Endpoint, type InputEstimate } from './estimate-input.js';
export { baseModelName, profileFor, type Profile } from './model-profile.js';

/** Loads the encoders `models` need (all by default) so the first request does not pay for it. */
export function preloadTokenizers(models?: readonly string[]): void {
  preloadEncodings(models ? [...new Set(models.map((m) => profileFor(m).encoding))] : undefined);
}
