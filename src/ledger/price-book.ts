// What a call cost: config `pricing` first (keyed `provider/model`), then the built-in list prices.
import type { Price } from '../config/policy.js';
import { listPrice, type ListPrice } from './list-prices.js';

/** Token counts to price; cachedInput is a subset of input. */
export interface PricedUsage {
  input: number;
  output: number;
  cachedInput: number;
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

  /** USD for one call's usage; 0 for a model without a price. */
  cost(provider: string, model: string, usage: PricedUsage): number {
    const price = this.priceOf(provider, model);
    if (!price) return 0;
    const cached = Math.min(usage.cachedInput, usage.input);
    return ((usage.input - cached) * price.input + cached * price.cachedInput + usage.output * price.output) / 1e6;
  }
}

function resolve(configured: Price | undefined, listed: ListPrice | undefined): ListPrice | undefined {
  if (!configured) return listed;
  // A configured price without a cached-input price keeps the provider's cache discount, in proportion.
  const ratio = listed && listed.input > 0 ? listed.cachedInput / listed.input : 1;
  return { input: configured.input, output: configured.output, cachedInput: configured.cachedInput ?? configured.input * ratio };
}
