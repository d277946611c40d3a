// The record of a call the limits refused, and the extra headers an Anthropic client's 429 gets: what the
// pipeline does when admission fails, apart from the path of an admitted call.
import type { Principal } from '../auth/principal.js';
import type { TollgateError } from '../errors/tollgate-error.js';
import type { AppliedLimit } from '../limits/applicable-limits.js';
import type { Target } from '../routing/route-table.js';
import { anthropicRateLimitHeaders } from './anthropic-headers.js';
import { blockingLimit } from '../limits/blocking-limit.js';
import type { CallRecord, Gateway } from './gateway.js';

/** What the pipeline decided before the upstream answered: the part of a call's record that outcomes share. */
export type Decision = Pick<CallRecord, 'reserved' | 'limits' | 'shadowBlocked' | 'decision' | 'blockedBy'>;

/** The errors by which the limits engine refuses a call (as opposed to a request it could not read). */
export const LIMIT_REFUSALS: ReadonlySet<string> = new Set(['rate_limit_exceeded', 'request_over_limit', 'request_over_window', 'output_over_window', 'store_unavailable']);

/** The record's decision part for a call the limits refused: nothing reserved, every applicable limit listed. */
export function refusal(gw: Gateway, err: TollgateError, principal: Principal, target: Target): Decision {
  let applicable: AppliedLimit[] = [];
  try {
    applicable = gw.engine.applicable.for(principal, target);
  } catch {
    // Cannot happen once admit got this far (it resolved the same list); the row then lists no limits.
  }
  let limits = gw.engine.applicable.ids(applicable);
  const blockedBy = blockingLimit(err, applicable, principal);
  // The per-call cap is checked without being one of the counted limits; the row still names it.
  if (blockedBy !== undefined && !limits.includes(blockedBy)) limits = [...limits, blockedBy];
  return { reserved: { input: 0, output: 0 }, limits, shadowBlocked: [], decision: 'blocked', blockedBy };
}

/** Gives a 429 on the Anthropic endpoint Anthropic's own rate-limit headers (one extra read of the counters). */
export async function anthropicRateLimitError(gw: Gateway, err: TollgateError, principal: Principal, target: Target): Promise<void> {
  for (const name of Object.keys(err.headers)) if (name.startsWith('x-ratelimit-')) delete err.headers[name];
  try {
    const limits = gw.engine.applicable.for(principal, target);
    const states = await gw.engine.store.peek(limits.map((l) => l.item));
    Object.assign(err.headers, anthropicRateLimitHeaders(limits, states, gw.clock.now()));
  } catch {
    // The 429 stands without the extra headers; retry-after is already set.
  }
}
