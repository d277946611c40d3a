// What one call is billed at against its configured price, per input and per output token: the factors a
// money limit scales its weights by (counter-store.ts PriceFactors), so `max_cost_usd` counts what the
// provider bills. A reservation takes the most the request can be billed at (the priority tier it asks
// for, Anthropic's fast mode, prompt-cache writes it marks or OpenAI may make, the long-context band its
// input reaches); the settlement what the provider reported (the tier that served it, cache reads and
// writes), which is what the ledger's cost_usd says too.
//
// Fees per tool call (web searches, file searches) are not per token, but a counter only counts tokens
// times weights. They ride on the input factor: a call's fee of F µUSD raises its input factor by
// F / (input tokens x configured input price), so the money counters grow by exactly F (on the output
// factor when the input cannot carry it). Money limits on input spend, or on both, count fees; those on
// output spend alone do not (the ledger's input_cost_usd holds them too, so a rebuild agrees).
import { cacheWrite1hPrice, cacheWritePrice, inferenceGeoFactor, type ListPrice } from '../ledger/list-prices.js';
import { atInputTokens, type PriceBook, type PricedUsage } from '../ledger/price-book.js';
import { billsCacheWrites } from '../providers/openai/prompt-cache.js';
import type { ToolCalls } from '../providers/usage.js';
import { someMember } from '../util/json-members.js';
import type { PriceFactors } from './counter-store.js';

/** What a request asks for that changes its price. */
export interface PriceHints {
  /** OpenAI's `service_tier` as sent. */
  serviceTier?: unknown;
  /** Anthropic's `speed` as sent (`fast`: fast mode, billed at a multiple of standard). */
  speed?: unknown;
  /** Anthropic's `inference_geo` as sent (`us`: US-only inference, billed above global on recent models). */
  inferenceGeo?: unknown;
  /** Anthropic prompt-cache breakpoints (`cache_control`): written at 1.25x the input price, or 2x for a 1-hour TTL. */
  cacheWrite?: '5m' | '1h';
  /**
   * OpenAI: the request may write the prompt cache, as every request does but those that turn it off
   * (providers/openai/prompt-cache.ts). Its input is reserved at the cache-write rate where the model's
   * price has one of its own (GPT-5.6 and later: 1.25x input; earlier models' is their input rate).
   */
  promptCacheWrite?: boolean;
  /** The most tool calls billed per call the request may make, by kind (its tools' caps, or a default bound). */
  toolCalls?: ToolCalls;
  /**
   * OpenAI's audio models: the request sends audio (input), or asks for a spoken answer (output). Audio
   * tokens are billed at their own, higher rates, and how many of the input or output will be audio is
   * not known before the answer: every token of that side is reserved at the audio rate.
   */
  audio?: { input: boolean; output: boolean };
  /** Anthropic's server-side fallback: each fallback attempt's upstream model and the `speed` it may run at. */
  fallbacks?: ReadonlyArray<{ model: string; speed?: unknown }>;
}

/** Billed at the configured price. */
export const LIST_PRICE: PriceFactors = Object.freeze({ input: 1, output: 1 });

/**
 * The factors to reserve a call with `inputTokens` of input at: never below the configured price, whatever
 * the request hopes to be billed. Past a long-context line (price-book.ts) the whole call costs more.
 */
export function reserveFactors(book: PriceBook, provider: string, model: string, hints: PriceHints, inputTokens: number): PriceFactors {
  if (hints.fallbacks && hints.fallbacks.length > 0) return priciestAttempt(book, provider, model, hints, inputTokens);
  const list = book.priceOf(provider, model);
  if (!list) return LIST_PRICE;
  const tier = (hints.serviceTier === 'priority' && book.priceAt(provider, model, 'priority')) || (hints.speed === 'fast' && book.priceAt(provider, model, 'fast')) || list;
  const rates = atInputTokens(tier, inputTokens);
  let input = Math.max(1, ratio(rates.input, list.input));
  let output = Math.max(1, ratio(rates.output, list.output));
  if (hints.cacheWrite) input = Math.max(input, ratio(hints.cacheWrite === '1h' ? cacheWrite1hPrice(rates) : cacheWritePrice(rates), list.input));
  // How much of the prompt OpenAI will write is not known before the answer: all of it may be. A price
  // without a write rate (configured for a model the list does not know) settles writes at 1.25x input
  // (cacheWritePrice), which a family that bills them (GPT-5.6 and later, by name) does report, and so
  // does a deployment whose calls were seen reporting writes (a GPT-5.6 on Azure named `prod-chat`).
  if (hints.promptCacheWrite && (list.cacheWrite !== undefined || billsCacheWrites(model) || book.writesUnrated(provider, model))) {
    input = Math.max(input, ratio(cacheWritePrice(rates), list.input));
  }
  if (hints.audio?.input && rates.audioInput !== undefined) input = Math.max(input, ratio(rates.audioInput, list.input));
  if (hints.audio?.output && rates.audioOutput !== undefined) output = Math.max(output, ratio(rates.audioOutput, list.output));
  // US-only inference multiplies every rate. A workspace whose default is US-only bills it to requests that
  // do not say so: those settle at it (one call's 10% past a money limit at most), as the ledger does.
  const geo = inferenceGeoFactor(model, typeof hints.inferenceGeo === 'string' ? hints.inferenceGeo : undefined);
  input *= geo;
  output *= geo;
  return input === 1 && output === 1 ? LIST_PRICE : { input, output };
}

/**
 * With server-side fallbacks, any attempt may be the one that runs longest: every token is reserved at the
 * priciest rate of any attempt (its model, at the speed it may run at), relative to the requested model's
 * configured price, which the money counters weigh tokens by. A fallback model without a price counts as
 * the requested one (the engine refuses such a call when a money limit applies).
 */
function priciestAttempt(book: PriceBook, provider: string, model: string, hints: PriceHints, inputTokens: number): PriceFactors {
  const { fallbacks, ...own } = hints;
  let factors = reserveFactors(book, provider, model, own, inputTokens);
  const list = book.priceOf(provider, model);
  if (!list) return factors;
  for (const attempt of fallbacks!) {
    const theirs = book.priceOf(provider, attempt.model);
    if (!theirs) continue;
    const at = reserveFactors(book, provider, attempt.model, { ...own, speed: attempt.speed }, inputTokens);
    const input = Math.max(factors.input, at.input * ratio(theirs.input, list.input));
    const output = Math.max(factors.output, at.output * ratio(theirs.output, list.output));
    if (input !== factors.input || output !== factors.output) factors = { input, output };
  }
  return factors;
}

/**
 * `factors` (the price of the call's tokens) with the fees of `calls` added, at most `cap` µUSD, for a
 * reservation of `inputTokens` and `outputTokens`.
 */
export function withToolFees(book: PriceBook, provider: string, model: string, factors: PriceFactors, calls: ToolCalls, cap: number, inputTokens: number, outputTokens: number): PriceFactors {
  const list = book.priceOf(provider, model);
  const fees = Math.min(book.toolFees(provider, model, calls), cap);
  return list && fees > 0 ? withFees(factors, fees, list, inputTokens, outputTokens) : factors;
}

/** The factors a call was billed at: its input and output cost (tool fees with the input) over the configured price of its tokens. */
export function billedFactors(book: PriceBook, provider: string, model: string, usage: PricedUsage): PriceFactors {
  const list = book.priceOf(provider, model);
  const parts = book.costParts(provider, model, usage);
  if (!list || !parts) return LIST_PRICE;
  const factors = {
    input: usage.input > 0 && list.input > 0 ? parts.input / (usage.input * list.input) : 1,
    output: usage.output > 0 && list.output > 0 ? parts.output / (usage.output * list.output) : 1,
  };
  const fees = usage.toolCalls ? book.toolFees(provider, model, usage.toolCalls) : 0;
  return fees > 0 ? withFees(factors, fees, list, usage.input, usage.output) : factors;
}

/** Where settling says what an operator should know (the request's logger). */
export interface SettleLog {
  warn(obj: object, msg: string): void;
}

/**
 * Learns from a call's usage that its model writes the prompt cache when its price has no write rate
 * (PriceBook.noteCacheWrites: later calls then reserve at 1.25x input), and says once per price and
 * engine (a reload starts afresh) which field gives the real rate.
 */
export function noteCacheWrites(book: PriceBook, provider: string, model: string, usage: PricedUsage, log: SettleLog | undefined): void {
  if (!usage.cacheWriteInput || !book.noteCacheWrites(provider, model)) return;
  const price = `${provider}/${model}`;
  log?.warn(
    { pricing: price },
    `calls to ${price} report prompt-cache writes and its price has no cache_write: they are billed at 1.25x its input, and money limits now reserve its calls' input at that rate; set pricing."${price}".cache_write (and cache_write_1h for 1-hour writes) to the provider's rate`,
  );
}

/**
 * `factors` raised so that `input` and `output` tokens at the configured price `list` also count `fees`
 * µUSD: on the input side, or the output side when the input cannot carry it (no input, or a free one).
 * With neither, the fee cannot be counted: a call that makes tool calls always has input to reserve.
 */
function withFees(factors: PriceFactors, fees: number, list: ListPrice, input: number, output: number): PriceFactors {
  if (input > 0 && list.input > 0) return { input: factors.input + fees / (input * list.input), output: factors.output };
  if (output > 0 && list.output > 0) return { input: factors.input, output: factors.output + fees / (output * list.output) };
  return factors;
}

/**
 * Prompt-cache writes a request body marks, read from its JSON text; from the parsed `body` as well when the
 * text holds a `\u` escape, with which a key or value is spelt otherwise (`"cache\u005fcontrol"` is
 * `cache_control` to every JSON parser, Anthropic's included): a search of the text alone reserved such a
 * write at the list input price, and it was billed at up to twice that.
 */
export function cacheWriteHint(text: string | undefined, body?: unknown): PriceHints['cacheWrite'] {
  // Inside JSON strings quotes are escaped, so an unescaped `"cache_control"` is a key (or a value equal
  // to it, which only reserves a little more).
  const seen = text !== undefined && text.includes('"cache_control"') ? (/"ttl"\s*:\s*"1h"/.test(text) ? '1h' : '5m') : undefined;
  if (seen === '1h' || body === undefined || (text !== undefined && !text.includes('\\u'))) return seen;
  return markedWrite(body) ?? seen;
}

/** The longest cache write a parsed body marks: a `cache_control` key anywhere, `ttl: "1h"` in it. */
function markedWrite(body: unknown): PriceHints['cacheWrite'] {
  let found: PriceHints['cacheWrite'];
  someMember(body, (key, x) => {
    if (key !== 'cache_control') return false;
    found = typeof x === 'object' && x !== null && (x as Record<string, unknown>).ttl === '1h' ? '1h' : '5m';
    return found === '1h';
  });
  return found;
}

function ratio(price: number, list: number): number {
  return list > 0 ? price / list : 1;
}
