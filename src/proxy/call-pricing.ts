// What a call is billed at and for, as far as the request shows before the answer: the prices it may be
// billed at (a money limit reserves at them), whether its answer may hide billed output, and how a call is
// priced when the provider reports no usage. Per wire format; the pipeline asks, pipeline.ts.
import { cacheWriteHint, type PriceHints } from '../limits/price-factors.js';
import type { Provider, UpstreamEndpoint } from '../providers/provider.js';
import { thinksUnseen } from '../providers/anthropic/index.js';
import { answersInAudio, asksForReasoning, audioSides, billsCacheWrites, fullGrantUsage, mayWritePromptCache, MIN_CACHED_PROMPT, unpinnedTier, withCountedAudio, withHiddenReasoning } from '../providers/openai/index.js';
import type { JsonObject, Usage } from '../providers/usage.js';
import { fallbackPriceHints, type FallbackAttempt } from './anthropic-fallbacks.js';
import type { Exchange } from './exchange.js';
import type { Gateway } from './gateway.js';

/** The parts of a call its pricing depends on. */
export interface PricedCall {
  gw: Gateway;
  provider: Provider;
  exchange: Exchange;
  /** The client's parsed body, and its text (`rawBody`) when the server kept it. */
  body: JsonObject;
  rawBody: string | undefined;
  /** The model the call goes upstream as (the client may have named a route alias). */
  upstreamModel: string;
  fallbacks: readonly FallbackAttempt[] | undefined;
}

/**
 * Whether the call may be billed for output no text shows in full: an OpenAI reasoning model's thinking
 * (known by name, or asked for by the request), a spoken answer's audio, Claude's (summarized) thinking.
 * Without the provider's usage the gateway cannot count it (openai/unseen-billing.ts,
 * anthropic/thinking-budget.ts) and charges the whole grant.
 */
export function hidesOutput(exchange: Exchange, body: JsonObject, reasoning: boolean): boolean {
  const upstream = exchange.upstream;
  if (upstream === 'messages') return thinksUnseen(exchange.estimateOn.body);
  return (reasoning && (upstream === 'chat' || upstream === 'responses')) || asksForReasoning(upstream, body) || answersInAudio(upstream, body);
}

/**
 * What the request asks for that changes its price: Anthropic's prompt-cache writes, fast mode, US-only
 * inference and fallback models; OpenAI's service tier (the project's default for a call naming none),
 * audio and prompt-cache writes (GPT-5.6 and later bill them; any text-generating call may make them);
 * both providers' tool calls billed per call, up to the request's cap on them.
 */
export function priceHintsOf(c: PricedCall): PriceHints {
  const { exchange, body } = c;
  const toolCalls = exchange.toolCallBound;
  if (exchange.upstream === 'messages') {
    return { cacheWrite: cacheWriteHint(c.rawBody, exchange.estimateOn.body), speed: body.speed, inferenceGeo: body.inference_geo, toolCalls, fallbacks: c.fallbacks && fallbackPriceHints(c.fallbacks, body) };
  }
  return { serviceTier: askedTier(c, body.service_tier), toolCalls, audio: audioSides(exchange.upstream, body), promptCacheWrite: tiered(exchange.upstream) && mayWritePromptCache(body) };
}

/**
 * Usage the gateway counted itself (the provider reported none), priced as the provider bills it: output
 * no text shows (`hides`) is the whole `grant`; an audio call's audio is marked as audio (its messages are
 * walked only on this path), `hiddenInput` being what was reserved for earlier audio named by id; a call
 * asking for priority (by name or by its project's default tier) is at priority, as it was reserved; a
 * GPT-5.6 (or later) prompt OpenAI may have written to its cache is counted as written (billed at 1.25x).
 */
export function selfCountedUsage(c: PricedCall, usage: Usage, grant: number, hides: boolean, hiddenInput: number): Usage {
  const { exchange, body } = c;
  const counted = withUncountedWrites(c, withCountedAudio(hides ? withHiddenReasoning(usage, grant) : usage, audioSides(exchange.upstream, body), body, hiddenInput));
  if (exchange.upstream === 'messages') return atAskedSpeedAndGeo(counted, body);
  return counted.serviceTier === undefined && askedTier(c, body.service_tier) === 'priority' ? { ...counted, serviceTier: 'priority' } : counted;
}

/**
 * The most a call the provider had and did not answer in full may be billed, for its end is not known:
 * its `input` and whole output `grant` (with server-side fallbacks, every attempt its `attemptInput` and
 * its share of the grant at its own model's price), and every per-call-billed tool call it may make (the
 * fees its reservation held; without them a timed-out web search was charged its tokens alone).
 */
export function unfinishedUsage(c: PricedCall, input: number, attemptInput: number, grant: number): Usage {
  const { exchange } = c;
  return withToolCallBound(c, exchange.unfinishedUsage?.(attemptInput, grant) ?? { input, output: grant, cachedInput: 0, source: 'estimated' });
}

/**
 * What a background response is charged until its end is known, and when it never is: its whole grant
 * (`reserved`, or what `seen` shows past it) and every per-call-billed tool call it may make.
 */
export function wholeGrant(c: PricedCall, reserved: { input: number; output: number }, seen?: Usage): Usage {
  return withToolCallBound(c, fullGrantUsage(reserved, seen));
}

/** `usage` with the most per-call-billed tool calls the request may make (the fees its reservation held). */
function withToolCallBound(c: PricedCall, usage: Usage): Usage {
  const bound = c.exchange.toolCallBound;
  return bound ? { ...usage, toolCalls: bound } : usage;
}

/**
 * A Claude call's usage the gateway counted, priced as the request asked it to run, as it was reserved:
 * fast mode (`speed: "fast"`) and US-only inference (`inference_geo`). Which it ran at is in the usage the
 * provider did not report; at the standard global price a timed-out fast call was charged a sixth of its bill.
 */
function atAskedSpeedAndGeo(usage: Usage, body: JsonObject): Usage {
  const fast = body.speed === 'fast' && usage.serviceTier === undefined;
  const geo = typeof body.inference_geo === 'string' && usage.inferenceGeo === undefined ? body.inference_geo : undefined;
  if (!fast && geo === undefined) return usage;
  return { ...usage, ...(fast ? { serviceTier: 'fast' as const } : {}), ...(geo !== undefined ? { inferenceGeo: geo } : {}) };
}

/**
 * `usage` with all of its uncached input written to the prompt cache when OpenAI may have written it: a
 * model that bills writes (GPT-5.6 or later, or one whose configured `cache_write` is above its input), a
 * prompt it caches (1,024 tokens or more), caching not turned off. The most it can have billed (the
 * reservation took it): how much of the prompt a first call wrote is not known.
 */
function withUncountedWrites(c: PricedCall, usage: Usage): Usage {
  const uncached = usage.input - usage.cachedInput - (usage.audioInput ?? 0);
  if (usage.cacheWriteInput !== undefined || uncached < MIN_CACHED_PROMPT || !tiered(c.exchange.upstream)) return usage;
  return billsWrites(c) && mayWritePromptCache(c.body) ? { ...usage, cacheWriteInput: uncached } : usage;
}

function billsWrites(c: PricedCall): boolean {
  if (billsCacheWrites(c.upstreamModel)) return true;
  const configured = c.gw.policy.pricing.get(`${c.provider.name}/${c.upstreamModel}`);
  return configured?.cacheWrite !== undefined && configured.cacheWrite > configured.input;
}

/**
 * The tier a call asks to be served at: its own, or its OpenAI project's default when it names none (or
 * `auto`), on the endpoints OpenAI serves at a tier (not embeddings: reserved at priority, they were
 * refused near a money limit that had room for them).
 */
function askedTier(c: PricedCall, tier: unknown): unknown {
  if (!unpinnedTier(tier) || !tiered(c.exchange.upstream)) return tier;
  return c.gw.policy.providers.get(c.provider.name)?.defaultServiceTier ?? tier;
}

function tiered(endpoint: UpstreamEndpoint): boolean {
  return endpoint === 'chat' || endpoint === 'responses' || endpoint === 'completions';
}
