// Reserve → settle for one request across every limit that applies (SPEC §2).
import type { Policy } from '../config/policy.js';
import type { Principal } from '../auth/principal.js';
import type { Target } from '../routing/route-table.js';
import type { InputEstimate } from '../tokens/index.js';
import type { Clock } from '../util/clock.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { PriceBook } from '../ledger/price-book.js';
import type { Usage } from '../providers/usage.js';
import { ApplicableLimits, type AppliedLimit } from './applicable-limits.js';
import { amountFor } from './admission.js';
import type { CounterItem, CounterStore, LimitState, PriceFactors, ReserveRequest, SettleUsage } from './counter-store.js';
import { billedFactors, noteCacheWrites, reserveFactors, withToolFees, type PriceHints, type SettleLog } from './price-factors.js';
import { rateLimitHeaders, type RateLimitHeaderFormat } from './rate-limit-headers.js';
import { namingField, refusalError, wordingParams, type OutputWording } from './refusal-error.js';

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
  /**
   * The smallest output the upstream can be held to (e.g. one token for each of `n` choices): a clamp
   * below it would be sent upstream as more than was reserved, so it is never granted.
   */
  leastOutput?: number;
  /** The output allowance that gives each of the call's choices `n` tokens (`n` when omitted: one choice). */
  outputForEach?: (n: number) => number;
  /** The client's field for its output cap and why its least is what it is, for the 400s' messages (max_tokens when omitted). */
  wording?: OutputWording;
  /** What the request asks for that changes its price; read only when a money limit applies. */
  priceHints?: () => PriceHints;
}

/** An admitted request: what was reserved, how much output it may produce, and the headers to send. */
export interface Admission {
  reservationId: string;
  input: number;
  output: number;
  /** Output was lowered below the allowance (the client's max_tokens, or the default when it sent none). */
  clamped: boolean;
  limits: AppliedLimit[];
  states: LimitState[];
  /** Shadow-mode limits that would have blocked this request. */
  shadowBlocked: AppliedLimit[];
  headers: Record<string, string>;
  /** When a money limit applies: the price factors reserved at (settleCall bills the real ones). */
  factors?: PriceFactors;
  /**
   * When the store counted the call, epoch ms: Redis's own time for a shared store that answered, this
   * instance's clock otherwise. The call's ledger row carries it, so a rebuild or an audit puts the call in
   * the window and slot the counter did, not the one its arrival a moment earlier fell in.
   */
  atMs: number;
}

export class LimitsEngine {
  readonly applicable: ApplicableLimits;
  /** Prices money limits: `pricing` (required for them), at the tier and cache rates a call is billed. */
  private readonly prices: PriceBook;

  constructor(
    private readonly policy: Policy,
    readonly store: CounterStore,
    private readonly clock: Clock,
  ) {
    this.applicable = new ApplicableLimits(policy);
    this.prices = new PriceBook(policy.pricing);
  }

  /**
   * The most input tokens one call with `output` tokens of answer could ever be admitted with: the room of
   * an empty window of every enforced limit that counts input, and the project's per-call cap. Infinity
   * when nothing limits input.
   */
  inputCeiling(principal: Principal, target: Target, output: number, priceHints?: () => PriceHints): number {
    const limits = this.applicable.for(principal, target);
    // Tool-call fees are a fixed sum, not a price per token: the room they take is set aside first.
    const fees = this.reserveFeesFor(limits, target, priceHints);
    const tokenHints = fees > 0 && priceHints ? withoutToolCalls(priceHints) : priceHints;
    let ceiling = this.inputCeilingAt(limits, output, this.reserveFactorsFor(limits, target, tokenHints, 0, 0, 0), fees);
    // Past a long-context line every token costs more: the input that fits there, but never below the line.
    const line = this.longContextLine(limits, target);
    if (line !== undefined && ceiling > line) ceiling = Math.max(line, this.inputCeilingAt(limits, output, this.reserveFactorsFor(limits, target, tokenHints, line + 1, 0, 0), fees));
    const cap = principal.project ? this.policy.projects.get(principal.project)?.requestLimit : undefined;
    if (cap !== undefined) ceiling = Math.min(ceiling, cap - output);
    return Math.floor(ceiling);
  }

  private inputCeilingAt(limits: AppliedLimit[], output: number, factors: PriceFactors | undefined, fees: number): number {
    let ceiling = Infinity;
    for (const { item } of limits) {
      if (item.mode !== 'enforce' || item.weights.input <= 0) continue;
      const perInput = amountFor(item, 1, 0, 0, factors);
      const fixed = amountFor(item, 0, output, 1, factors) + (item.priced ? fees : 0);
      ceiling = Math.min(ceiling, (item.max - fixed) / perInput);
    }
    return ceiling;
  }

  /** The tool-call fees a call may run up, in µUSD, when a money limit applies (0 otherwise). */
  private reserveFeesFor(limits: AppliedLimit[], target: Target, priceHints: (() => PriceHints) | undefined): number {
    if (!priceHints || !this.applicable.hasMoney(limits)) return 0;
    const calls = priceHints().toolCalls;
    return calls ? this.prices.toolFees(target.model.provider, target.model.upstreamModel, calls) : 0;
  }

  /** The input size past which the target's price changes, when a money limit is priced by it. */
  private longContextLine(limits: AppliedLimit[], target: Target): number | undefined {
    if (!this.applicable.hasMoney(limits)) return undefined;
    return this.prices.priceOf(target.model.provider, target.model.upstreamModel)?.longContext?.aboveInputTokens;
  }

  /** Reserves input + output against every applicable limit, or throws the 400/429 that explains why not. */
  async admit(req: AdmitRequest): Promise<Admission> {
    const limits = this.applicable.for(req.principal, req.target);
    // Small inputs are counted exactly at once (a few µs), so headers and clamps are exact; large ones
    // start from the cheap bound and are counted only if a limit turns out to be tight.
    let input = req.input.upperBound <= EXACT_COUNT_BELOW ? req.input.exact() : req.input.upperBound;
    let output = req.output;
    const clamp = this.policy.enforcement.clampMaxTokens || !req.outputFromClient;
    // min_output_tokens is per choice: a clamp is sent upstream as each choice's cap.
    const floor = req.outputForEach?.(this.policy.enforcement.minOutputTokens) ?? this.policy.enforcement.minOutputTokens;
    const minOutput = Math.min(Math.max(floor, req.leastOutput ?? 1), req.output);
    // The request's shape (its choices, extended thinking), not the configured floor, sets the least.
    const leastFromRequest = (req.leastOutput ?? 1) >= floor;

    const cap = req.principal.project ? this.policy.projects.get(req.principal.project)?.requestLimit : undefined;
    if (cap !== undefined && input + output > cap) {
      input = req.input.exact();
      if (input + output > cap) {
        const room = cap - input;
        if (!clamp || room < minOutput) {
          // Clamping on, the least output is what the request needs: a lower cap cannot help.
          const least = clamp ? minOutput : output;
          const lowered = least < output;
          const error = new TollgateError('request_over_limit', {
            needed: input + least,
            input,
            output: least,
            lowered: lowered ? 'yes' : undefined,
            max: cap,
            label: `project '${req.principal.project}' request limit`,
            ...wordingParams(req.wording, lowered && leastFromRequest),
          });
          throw namingField(error, req.wording);
        }
        output = room;
      }
    }

    const items = this.applicable.items(limits);
    // The price can depend on the input's size (a long-context band), so the factors follow each attempt's.
    let factors = this.reserveFactorsFor(limits, req.target, req.priceHints, input, output, clamp ? minOutput : output);
    let outcome = await this.guard(this.store.reserve(reserveRequest(req.id, items, input, output, clamp, minOutput, factors)));
    // The cheap bound over-counts input; when that is what made the answer tight, count exactly and try again.
    const tight = !outcome.ok || outcome.output < output;
    if (tight && input !== req.input.exact()) {
      if (outcome.ok) await this.guard(this.store.settle(req.id, REFUND_ALL));
      input = req.input.exact();
      factors = this.reserveFactorsFor(limits, req.target, req.priceHints, input, output, clamp ? minOutput : output);
      outcome = await this.guard(this.store.reserve(reserveRequest(req.id, items, input, output, clamp, minOutput, factors)));
    }

    const now = this.clock.now();
    const shadowBlocked = outcome.shadowBlocked.map((i) => limits[i]);
    if (!outcome.ok) throw refusalError(limits, outcome.states, outcome.blocked, input, output, clamp ? minOutput : output, now, factors, undefined, req.wording, leastFromRequest);
    const admission: Admission = {
      reservationId: req.id,
      input,
      output: outcome.output,
      clamped: outcome.output < req.output,
      limits,
      states: outcome.states,
      shadowBlocked,
      headers: rateLimitHeaders(limits, outcome.states, now),
      atMs: outcome.storeTimeMs ?? now,
    };
    if (factors) admission.factors = factors;
    return admission;
  }

  /** The price factors to reserve at when a money limit applies (undefined when none does). */
  private reserveFactorsFor(
    limits: AppliedLimit[],
    target: Target,
    priceHints: (() => PriceHints) | undefined,
    inputTokens: number,
    outputTokens: number,
    /** The least output the store would admit the call with (`outputTokens` when it may not clamp). */
    leastOutput: number,
  ): PriceFactors | undefined {
    if (!this.applicable.hasMoney(limits)) return undefined;
    const { provider, upstreamModel } = target.model;
    const hints = priceHints?.() ?? NO_HINTS;
    // A fallback model's tokens are counted in USD too: like the requested model, it needs a configured price.
    for (const attempt of hints.fallbacks ?? []) {
      const key = `${provider}/${attempt.model}`;
      if (!this.policy.pricing.has(key)) throw new TollgateError('model_unpriced', { model: key, limit: limits.find((l) => l.item.priced)?.id });
    }
    if (!hints.toolCalls) return reserveFactors(this.prices, provider, upstreamModel, hints, inputTokens);
    // A copy without the tool calls only when there are some: the price of the tokens alone.
    const { toolCalls, ...tokenHints } = hints;
    const tokens = reserveFactors(this.prices, provider, upstreamModel, tokenHints, inputTokens);
    // The fees of the tool calls the request may make (the store then clamps the output to fit beside
    // them), but at most what an empty window leaves beside the call's input and least output: a bound
    // past that would refuse the call for good (a 400) for calls it may never make, where one call's
    // overshoot is the risk (as with unseen input, pipeline.ts).
    let room = Infinity;
    for (const { item } of limits) {
      if (item.mode === 'enforce' && item.priced && item.weights.input > 0) room = Math.min(room, item.max - amountFor(item, inputTokens, leastOutput, 1, tokens));
    }
    return withToolFees(this.prices, provider, upstreamModel, tokens, toolCalls, Math.max(0, room), inputTokens, outputTokens);
  }

  /**
   * Counts one request that consumes no tokens (a Responses API retrieval, an Anthropic count_tokens)
   * against the caller's request-rate limits, or throws their 429. Returns the rate-limit headers to send,
   * on the 429 too, in the format `headersOf` writes (OpenAI's by default). No route's limits apply: they
   * count tokens, which such a request does not use.
   */
  async admitRequestOnly(id: string, principal: Principal, headersOf: RateLimitHeaderFormat = rateLimitHeaders): Promise<Record<string, string>> {
    const limits = this.applicable.requestLimitsFor(principal);
    if (limits.length === 0) return {};
    const items = this.applicable.items(limits);
    const outcome = await this.guard(this.store.reserve({ id, items, input: 0, output: 0, clamp: false, minOutput: 0 }));
    const now = this.clock.now();
    if (!outcome.ok) throw refusalError(limits, outcome.states, outcome.blocked, 0, 0, 0, now, undefined, headersOf);
    // Nothing to correct: settling at once only closes the reservation (a shared store is not waited for).
    await this.guard(this.store.settle(id, { input: 0, output: 0, request: 1 }));
    return headersOf(limits, outcome.states, now);
  }

  /** Replaces a reservation with real usage; `request: 0` refunds it entirely. */
  async settle(id: string, usage: SettleUsage): Promise<void> {
    await this.store.settle(id, usage);
  }

  /**
   * Settles an admitted call with what it used; money limits count what the provider billed for it. Not
   * async itself: the store's promise is handed on (an async layer costs ~0.4 KB of garbage per call).
   * `request: 0` for a call the provider failed: charged its tokens, but its request is given back, as the
   * ledger's `failed` rows are rebuilt (limit-usage.ts counts requests of served rows only).
   */
  settleCall(admission: Admission, target: Target, usage: Usage, log?: SettleLog, request: 0 | 1 = 1): Promise<void> {
    if (!admission.factors) return this.store.settle(admission.reservationId, { input: usage.input, output: usage.output, request, rowFollows: true });
    const { provider, upstreamModel } = target.model;
    noteCacheWrites(this.prices, provider, upstreamModel, usage, log);
    const factors = billedFactors(this.prices, provider, upstreamModel, usage);
    return this.store.settle(admission.reservationId, { input: usage.input, output: usage.output, request, factors, rowFollows: true });
  }

  /**
   * Store failures become a clear 503 instead of a crash. Fail-open is decided below this, in
   * ResilientStore: what reaches here is a limit that must fail closed. Takes the store's promise rather
   * than a function and an async layer of its own: on every call, those were ~0.5 KB of garbage. The
   * stores' methods are async, so their failures arrive as rejections.
   */
  private guard<T>(call: Promise<T>): Promise<T> {
    return call.catch(asStoreFailure);
  }
}

const NO_HINTS: PriceHints = Object.freeze({});

/** What a refunded reservation settles with: nothing used, not even the request. */
const REFUND_ALL: SettleUsage = Object.freeze({ input: 0, output: 0, request: 0 });

/** One reservation's request to the store; `factors` only when a money limit applies. */
function reserveRequest(id: string, items: CounterItem[], input: number, output: number, clamp: boolean, minOutput: number, factors: PriceFactors | undefined): ReserveRequest {
  return factors ? { id, items, input, output, clamp, minOutput, factors } : { id, items, input, output, clamp, minOutput };
}

/** A store's failure as the client sees it: its own catalogue error, or a 503 the SDKs retry. */
function asStoreFailure(err: unknown): never {
  if (err instanceof TollgateError) throw err;
  // The store is probed every 200 ms, so a second later is a fair first retry for the SDKs.
  throw new TollgateError('store_unavailable', {}, { 'retry-after': '1' });
}

/** The hints without their tool calls: the price of tokens alone. */
function withoutToolCalls(hints: () => PriceHints): () => PriceHints {
  return () => {
    const { toolCalls: _fees, ...rest } = hints();
    return rest;
  };
}
