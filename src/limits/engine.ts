// Reserve → settle for one request across every limit that applies (SPEC §2).
import type { Policy } from '../config/policy.js';
import type { Principal } from '../auth/principal.js';
import type { Target } from '../routing/route-table.js';
import type { InputEstimate } from '../tokens/index.js';
import type { Clock } from '../util/clock.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { ApplicableLimits, type AppliedLimit } from './applicable-limits.js';
import { amountFor } from './admission.js';
import type { CounterStore, LimitState, ReserveOutcome, SettleUsage } from './counter-store.js';
import { formatHumanDuration } from './durations.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

/** Inputs whose cheap upper bound is at most this many tokens are counted exactly up front. */
export const EXACT_COUNT_BELOW = 512;

export interface AdmitRequest {
  id: string;
  principal: Principal;
  target: Target;
  input: InputEstimate;
  /** The output allowance: the client's max_tokens, or the configured default. */
  output: number;
  /** Whether the client chose `output` (clamping a default is always fine; clamping a choice is configurable). */
  outputFromClient: boolean;
}

/** An admitted request: what was reserved, how much output it may produce, and the headers to send. */
export interface Admission {
  reservationId: string;
  input: number;
  output: number;
  /** Output was lowered below what the client asked for. */
  clamped: boolean;
  limits: AppliedLimit[];
  states: LimitState[];
  /** Shadow-mode limits that would have blocked this request. */
  shadowBlocked: AppliedLimit[];
  headers: Record<string, string>;
}

export class LimitsEngine {
  readonly applicable: ApplicableLimits;

  constructor(
    private readonly policy: Policy,
    readonly store: CounterStore,
    private readonly clock: Clock,
  ) {
    this.applicable = new ApplicableLimits(policy);
  }

  /** Reserves input + output against every applicable limit, or throws the 400/429 that explains why not. */
  async admit(req: AdmitRequest): Promise<Admission> {
    const limits = this.applicable.for(req.principal, req.target);
    // Small inputs are counted exactly at once (a few µs), so headers and clamps are exact; large ones
    // start from the cheap bound and are counted only if a limit turns out to be tight.
    let input = req.input.upperBound <= EXACT_COUNT_BELOW ? req.input.exact() : req.input.upperBound;
    let output = req.output;
    const clamp = this.policy.enforcement.clampMaxTokens || !req.outputFromClient;
    const minOutput = Math.min(this.policy.enforcement.minOutputTokens, req.output);

    const cap = req.principal.project ? this.policy.projects.get(req.principal.project)?.requestLimit : undefined;
    if (cap !== undefined && input + output > cap) {
      input = req.input.exact();
      if (input + output > cap) {
        const room = cap - input;
        if (!clamp || room < minOutput) {
          throw new TollgateError('request_over_limit', {
            needed: input + output,
            input,
            output,
            max: cap,
            label: `project '${req.principal.project}' request limit`,
          });
        }
        output = room;
      }
    }

    const items = this.applicable.items(limits);
    const reserve = (inputTokens: number): Promise<ReserveOutcome> =>
      this.guard(() => this.store.reserve({ id: req.id, items, input: inputTokens, output, clamp, minOutput }));

    let outcome = await reserve(input);
    // The cheap bound over-counts input; when that is what made the answer tight, count exactly and try again.
    const tight = !outcome.ok || outcome.output < output;
    if (tight && input !== req.input.exact()) {
      if (outcome.ok) await this.guard(() => this.store.settle(req.id, { input: 0, output: 0, request: 0 }));
      input = req.input.exact();
      outcome = await reserve(input);
    }

    const now = this.clock.now();
    const shadowBlocked = outcome.shadowBlocked.map((i) => limits[i]);
    if (!outcome.ok) throw this.blockedError(limits, outcome.states, outcome.blocked, input, output, now);
    return {
      reservationId: req.id,
      input,
      output: outcome.output,
      clamped: outcome.output < req.output && req.outputFromClient,
      limits,
      states: outcome.states,
      shadowBlocked,
      headers: rateLimitHeaders(limits, outcome.states, now),
    };
  }

  /** Replaces a reservation with real usage; `request: 0` refunds it entirely. */
  async settle(id: string, usage: SettleUsage): Promise<void> {
    await this.store.settle(id, usage);
  }

  /**
   * Store failures become a clear 503 instead of a crash. Fail-open is decided below this, in
   * ResilientStore: what reaches here is a limit that must fail closed.
   */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TollgateError) throw err;
      // The store is probed every 200 ms, so a second later is a fair first retry for the SDKs.
      throw new TollgateError('store_unavailable', {}, { 'retry-after': '1' });
    }
  }

  private blockedError(
    limits: AppliedLimit[],
    states: LimitState[],
    blocked: number[],
    input: number,
    output: number,
    now: number,
  ): TollgateError {
    // A request whose input alone exceeds a whole window can never pass: say so with a 400, not a 429.
    for (const i of blocked) {
      const fixed = amountFor(limits[i].item, input, 0, 1);
      if (fixed > limits[i].item.max) {
        return new TollgateError('request_over_window', {
          needed: round(fixed, limits[i].unit),
          max: round(limits[i].item.max, limits[i].unit),
          unit: unitName(limits[i].unit),
          label: limits[i].label,
        });
      }
    }
    // The request can pass only once every blocking limit has room, so report the one that resets last.
    const worst = blocked.reduce((a, b) => (states[b].resetAtMs > states[a].resetAtMs ? b : a));
    const limit = limits[worst];
    const state = states[worst];
    const waitMs = Math.max(0, state.resetAtMs - now);
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    const headers: Record<string, string> = {
      ...rateLimitHeaders(limits, states, now),
      'retry-after': String(retryAfter),
      'x-tollgate-limit': limit.id,
    };
    if (waitMs > 60_000) headers['x-should-retry'] = 'false';
    const type = limit.unit === 'requests' ? 'requests' : 'tokens';
    return new TollgateError(
      'rate_limit_exceeded',
      {
        label: limit.label,
        used: round(state.used, limit.unit),
        max: round(state.max, limit.unit),
        remaining: round(Math.max(0, state.max - state.used), limit.unit),
        unit: unitName(limit.unit),
        needed: round(amountFor(limit.item, input, output, 1), limit.unit),
        resetIn: formatHumanDuration(waitMs),
        resetAt: new Date(state.resetAtMs).toISOString(),
        hint: limit.item.weights.output > 0 && limit.unit !== 'requests' ? ' Lowering max_tokens may let it through sooner.' : '',
      },
      headers,
      type,
    );
  }
}

function unitName(unit: AppliedLimit['unit']): string {
  return unit === 'usd' ? 'USD' : unit;
}

/** Counts as whole tokens or requests; money (kept in µUSD) as dollars. */
function round(value: number, unit: AppliedLimit['unit']): string {
  return unit === 'usd' ? `$${(value / 1e6).toFixed(4)}` : String(Math.ceil(value));
}
