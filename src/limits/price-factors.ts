// What one call is billed at against its configured price, per input and per output token: the factors a
// money limit scales its weights by (counter-store.ts PriceFactors), so `max_cost_usd` counts what the
// provider bills. A reservation takes the most the request can be billed at (the priority tier it asks
// for, prompt-cache writes it marks, the long-context band its input reaches); the settlement what the provider reported (the tier that served
// it, cache reads and writes), which is what the ledger's cost_usd says too.
import { cacheWrite1hPrice, cacheWritePrice } from '../ledger/list-prices.js';
import { atInputTokens, type PriceBook, type PricedUsage } from '../ledger/price-book.js';
import type { PriceFactors } from './counter-store.js';

/** What a request asks for that changes its price. */
export interface PriceHints {
  /** OpenAI's `service_tier` as sent. */
  serviceTier?: unknown;
  /** Anthropic prompt-cache breakpoints (`cache_control`): written at 1.25x the input price, or 2x for a 1-hour TTL. */
  cacheWrite?: '5m' | '1h';
}

/** Billed at the configured price. */
export const LIST_PRICE: PriceFactors = Object.freeze({ input: 1, output: 1 });

/**
 * The factors to reserve a call with `inputTokens` of input at: never below the configured price, whatever
 * the request hopes to be billed. Past a long-context line (price-book.ts) the whole call costs more.
 */
export function reserveFactors(book: PriceBook, provider: string, model: string, hints: PriceHints, inputTokens: number): PriceFactors {
  const list = book.priceOf(provider, model);
  if (!list) return LIST_PRICE;
  const tier = (hints.serviceTier === 'priority' && book.priceAt(provider, model, 'priority')) || list;
  const rates = atInputTokens(tier, inputTokens);
  let input = Math.max(1, ratio(rates.input, list.input));
  const output = Math.max(1, ratio(rates.output, list.output));
  if (hints.cacheWrite) input = Math.max(input, ratio(hints.cacheWrite === '1h' ? cacheWrite1hPrice(rates) : cacheWritePrice(rates), list.input));
  return input === 1 && output === 1 ? LIST_PRICE : { input, output };
}

/** The factors a call was billed at: its input and output cost over the configured price of its tokens. */
export function billedFactors(book: PriceBook, provider: string, model: string, usage: PricedUsage): PriceFactors {
  const list = book.priceOf(provider, model);
  const parts = book.costParts(provider, model, usage);
  if (!list || !parts) return LIST_PRICE;
  return {
    input: usage.input > 0 && list.input > 0 ? parts.input / (usage.input * list.input) : 1,
    output: usage.output > 0 && list.output > 0 ? parts.output / (usage.output * list.output) : 1,
  };
}

/** Prompt-cache writes a request body marks, read from its JSON text. */
export function cacheWriteHint(text: string | undefined): PriceHints['cacheWrite'] {
  // Inside JSON strings quotes are escaped, so an unescaped `"cache_control"` is a key (or a value equal
  // to it, which only reserves a little more).
  if (text === undefined || !text.includes('"cache_control"')) return undefined;
  return /"ttl"\s*:\s*"1h"/.test(text) ? '1h' : '5m';
}

function ratio(price: number, list: number): number {
  return list > 0 ? price / list : 1;
}
