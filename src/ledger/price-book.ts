// What a call cost: config `pricing` first (keyed `provider/model`), then the built-in list prices.
import type { Price } from '../config/policy.js';
import { TOOL_KINDS, type AttemptUsage, type PricedTier, type ToolCalls } from '../providers/usage.js';
import {
  audioRates,
  bandOf,
  cacheWrite1hPrice,
  cacheWritePrice,
  fastModeFactor,
  FLEX_FACTOR,
  inferenceGeoFactor,
  listPrice,
  PRIORITY_FALLBACK_FACTOR,
  priorityListPrice,
  TOOL_CALL_PRICES,
  type ListPrice,
  type LongContextPrice,
  type Rates,
} from './list-prices.js';

/** Token counts to price; cachedInput and the cache writes are subsets of input, and of each other as noted. */
export interface PricedUsage {
  input: number;
  output: number;
  /** Input read from the provider's prompt cache. */
  cachedInput: number;
  /** Input written to the provider's prompt cache (Anthropic; OpenAI from GPT-5.6 on), every TTL; absent when none was reported. */
  cacheWriteInput?: number;
  /** The part of cacheWriteInput written with a 1-hour TTL. */
  cacheWrite1hInput?: number;
  /** Input tokens of audio (a subset of input, none of it cached or written to the cache). */
  audioInput?: number;
  /** Output tokens of audio (a subset of output). */
  audioOutput?: number;
  /** The tier the provider says served the call, when it changes the price. */
  serviceTier?: PricedTier;
  /** Where the provider says the call ran (Anthropic's `inference_geo`): US-only inference is billed above global. */
  inferenceGeo?: string;
  /** Server-side tool calls billed per call (web searches, file searches). */
  toolCalls?: ToolCalls;
  /** Anthropic's server-side fallback: each model's part of the call (the counts above are their sums). */
  attempts?: readonly AttemptUsage[];
}

export class PriceBook {
  private readonly cache = new Map<string, ListPrice | null>();
  /** `provider/model` of prices without a cache-write rate whose calls reported writes (learnt from answers). */
  private readonly unratedWriters = new Set<string>();

  constructor(private readonly configured: ReadonlyMap<string, Price>) {}

  /** The price for a provider's model, or undefined when neither config nor the built-in table has one. */
  priceOf(provider: string, model: string): ListPrice | undefined {
    const key = `${provider}/${model}`;
    let price = this.cache.get(key);
    if (price === undefined) {
      price = resolve(this.configured.get(key), listPrice(model)) ?? null;
      this.cache.set(key, price);
    }
    return price ?? undefined;
  }

  /**
   * Notes that a call to this model reported prompt-cache writes. True the first time for a price that
   * has no write rate of its own (a configured deployment name the list does not know): its writes are
   * billed at the usual 1.25x input, which a reservation at the input rate did not hold.
   */
  noteCacheWrites(provider: string, model: string): boolean {
    const key = `${provider}/${model}`;
    const price = this.priceOf(provider, model);
    if (!price || price.cacheWrite !== undefined || this.unratedWriters.has(key)) return false;
    this.unratedWriters.add(key);
    return true;
  }

  /** Whether calls to this model reported prompt-cache writes its price has no rate for (noteCacheWrites). */
  writesUnrated(provider: string, model: string): boolean {
    return this.unratedWriters.size > 0 && this.unratedWriters.has(`${provider}/${model}`);
  }

  /**
   * The price of a call served at OpenAI's `priority` or `flex` tier, or in Anthropic's fast mode.
   * Priority: the built-in priority list (a configured price is scaled by the list's priority-to-standard
   * ratio, a contract discount applying to both), else PRIORITY_FALLBACK_FACTOR times standard. Flex: half
   * of standard. Fast: standard times the configured `fast_factor`, else the model's listed one.
   */
  private tierPrice(provider: string, model: string, tier: PricedTier): ListPrice | undefined {
    const key = `${tier}:${provider}/${model}`;
    let price = this.cache.get(key);
    if (price === undefined) {
      const standard = this.priceOf(provider, model);
      const listed = tier === 'priority' ? priorityListPrice(model) : undefined;
      const standardListed = listPrice(model);
      if (!standard) price = null;
      else if (tier === 'flex') price = scaled(standard, FLEX_FACTOR);
      else if (tier === 'fast') price = scaled(standard, this.configured.get(`${provider}/${model}`)?.fastFactor ?? fastModeFactor(model));
      else if (listed && !this.configured.has(`${provider}/${model}`)) price = listed;
      else price = scaled(standard, listed && standardListed && standardListed.input > 0 ? listed.input / standardListed.input : PRIORITY_FALLBACK_FACTOR);
      this.cache.set(key, price);
    }
    return price ?? undefined;
  }

  /** USD for one call's usage, its tool-call fees included; 0 for a model without a price. */
  cost(provider: string, model: string, usage: PricedUsage): number {
    const parts = this.costParts(provider, model, usage);
    return parts ? (parts.input + parts.output + this.toolFees(provider, model, usage.toolCalls)) / 1e6 : 0;
  }

  /**
   * What `calls` cost in per-call fees, in µUSD: each kind at the model's configured `tool_calls` price,
   * else the built-in list's (fees are the provider's, not the model's, but config prices per model). 0 for
   * none, and for a model without a price (as its tokens are).
   */
  toolFees(provider: string, model: string, calls: ToolCalls | undefined): number {
    if (!calls || !this.priceOf(provider, model)) return 0;
    const configured = this.configured.get(`${provider}/${model}`)?.toolCalls;
    let fees = 0;
    for (const kind of TOOL_KINDS) {
      const n = calls[kind];
      // USD per 1,000 calls is 1,000 µUSD per call per dollar of the price.
      if (n !== undefined && n > 0) fees += n * (configured?.[kind] ?? TOOL_CALL_PRICES[kind]) * 1000;
    }
    return fees;
  }

  /**
   * USD for the usage of many calls added up, at the standard band: a sum of calls' input says nothing
   * about whether any one of them passed a long-context line. For comparing models, not for billing.
   */
  standardCost(provider: string, model: string, usage: PricedUsage): number {
    const price = this.priceAt(provider, model, usage.serviceTier);
    if (!price) return 0;
    const parts = partsAt(price, usage);
    return (parts.input + parts.output) / 1e6;
  }

  /**
   * What one call's input (fresh, cached and written to the cache) and output cost, in µUSD, at the tier
   * that served it, the band its input falls in and where it ran; undefined for a model without a price.
   * Money limits charge these (price-factors.ts).
   */
  costParts(provider: string, model: string, usage: PricedUsage): { input: number; output: number } | undefined {
    if (usage.attempts) return this.attemptsCost(provider, usage);
    const price = this.priceAt(provider, model, usage.serviceTier);
    if (!price) return undefined;
    const parts = partsAt(atInputTokens(price, usage.input), usage);
    const geo = inferenceGeoFactor(model, usage.inferenceGeo);
    return geo === 1 ? parts : { input: parts.input * geo, output: parts.output * geo };
  }

  /**
   * A call that fell back (Anthropic's server-side fallback): each attempt at its own model's price, with
   * the call's tier and region (usage.speed and inference_geo are the call's, not per attempt: the tier
   * then applies to every attempt, which never bills less than the provider). An unpriced model's part
   * costs nothing, as an unpriced call does; undefined when no attempt's model has a price.
   */
  private attemptsCost(provider: string, usage: PricedUsage): { input: number; output: number } | undefined {
    let input = 0;
    let output = 0;
    let priced = false;
    for (const a of usage.attempts!) {
      const parts = this.costParts(provider, a.model, { ...a, serviceTier: usage.serviceTier, inferenceGeo: usage.inferenceGeo });
      if (!parts) continue;
      priced = true;
      input += parts.input;
      output += parts.output;
    }
    return priced ? { input, output } : undefined;
  }

  /** The price of a model at a service tier (standard when none). */
  priceAt(provider: string, model: string, tier?: PricedTier): ListPrice | undefined {
    return tier ? this.tierPrice(provider, model, tier) : this.priceOf(provider, model);
  }
}

/** The rates a call with `inputTokens` of input is billed at: its long-context band past the band's line. */
export function atInputTokens(price: ListPrice, inputTokens: number): Rates {
  return price.longContext && inputTokens > price.longContext.aboveInputTokens ? price.longContext : price;
}

/** µUSD of input and output at one set of rates. */
function partsAt(price: Rates, usage: PricedUsage): { input: number; output: number } {
  const input = Math.max(0, usage.input);
  const cached = clamp(usage.cachedInput, input);
  const written = clamp(usage.cacheWriteInput ?? 0, input - cached);
  const written1h = clamp(usage.cacheWrite1hInput ?? 0, written);
  const audioIn = clamp(usage.audioInput ?? 0, input - cached - written);
  const audioOut = clamp(usage.audioOutput ?? 0, usage.output);
  const fresh = input - cached - written - audioIn;
  return {
    input:
      fresh * price.input +
      cached * price.cachedInput +
      (written - written1h) * cacheWritePrice(price) +
      written1h * cacheWrite1hPrice(price) +
      audioIn * (price.audioInput ?? price.input),
    output: (usage.output - audioOut) * price.output + audioOut * (price.audioOutput ?? price.output),
  };
}

/** `price` with every figure multiplied by `factor`, its long-context band's too. */
function scaled(price: ListPrice, factor: number): ListPrice {
  const out: ListPrice = scaledRates(price, factor);
  if (price.longContext) out.longContext = { ...scaledRates(price.longContext, factor), aboveInputTokens: price.longContext.aboveInputTokens };
  return out;
}

function scaledRates(price: Rates, factor: number): Rates {
  const out: Rates = { input: price.input * factor, output: price.output * factor, cachedInput: price.cachedInput * factor };
  if (price.cacheWrite !== undefined) out.cacheWrite = price.cacheWrite * factor;
  if (price.cacheWrite1h !== undefined) out.cacheWrite1h = price.cacheWrite1h * factor;
  return Object.assign(out, audioRates(price, factor, factor));
}

function clamp(n: number, max: number): number {
  return Math.min(Math.max(0, n), max);
}

function resolve(configured: Price | undefined, listed: ListPrice | undefined): ListPrice | undefined {
  if (!configured) return listed;
  // A configured price without a cached-input price keeps the provider's cache discount, in proportion.
  const ratio = (of: number | undefined): number | undefined => (listed && listed.input > 0 && of !== undefined ? of / listed.input : undefined);
  const cachedRatio = ratio(listed?.cachedInput) ?? 1;
  const price: ListPrice = {
    input: configured.input,
    output: configured.output,
    cachedInput: configured.cachedInput ?? configured.input * cachedRatio,
  };
  // Cache-write prices: configured, else the configured input at the list's multipliers (cacheWritePrice
  // falls back to Anthropic's 1.25x / 2x when the list has none either).
  const writeRatio = ratio(listed?.cacheWrite);
  const write1hRatio = ratio(listed?.cacheWrite1h);
  const write = configured.cacheWrite ?? (writeRatio === undefined ? undefined : configured.input * writeRatio);
  const write1h = configured.cacheWrite1h ?? (write1hRatio === undefined ? undefined : configured.input * write1hRatio);
  if (write !== undefined) price.cacheWrite = write;
  if (write1h !== undefined) price.cacheWrite1h = write1h;
  // Audio rates likewise: configured, else the list's multiples of the configured text rates.
  const audioIn = configured.audioInput ?? scaledBy(configured.input, listed?.audioInput, listed?.input);
  const audioOut = configured.audioOutput ?? scaledBy(configured.output, listed?.audioOutput, listed?.output);
  if (audioIn !== undefined) price.audioInput = audioIn;
  if (audioOut !== undefined) price.audioOutput = audioOut;
  const band = configuredBand(price, configured.longContext) ?? listedBand(price, listed);
  if (band) price.longContext = band;
  return price;
}

/** `base` times `listed` over `listedBase`: a configured rate at the list's multiple; undefined without one. */
function scaledBy(base: number, listed: number | undefined, listedBase: number | undefined): number | undefined {
  if (listed === undefined || listedBase === undefined) return undefined;
  return listedBase > 0 ? (base * listed) / listedBase : listed;
}

/** A band set in config: its cache rates keep the configured price's multiples of input. */
function configuredBand(price: Rates, band: Price['longContext']): LongContextPrice | undefined {
  if (!band) return undefined;
  const scaled = bandOf(price, band.aboveInputTokens, factor(band.input, price.input), factor(band.output, price.output));
  return { ...scaled, input: band.input, output: band.output, cachedInput: band.cachedInput ?? scaled.cachedInput };
}

/** The list's band for a configured price, at the list's ratios (a contract discount applies past the line too). */
function listedBand(price: Rates, listed: ListPrice | undefined): LongContextPrice | undefined {
  const band = listed?.longContext;
  if (!listed || !band) return undefined;
  return bandOf(price, band.aboveInputTokens, factor(band.input, listed.input), factor(band.output, listed.output));
}

/** `to` over `from`; 1 when `from` is 0 (nothing to scale). */
function factor(to: number, from: number): number {
  return from > 0 ? to / from : 1;
}
