// The error a request the limits refused gets (Engine.admit): a 400 for one that can never fit, else the
// 429 that names the limit freeing last, when the request fits under it, and the rate-limit headers.
import { TollgateError } from '../errors/tollgate-error.js';
import type { AppliedLimit } from './applicable-limits.js';
import { amountFor } from './admission.js';
import type { CounterItem, LimitState, PriceFactors } from './counter-store.js';
import { formatHumanDuration } from './durations.js';
import { rateLimitHeaders, type RateLimitHeaderFormat } from './rate-limit-headers.js';
import { windowLengthMs } from './windows.js';

/** How a request names its output cap, and what sets the least a clamp can give it: for the messages of the 400s. */
export interface OutputWording {
  /** The request's own field for the cap: `max_tokens`, `max_completion_tokens`, `max_output_tokens`. */
  field: string;
  /** What keeps a clamp from going below the request's least output, and what would lower that least. */
  least?: { why: string; fix?: string };
}

/** The params and `param` of a 400 that names the output cap: the client's own field and the least's reason. */
export function wordingParams(wording: OutputWording | undefined, leastFromRequest: boolean): { field?: string; why?: string; fix?: string } {
  if (!wording) return {};
  const least = leastFromRequest ? wording.least : undefined;
  return { field: wording.field, why: least?.why, fix: least?.fix };
}

/** `err` naming the client's own output field as its `param`. */
export function namingField<E extends TollgateError>(err: E, wording: OutputWording | undefined): E {
  return wording && wording.field !== 'max_tokens' ? Object.assign(err, { param: wording.field }) : err;
}

export function refusalError(
  limits: AppliedLimit[],
  states: LimitState[],
  blocked: number[],
  input: number,
  output: number,
  /** The least output the store would admit: `output`, or the minimum worth forwarding when clamping. */
  leastOutput: number,
  now: number,
  factors: PriceFactors | undefined,
  headersOf: RateLimitHeaderFormat = rateLimitHeaders,
  /** The client's field for its output cap, and why its least is what it is (when the request's shape sets it). */
  wording?: OutputWording,
  leastFromRequest = false,
): TollgateError {
  // A request that exceeds a whole window even on an empty counter can never pass: a 400, not a 429.
  for (const i of blocked) {
    const { item, unit, label } = limits[i];
    const fixed = amountFor(item, input, 0, 1, factors);
    if (fixed > item.max) {
      return new TollgateError('request_over_window', {
        needed: round(fixed, unit, 'up'),
        max: round(item.max, unit, 'up'),
        unit: unitName(unit),
        label,
        zero: item.max === 0 ? 'yes' : undefined,
      });
    }
    const least = amountFor(item, input, leastOutput, 1, factors);
    if (least > item.max + 1e-9) {
      const lowered = leastOutput < output;
      const error = new TollgateError('output_over_window', {
        input,
        output: leastOutput,
        lowered: lowered ? 'yes' : undefined,
        needed: round(least, unit, 'up'),
        max: round(item.max, unit, 'up'),
        unit: unitName(unit),
        label,
        outputOnly: item.weights.input === 0 ? 'yes' : undefined,
        ...wordingParams(wording, lowered && leastFromRequest),
      });
      return namingField(error, wording);
    }
  }
  // The request can pass only once every blocking limit has room for it, so report the one that frees last.
  // Room for the whole request (its max_tokens unclamped), as the message's "needs" says; when clamping
  // lets it through with less, at most once the limit is entirely free.
  const fitsAt = blocked.map((i) => {
    const need = Math.min(amountFor(limits[i].item, input, output, 1, factors), states[i].max);
    return fitsAtMs(limits[i].item, states[i], need, now);
  });
  let worstK = 0;
  for (let k = 1; k < blocked.length; k++) if (fitsAt[k] > fitsAt[worstK]) worstK = k;
  const limit = limits[blocked[worstK]];
  const state = states[blocked[worstK]];
  const waitMs = Math.max(0, fitsAt[worstK] - now);
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  const headers: Record<string, string> = {
    ...headersOf(limits, states, now),
    'retry-after': String(retryAfter),
    // The SDKs (OpenAI's, Anthropic's) read this first: whole seconds would idle up to a second of room.
    'retry-after-ms': String(Math.max(1, Math.ceil(waitMs))),
    'x-tollgate-limit': limit.id,
  };
  // SDKs should not retry when a limit cannot make room within a minute. A window of a minute or less
  // always can: its sliding slots may round the wait a few seconds past 60, which a retry still meets.
  const longWait = blocked.some((i, k) => fitsAt[k] - now > 60_000 && windowLengthMs(limits[i].item.window) > 60_000);
  if (longWait) headers['x-should-retry'] = 'false';
  const type = limit.unit === 'requests' ? 'requests' : 'tokens';
  return new TollgateError(
    'rate_limit_exceeded',
    {
      label: limit.label,
      used: round(state.used, limit.unit, 'up'),
      max: round(state.max, limit.unit, 'up'),
      remaining: round(Math.max(0, state.max - state.used), limit.unit, 'down'),
      unit: unitName(limit.unit),
      needed: round(amountFor(limit.item, input, output, 1, factors), limit.unit, 'up'),
      resetIn: formatHumanDuration(waitMs),
      resetAt: new Date(Math.max(now, fitsAt[worstK])).toISOString(),
      // Only when the room left would take the input and some output: with none left, a smaller max_tokens waits as long.
      hint: limit.item.weights.output > 0 && limit.unit !== 'requests' && state.max - state.used > amountFor(limit.item, input, 0, 1, factors) ? ' Lowering max_tokens may let it through sooner.' : '',
    },
    headers,
    type,
  );
}

/**
 * When a request needing `need` fits under a limit that refused it, epoch ms. A bucket: once enough has
 * drained (not when it is empty). A sliding window: once enough of its slots have left, when the store
 * lists them, else when the oldest leaves (a lower bound). A fixed window: at its end.
 */
export function fitsAtMs(item: CounterItem, state: LimitState, need: number, now: number): number {
  if (item.algorithm === 'token_bucket') {
    const excess = state.used + need - state.max;
    return excess <= 0 ? now : now + Math.ceil((excess * windowLengthMs(item.window)) / (state.drainPerWindow ?? state.max));
  }
  if (item.algorithm === 'sliding_window' && state.leaving && state.leaving.length > 0) {
    let used = state.used;
    for (const slot of state.leaving) {
      used -= slot.amount;
      if (used + need <= state.max + 1e-9) return slot.atMs;
    }
    return state.leaving[state.leaving.length - 1].atMs;
  }
  return state.resetAtMs;
}

function unitName(unit: AppliedLimit['unit']): string {
  return unit === 'usd' ? 'USD' : unit;
}

/**
 * Counts as whole tokens or requests; money (kept in µUSD) as dollars to 4 places. Usage (and limits, as
 * before) round up and what is left rounds down, as x-ratelimit-remaining-* does, so used + left ≤ max.
 */
function round(value: number, unit: AppliedLimit['unit'], direction: 'up' | 'down'): string {
  const step = unit === 'usd' ? 100 : 1;
  const steps = direction === 'up' ? Math.ceil(value / step) : Math.floor(value / step);
  return unit === 'usd' ? `$${((steps * step) / 1e6).toFixed(4)}` : String(steps);
}
