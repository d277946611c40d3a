// The provider-style rate-limit headers: the most constraining token and request limit that applies.
import type { AppliedLimit } from './applicable-limits.js';
import type { LimitState } from './counter-store.js';
import { formatResetHeader } from './durations.js';
import { SLIDING_SLOTS, slotEpoch, slotLengthMs } from './windows.js';

/** Writes the rate-limit headers of a response from the limits that apply and their states (each API has its own). */
export type RateLimitHeaderFormat = (limits: AppliedLimit[], states: LimitState[], nowMs: number) => Record<string, string>;

/** The three header names of one unit, spelled once: built per call, they were garbage on every request. */
interface HeaderNames {
  limit: string;
  remaining: string;
  reset: string;
}
const TOKEN_HEADERS: HeaderNames = { limit: 'x-ratelimit-limit-tokens', remaining: 'x-ratelimit-remaining-tokens', reset: 'x-ratelimit-reset-tokens' };
const REQUEST_HEADERS: HeaderNames = { limit: 'x-ratelimit-limit-requests', remaining: 'x-ratelimit-remaining-requests', reset: 'x-ratelimit-reset-requests' };

// Module-level, so a call allocates no closure for them.
const countsTokens = (l: AppliedLimit): boolean => l.unit === 'tokens';
const countsRequests = (l: AppliedLimit): boolean => l.unit === 'requests';

/** `x-ratelimit-{limit,remaining,reset}-{tokens,requests}` for the tightest enforced limit of each kind. */
export function rateLimitHeaders(limits: AppliedLimit[], states: LimitState[], nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  addTightest(headers, TOKEN_HEADERS, countsTokens, limits, states, nowMs);
  addTightest(headers, REQUEST_HEADERS, countsRequests, limits, states, nowMs);
  return headers;
}

/** The headers of the enforced limit `counts` picks with the least room left, when there is one. */
function addTightest(headers: Record<string, string>, names: HeaderNames, counts: (l: AppliedLimit) => boolean, limits: AppliedLimit[], states: LimitState[], nowMs: number): void {
  const best = tightestEnforced(limits, states, counts);
  if (best < 0) return;
  const s = states[best];
  headers[names.limit] = String(Math.floor(s.max));
  headers[names.remaining] = String(Math.max(0, Math.floor(s.max - s.used)));
  headers[names.reset] = formatResetHeader(replenishedAtMs(limits[best], s, nowMs) - nowMs);
}

/**
 * When a limit is back to its initial state, as the reset headers mean it (OpenAI: "resets to its initial
 * state"; Anthropic: "fully replenished"): a fixed window's end, a bucket's full drain, and for a sliding
 * window when its newest counted slot leaves, not its oldest (the state's resetAtMs, when the first room
 * comes back: a client that waited for it and sent its whole allowance met 429s). The newest slot is taken
 * as the current one, as the call being answered was counted in it (a refused one: a bound a little late).
 */
export function replenishedAtMs(limit: AppliedLimit, state: LimitState, nowMs: number): number {
  const { item } = limit;
  if (item.algorithm !== 'sliding_window') return state.resetAtMs;
  if (state.used <= 0) return nowMs;
  return Math.max(state.resetAtMs, (slotEpoch(item.window, nowMs) + SLIDING_SLOTS + 1) * slotLengthMs(item.window));
}

/** The index of the enforced limit that `counts` picks with the least room left, or -1 when there is none. */
export function tightestEnforced(limits: AppliedLimit[], states: LimitState[], counts: (l: AppliedLimit) => boolean): number {
  let best = -1;
  let bestRemaining = Infinity;
  for (let i = 0; i < limits.length; i++) {
    if (limits[i].item.mode !== 'enforce' || !counts(limits[i])) continue;
    const remaining = states[i].max - states[i].used;
    if (remaining < bestRemaining) {
      best = i;
      bestRemaining = remaining;
    }
  }
  return best;
}
