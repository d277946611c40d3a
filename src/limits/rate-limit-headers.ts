// The provider-style rate-limit headers: the most constraining token and request limit that applies.
import type { AppliedLimit } from './applicable-limits.js';
import type { LimitState } from './counter-store.js';
import { formatResetHeader } from './durations.js';

/** Writes the rate-limit headers of a response from the limits that apply and their states (each API has its own). */
export type RateLimitHeaderFormat = (limits: AppliedLimit[], states: LimitState[], nowMs: number) => Record<string, string>;

/** `x-ratelimit-{limit,remaining,reset}-{tokens,requests}` for the tightest enforced limit of each kind. */
export function rateLimitHeaders(limits: AppliedLimit[], states: LimitState[], nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const tightest = (unit: AppliedLimit['unit']): number => {
    let best = -1;
    let bestRemaining = Infinity;
    for (let i = 0; i < limits.length; i++) {
      if (limits[i].unit !== unit || limits[i].item.mode !== 'enforce') continue;
      const remaining = states[i].max - states[i].used;
      if (remaining < bestRemaining) {
        best = i;
        bestRemaining = remaining;
      }
    }
    return best;
  };
  for (const [unit, suffix] of [
    ['tokens', 'tokens'],
    ['requests', 'requests'],
  ] as const) {
    const i = tightest(unit);
    if (i < 0) continue;
    const s = states[i];
    headers[`x-ratelimit-limit-${suffix}`] = String(Math.floor(s.max));
    headers[`x-ratelimit-remaining-${suffix}`] = String(Math.max(0, Math.floor(s.max - s.used)));
    headers[`x-ratelimit-reset-${suffix}`] = formatResetHeader(s.resetAtMs - nowMs);
  }
  return headers;
}
