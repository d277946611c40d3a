// Anthropic's rate-limit response headers for the calling key's tightest enforced limits:
// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`,
// resets as RFC 3339 times (as https://docs.anthropic.com/en/api/rate-limits#response-headers has them).
import type { AppliedLimit } from '../limits/applicable-limits.js';
import type { LimitState } from '../limits/counter-store.js';
import { rfc3339 } from '../limits/durations.js';
import { replenishedAtMs, tightestEnforced } from '../limits/rate-limit-headers.js';

type Kind = 'requests' | 'tokens' | 'input-tokens' | 'output-tokens';

// Which limits each header family describes: a total-token limit bounds input and output alike.
const COUNTS: Record<Kind, (l: AppliedLimit) => boolean> = {
  requests: (l) => l.unit === 'requests',
  tokens: (l) => l.unit === 'tokens',
  'input-tokens': (l) => l.unit === 'tokens' && (l.measure === 'input' || l.measure === 'total'),
  'output-tokens': (l) => l.unit === 'tokens' && (l.measure === 'output' || l.measure === 'total'),
};

/** The `anthropic-ratelimit-*` headers for the limits that apply to a call and their states at `nowMs`. */
export function anthropicRateLimitHeaders(limits: AppliedLimit[], states: LimitState[], nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const kind of Object.keys(COUNTS) as Kind[]) {
    const best = tightestEnforced(limits, states, COUNTS[kind]);
    if (best < 0) continue;
    const s = states[best];
    headers[`anthropic-ratelimit-${kind}-limit`] = String(Math.floor(s.max));
    headers[`anthropic-ratelimit-${kind}-remaining`] = String(Math.max(0, Math.floor(s.max - s.used)));
    headers[`anthropic-ratelimit-${kind}-reset`] = rfc3339(replenishedAtMs(limits[best], s, nowMs));
  }
  return headers;
}
