// What a call cost: config `pricing` first (keyed `provider/model`), then the built-in list prices.
import type { Price } from '../config/policy.js';
import { CACHE_WRITE_1H_FACTOR, CACHE_WRITE_FACTOR, FLEX_FACTOR, listPrice, PRIORITY_FALLBACK_FACTOR, priorityListPrice, type ListPrice } from './list-prices.js';

/** Token counts to price; cachedInput and the cache writes are subsets of input, and of each other as noted. */
export interface PricedUsage {
  input: number;
  output: number;
  /** Input read from the provider's prompt cache. */
  cachedInput: number;
  /** Input written to the provider's prompt cache (Anthropic), every TTL; absent when none was reported. */
  cacheWriteInput?: number;
  /** The part of cacheWriteInput written with a 1-hour TTL. */
  cacheWrite1hInput?: number;
  /** The service tier the provider says served the call, when it changes the price (OpenAI). */
  serviceTier?: 'priority' | 'flex';
}

export class PriceBook {
  private readonly cache = new Map<string, ListPrice | null>();

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
   * The price of a call served at OpenAI's `priority` or `flex` tier. Priority: the built-in priority
   * list (a configured price is scaled by the list's priority-to-standard ratio, a contract discount
   * applying to both), else PRIORITY_FALLBACK_FACTOR times standard. Flex: half of standard.
   */
  private tierPrice(provider: string, model: string, tier: 'priority' | 'flex'): ListPrice | undefined {
    const key = `${tier}:${provider}/${model}`;
    let price = this.cache.get(key);
    if (price === undefined) {
      const standard = this.priceOf(provider, model);
      const listed = tier === 'priority' ? priorityListPrice(model) : undefined;
      const standardListed = listPrice(model);
      if (!standard) price = null;
      else if (tier === 'flex') price = scaled(standard, FLEX_FACTOR);
      else if (listed && !this.configured.has(`${provider}/${model}`)) price = listed;
      else price = scaled(standard, listed && standardListed && standardListed.input > 0 ? listed.input / standardListed.input : PRIORITY_FALLBACK_FACTOR);
      this.cache.set(key, price);
    }
    return price ?? undefined;
  }

  /** USD for one call's usage; 0 for a model without a price. */
  cost(provider: string, model: string, usage: PricedUsage): number {
    const parts = this.costParts(provider, model, usage);
    return parts ? (parts.input + parts.output) / 1e6 : 0;
  }

  /**
   * What one call's input (fresh, cached and written to the cache) and output cost, in µUSD, at the tier
   * that served it; undefined for a model without a price. Money limits charge these (price-factors.ts).
   */
  costParts(provider: string, model: string, usage: PricedUsage): { input: number; output: number } | undefined {
    const price = this.priceAt(provider, model, usage.serviceTier);
    if (!price) return undefined;
    const input = Math.max(0, usage.input);
    const cached = clamp(usage.cachedInput, input);
    const written = clamp(usage.cacheWriteInput ?? 0, input - cached);
    const written1h = clamp(usage.cacheWrite1hInput ?? 0, written);
    const fresh = input - cached - written;
    return {
      input: fresh * price.input + cached * price.cachedInput + (written - written1h) * cacheWritePrice(price) + written1h * cacheWrite1hPrice(price),
      output: usage.output * price.output,
    };
  }

  /** The price of a model at a service tier (standard when none). */
  priceAt(provider: string, model: string, tier?: 'priority' | 'flex'): ListPrice | undefined {
    return tier ? this.tierPrice(provider, model, tier) : this.priceOf(provider, model);
  }
}

/** USD per million input tokens written to the prompt cache with the default (5-minute) TTL. */
export function cacheWritePrice(price: ListPrice): number {
  return price.cacheWrite ?? price.input * CACHE_WRITE_FACTOR;
}

/** USD per million input tokens written to the prompt cache with a 1-hour TTL. */
export function cacheWrite1hPrice(price: ListPrice): number {
  return price.cacheWrite1h ?? price.input * CACHE_WRITE_1H_FACTOR;
}

/** `price` with every figure multiplied by `factor`. */
function scaled(price: ListPrice, factor: number): ListPrice {
  const out: ListPrice = { input: price.input * factor, output: price.output * factor, cachedInput: price.cachedInput * factor };
  if (price.cacheWrite !== undefined) out.cacheWrite = price.cacheWrite * factor;
  if (price.cacheWrite1h !== undefined) out.cacheWrite1h = price.cacheWrite1h * factor;
  return out;
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
  // Config has no cache-write prices: they follow the configured input, at the list's multipliers
  // (cost() falls back to Anthropic's 1.25x / 2x when the list has none either).
  const writeRatio = ratio(listed?.cacheWrite);
  const write1hRatio = ratio(listed?.cacheWrite1h);
  if (writeRatio !== undefined) price.cacheWrite = configured.input * writeRatio;
  if (write1hRatio !== undefined) price.cacheWrite1h = configured.input * write1hRatio;
  return price;
}
