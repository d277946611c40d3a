// Built-in list prices, USD per million tokens, keyed by the provider's model name without a date
// suffix (plus exact entries for the few dated snapshots priced unlike their alias). Checked on
// 2026-11-21 against the providers' public price pages (OpenAI API pricing, Anthropic "Model pricing"
// with "Cache hits & refreshes" as the cached price). Config `pricing` overrides any entry; update this
// table when the providers change their prices.
//
// Claude 5 entries checked 2026-12-03 against Anthropic's own pages (platform.claude.com, Anthropic's
// developer docs host):
//   https://platform.claude.com/docs/en/about-claude/pricing            (Opus 5, Fable 5 and Fable 5.1 rows)
//   https://platform.claude.com/docs/about-claude/models/whats-new-opus-5 (Opus 5)
//   https://platform.claude.com/docs/zh-CN/models/opus-5-5/overview    (Opus 5.5)
//   https://platform.claude.com/docs/zh-CN/models/sonnet-5/overview    (Sonnet 5)
//   https://platform.claude.com/docs/zh-CN/models/sonnet-5-5/overview  (Sonnet 5.5)
// Checked 2026-12-05 against the same host:
//   https://platform.claude.com/docs/zh-CN/models/haiku-5-5/overview (Haiku 5.5: two bands by prompt length)
//   https://platform.claude.com/docs/en/about-claude/pricing          (Mythos 5 and 5.1 rows: Fable's prices)
//   https://platform.claude.com/docs/id/models/opus-5/overview         (lineup: Fable 5.2 at $8 / $40)
// OpenAI gpt-5.2 to gpt-5.5, checked 2026-12-05:
//   https://developers.openai.com/api/docs/models/gpt-5.4 (gpt-5.4 $2.50 / $0.25 cached / $15; GPT-5.2's
//     input $1.75 in its comparison; prompts over 272K input tokens at 2x input and 1.5x output "for the
//     full session" on gpt-5.4 and gpt-5.4-pro)
//   https://developers.openai.com/api/docs/models/gpt-5.4-pro (the same band)
//   community.openai.com/t/gpt-5-4-deep-dive-pricing-context-limits-and-tool-search-explained (OpenAI's
//     forum: gpt-5.2 $1.75 / $0.175 / $14, gpt-5.2-pro $21 / $168, gpt-5.4-pro $30 / $180, no cached rate)
// No official page for gpt-5.5, gpt-5.5-pro, gpt-5.4-mini and gpt-5.4-nano was in the stores; these agree
// across sources that quote OpenAI's pricing page (tokenmix.ai 2026-06-04, morphllm.com, tokencost.app,
// benchr.org, docs.bswen.com): gpt-5.5 $5 / $0.50 / $30 with the same 272K band ($10 / $1 / $45),
// gpt-5.5-pro $30 / $180, gpt-5.4-mini $0.75 / $0.075 / $4.50, gpt-5.4-nano $0.20 / $0.02 / $1.25. Recheck.
// OpenAI GPT-5.6 (Sol, Terra, Luna; released 2026-07-09), checked 2026-12-06. The first OpenAI family to bill
// prompt-cache writes: 1.25x the uncached input rate, reported in `cache_write_tokens` ("Cache writes have no
// additional fee on models before the GPT-5.6 family", developers.openai.com/api/docs/guides/prompt-caching).
//   https://developers.openai.com/api/docs/models/gpt-5.6-luna (and its ja-JP, ko-KR, zh-Hant copies): $0.20 /
//     $0.02 cached / $1.20; "Prompts with >272K input tokens are priced at 2x input and 1.5x output for the
//     full request"; "Cache writes are billed at 1.25x the uncached input token rate"; Terra's input $2.00
//   https://developers.openai.com/ja-JP/api/docs/models/gpt-5.6-sol (and pt-BR): a promotional $4 / $0.40 /
//     $20 "available at least until November 21, 2026"; the same band and write multiple; `gpt-5.6` is Sol
//   Terra $2 / $0.20 / $12: apidog.com's GPT-6.1 Terra pricing history ("GPT-5.6 Terra today"), vercel.com's
//     and getmaxim.ai's model pages, the PromptFuel v1.0.19 release ("price reduction ... effective 2026-07-30")
// Sources disagree by date: launch prices (2026-06-26, quoted by bytechat.io, smartscope.blog, apidog.com) were
// Sol $5 / $30, Terra $2.50 / $15, Luna $1 / $6; Terra and Luna were cut for good on 2026-07-30 (PromptFuel
// v1.0.19, gramext/dist v0.1.0: "those are permanent"), Sol only for a promotion guaranteed to 2026-11-21
// (laozhang.ai: "whether the original price returns is not known"). Sol is priced at its $5 / $0.50 / $30 list
// price, not the promotion: too high errs safe for money limits; config `pricing` can lower it. Priority
// ("fast", 2x standard on vercel.com's gpt-5.6-*-fast rows only) is left to PRIORITY_FALLBACK_FACTOR (2.5x).
// OpenAI's audio models, checked 2026-12-06 against their model pages (text / audio, input / output):
//   https://developers.openai.com/api/docs/models/gpt-audio.md                  ($2.50 / $10; audio $32 / $64)
//   https://developers.openai.com/zh-Hans/api/docs/models/gpt-audio-1.5         (the same)
//   https://developers.openai.com/api/docs/models/gpt-4o-audio-preview.md       ($2.50 / $10; audio $40 / $80)
//   https://developers.openai.com/api/docs/models/gpt-4o-mini-audio-preview.md  ($0.15 / $0.60; audio $10 / $20)
// None lists a cached-input rate. Left out: gpt-audio-mini, whose page lists only its text rates ($0.60 /
// $2.40): priced at those, its audio would be billed far under what OpenAI charges; unpriced, a money limit
// refuses it until `pricing` gives its rates (audio_input, audio_output).
// Left out: the gpt-4o-2024-05-13 snapshot (no official OpenAI page was found to check it against).

import type { ToolKind } from '../providers/usage.js';

export interface ListPrice {
  input: number;
  output: number;
  /** Price of input tokens read from the provider's prompt cache. */
  cachedInput: number;
  /**
   * Price of input tokens written to the prompt cache with the default TTL (Anthropic's 5 minutes, OpenAI's
   * 30 minutes); 1.25x input when absent. OpenAI's models before GPT-5.6 write for free: theirs is input.
   */
  cacheWrite?: number;
  /** Price of input tokens written to the prompt cache with a 1-hour TTL (Anthropic); 2x input when absent. */
  cacheWrite1h?: number;
  /** Price of audio input tokens (OpenAI's audio models); input's when absent. */
  audioInput?: number;
  /** Price of audio output tokens; output's when absent. */
  audioOutput?: number;
  /** Rates for a whole call whose input (cache reads and writes included) exceeds a size, where the provider has them. */
  longContext?: LongContextPrice;
}

/**
 * A long-context band: a call with more than `aboveInputTokens` input tokens is billed at these rates for
 * all its tokens, input and output, not only for those past the line (Anthropic's Sonnet 4 and 4.5 with
 * the 1M-token context beta, and Haiku 5.5 past 100,000 tokens).
 */
export interface LongContextPrice extends Rates {
  aboveInputTokens: number;
}

/** One set of rates: a price without its long-context band, or the band itself. */
export type Rates = Omit<ListPrice, 'longContext'>;

/** Anthropic's list multipliers for cache writes, used where a price has no explicit cache-write figure. */
export const CACHE_WRITE_FACTOR = 1.25;
/** OpenAI's cache-write multiplier from GPT-5.6 on (earlier models write for free). */
export const OPENAI_CACHE_WRITE_FACTOR = 1.25;
export const CACHE_WRITE_1H_FACTOR = 2;

/** USD per million input tokens written to the prompt cache with the default (5-minute) TTL. */
export function cacheWritePrice(price: Rates): number {
  return price.cacheWrite ?? price.input * CACHE_WRITE_FACTOR;
}

/** USD per million input tokens written to the prompt cache with a 1-hour TTL. */
export function cacheWrite1hPrice(price: Rates): number {
  return price.cacheWrite1h ?? price.input * CACHE_WRITE_1H_FACTOR;
}

/**
 * A long-context band on `rates`: past `above` input tokens, input (and with it the cache rates, which
 * are multiples of input) at `inputFactor` and output at `outputFactor` times the rates.
 */
export function bandOf(rates: Rates, above: number, inputFactor: number, outputFactor: number): LongContextPrice {
  return {
    aboveInputTokens: above,
    input: rates.input * inputFactor,
    output: rates.output * outputFactor,
    cachedInput: rates.cachedInput * inputFactor,
    cacheWrite: cacheWritePrice(rates) * inputFactor,
    cacheWrite1h: cacheWrite1hPrice(rates) * inputFactor,
    ...audioRates(rates, inputFactor, outputFactor),
  };
}

/** A price's audio rates times the factors, as fields to spread: none for a price without them. */
export function audioRates(rates: Rates, inputFactor: number, outputFactor: number): Pick<Rates, 'audioInput' | 'audioOutput'> {
  const out: Pick<Rates, 'audioInput' | 'audioOutput'> = {};
  if (rates.audioInput !== undefined) out.audioInput = rates.audioInput * inputFactor;
  if (rates.audioOutput !== undefined) out.audioOutput = rates.audioOutput * outputFactor;
  return out;
}

const p = (input: number, output: number, cachedInput: number): ListPrice => ({ input, output, cachedInput });
/**
 * An OpenAI price before GPT-5.6: cache writes at the input rate. These models write the cache for free (and
 * report no writes); without it a write some server reported would be billed at Anthropic's 1.25x.
 */
const o = (input: number, output: number, cachedInput: number): ListPrice => ({ input, output, cachedInput, cacheWrite: input });
/** An OpenAI price from GPT-5.6 on: cache writes at 1.25x the uncached input rate, as the model pages say. */
const o56 = (input: number, output: number, cachedInput: number): ListPrice => ({ input, output, cachedInput, cacheWrite: input * OPENAI_CACHE_WRITE_FACTOR });
/** An OpenAI audio model's price: text rates (cache hits bill as input: no cached rate is listed), then audio rates. */
const spoken = (input: number, output: number, audioInput: number, audioOutput: number): ListPrice => ({ input, output, cachedInput: input, cacheWrite: input, audioInput, audioOutput });
/** An Anthropic price with its cache-write prices spelled out. */
const a = (input: number, output: number, cachedInput: number, cacheWrite: number, cacheWrite1h: number): ListPrice => ({
  input,
  output,
  cachedInput,
  cacheWrite,
  cacheWrite1h,
});
/** `price` with Anthropic's long-context band (bandOf). */
const longContext = (price: ListPrice, above: number, inputFactor: number, outputFactor: number): ListPrice => ({
  ...price,
  longContext: bandOf(price, above, inputFactor, outputFactor),
});

/** OpenAI's band for its 1.05M-context models: a prompt over 272K input tokens bills the whole call at 2x input, 1.5x output. */
const openAiLongContext = (price: ListPrice): ListPrice => longContext(price, 272_000, 2, 1.5);

export const LIST_PRICES: Readonly<Record<string, ListPrice>> = {
  // OpenAI: GPT-5.6 (sources above): cache writes at 1.25x input, the 272K band on every rate. `gpt-5.6` is Sol.
  'gpt-5.6': openAiLongContext(o56(5, 30, 0.5)),
  'gpt-5.6-sol': openAiLongContext(o56(5, 30, 0.5)),
  'gpt-5.6-terra': openAiLongContext(o56(2, 12, 0.2)),
  'gpt-5.6-luna': openAiLongContext(o56(0.2, 1.2, 0.02)),
  // OpenAI before 5.6: cache writes free (o). The pro models list no cached-input rate: cache hits bill as input.
  'gpt-5.5': openAiLongContext(o(5, 30, 0.5)),
  'gpt-5.5-pro': openAiLongContext(o(30, 180, 30)),
  'gpt-5.4': openAiLongContext(o(2.5, 15, 0.25)),
  'gpt-5.4-pro': openAiLongContext(o(30, 180, 30)),
  'gpt-5.4-mini': o(0.75, 4.5, 0.075),
  'gpt-5.4-nano': o(0.2, 1.25, 0.02),
  'gpt-5.2': o(1.75, 14, 0.175),
  'gpt-5.2-pro': o(21, 168, 21),
  'gpt-5': o(1.25, 10, 0.125),
  'gpt-5.1': o(1.25, 10, 0.125),
  'gpt-5-mini': o(0.25, 2, 0.025),
  'gpt-5-nano': o(0.05, 0.4, 0.005),
  'gpt-4.1': o(2, 8, 0.5),
  'gpt-4.1-mini': o(0.4, 1.6, 0.1),
  'gpt-4.1-nano': o(0.1, 0.4, 0.025),
  'gpt-4o': o(2.5, 10, 1.25),
  'gpt-4o-mini': o(0.15, 0.6, 0.075),
  // OpenAI's audio models (Chat Completions): audio tokens at their own rates, 12.8-66.7x the text ones.
  'gpt-audio': spoken(2.5, 10, 32, 64),
  'gpt-audio-1.5': spoken(2.5, 10, 32, 64),
  'gpt-4o-audio-preview': spoken(2.5, 10, 40, 80),
  'gpt-4o-mini-audio-preview': spoken(0.15, 0.6, 10, 20),
  'gpt-4-turbo': o(10, 30, 10),
  'gpt-3.5-turbo': o(0.5, 1.5, 0.5),
  // Legacy completions (/v1/completions) models: no cached rate is listed.
  'gpt-3.5-turbo-instruct': o(1.5, 2, 1.5),
  'davinci-002': o(2, 2, 2),
  'babbage-002': o(0.4, 0.4, 0.4),
  o1: o(15, 60, 7.5),
  'o1-mini': o(1.1, 4.4, 0.55),
  o3: o(2, 8, 0.5),
  'o3-mini': o(1.1, 4.4, 0.55),
  'o4-mini': o(1.1, 4.4, 0.275),
  // OpenAI: embeddings (input only).
  'text-embedding-3-small': o(0.02, 0, 0.02),
  'text-embedding-3-large': o(0.13, 0, 0.13),
  'text-embedding-ada-002': o(0.1, 0, 0.1),
  // Anthropic: Claude 5.x (input, output, cache hits, 5-minute cache writes, 1-hour cache writes).
  // Fable 5 / 5.1: the pricing page's table (cache hits $1 and $0.25); ids from the model pages
  // (platform.claude.com/docs/.../models/fable-5/overview, .../fable-5-1/overview).
  // Fable 5.2: $8 / $40 on Anthropic's lineup table; its cache hits ($0.20) and writes ($10 / $16, the usual
  // 1.25x / 2x) from trackers that read the pricing page (phuryn/claude-usage v1.5.7, archid21/rightsize
  // v0.10.2), as no official page in the stores lists them. Recheck.
  'claude-fable-5-2': a(8, 40, 0.2, 10, 16),
  'claude-fable-5-1': a(10, 50, 0.25, 12.5, 20),
  'claude-fable-5': a(10, 50, 1, 12.5, 20),
  // Mythos (limited availability) shares each Fable version's specifications and prices.
  'claude-mythos-5-2': a(8, 40, 0.2, 10, 16),
  'claude-mythos-5-1': a(10, 50, 0.25, 12.5, 20),
  'claude-mythos-5': a(10, 50, 1, 12.5, 20),
  'claude-opus-5-5': a(4, 20, 0.2, 5, 8),
  'claude-opus-5': a(5, 25, 0.5, 6.25, 10),
  // Sonnet 5.5 cache hits: $0.10 since 2026-10-07 (0.05x input, as Opus 5.5's $0.20). The one official page
  // stored with $0.20 (zh-CN/models/sonnet-5-5/overview) predates that day: its lineup still shows Haiku 4.5,
  // not Haiku 5.5 (released 2026-10-07). Trackers that read the live pricing page after it all have $0.10
  // (kurofune/claudit v1.9.2 "checked 2026-10-24", TheKrush/PromptFuel v1.0.23, phuryn/claude-usage v1.5.7,
  // the synaps crate's table citing platform.claude.com/docs/en/about-claude/pricing). Recheck there.
  'claude-sonnet-5-5': a(2, 10, 0.1, 2.5, 4),
  'claude-sonnet-5': a(2, 10, 0.2, 2.5, 4),
  // Haiku 5.5 bills a call whose prompt (cache reads and writes included) passes 100,000 tokens at 5x every
  // rate, output included: $0.50 / $2.50, cache hits $0.05, writes $0.625 / $1.
  'claude-haiku-5-5': longContext(a(0.1, 0.5, 0.01, 0.125, 0.2), 100_000, 5, 5),
  // Anthropic: Claude 4.x (Opus dropped from $15/$75 to $5/$25 with 4.5). Cache writes: 1.25x / 2x input.
  'claude-opus-4-8': p(5, 25, 0.5),
  'claude-opus-4-7': p(5, 25, 0.5),
  'claude-opus-4-6': p(5, 25, 0.5),
  'claude-opus-4-5': p(5, 25, 0.5),
  'claude-opus-4-1': p(15, 75, 1.5),
  'claude-opus-4-0': p(15, 75, 1.5),
  'claude-opus-4': p(15, 75, 1.5),
  'claude-sonnet-4-6': p(3, 15, 0.3),
  // Sonnet 4 and 4.5 take a 1M-token context with the `context-1m-2025-08-07` beta, and bill a call whose
  // input passes 200K tokens at $6 / $22.50 for all of it (Anthropic's pricing page, "Long context
  // pricing"; cache rates keep their multiples of the input price). Sonnet 4.6 and Opus 4.6 serve their
  // 1M window at the standard price.
  'claude-sonnet-4-5': longContext(p(3, 15, 0.3), 200_000, 2, 1.5),
  'claude-sonnet-4-0': longContext(p(3, 15, 0.3), 200_000, 2, 1.5),
  'claude-sonnet-4': longContext(p(3, 15, 0.3), 200_000, 2, 1.5),
  'claude-haiku-4-5': p(1, 5, 0.1),
  // Anthropic: Claude 3.x.
  'claude-3-7-sonnet': p(3, 15, 0.3),
  'claude-3-5-sonnet': p(3, 15, 0.3),
  'claude-3-5-haiku': p(0.8, 4, 0.08),
  'claude-3-opus': p(15, 75, 1.5),
  // Claude 3 Haiku's 5-minute cache writes are $0.30, 1.2x input, not the 1.25x of every other model
  // (platform.claude.com/docs/en/about-claude/pricing, checked 2026-12-05).
  'claude-3-haiku': a(0.25, 1.25, 0.03, 0.3, 0.5),
};

/**
 * OpenAI Priority processing (a call the provider reports as served with `service_tier: "priority"`),
 * checked 2026-12-03 against openai.com/api-priority-processing (prompts up to 128K tokens). Models of the
 * standard table only; one served at priority without an entry here is priced PRIORITY_FALLBACK_FACTOR
 * times its standard price.
 */
export const PRIORITY_PRICES: Readonly<Record<string, ListPrice>> = {
  // gpt-5.5 to gpt-5.2 checked 2026-12-06 on the same page (its rows marked "excludes long context": a
  // request estimated at more than 128K prompt tokens is not served at priority). gpt-5.4-mini and gpt-5.2
  // are 2x standard: without entries they were priced at the 2.5x fallback, 25% over OpenAI's bill.
  'gpt-5.5': o(12.5, 75, 1.25),
  'gpt-5.4': o(5, 30, 0.5),
  'gpt-5.4-mini': o(1.5, 9, 0.15),
  'gpt-5.2': o(3.5, 28, 0.35),
  'gpt-5': o(2.5, 20, 0.25),
  'gpt-5.1': o(2.5, 20, 0.25),
  'gpt-5-mini': o(0.45, 3.6, 0.045),
  'gpt-4.1': o(3.5, 14, 0.875),
  'gpt-4.1-mini': o(0.7, 2.8, 0.175),
  'gpt-4.1-nano': o(0.2, 0.8, 0.05),
  'gpt-4o': o(4.25, 17, 2.125),
  'gpt-4o-mini': o(0.25, 1, 0.125),
  o3: o(3.5, 14, 0.875),
  'o4-mini': o(2, 8, 0.5),
};
/** Priority for a model without a priority entry: 2.5x standard, the highest ratio in OpenAI's table (gpt-5.5). */
export const PRIORITY_FALLBACK_FACTOR = 2.5;
/** Flex processing (`service_tier: "flex"`) is billed at Batch API rates: half the standard price. */
export const FLEX_FACTOR = 0.5;

/**
 * Anthropic fast mode (a request with `speed: "fast"`, answered with `usage.speed: "fast"`) bills every rate
 * of the model, prompt-cache rates included, times a per-model factor. Checked 2026-12-05; Anthropic's own
 * fast-mode page was not in the stores this was checked against, so these agree across secondary sources:
 * Opus 4.6 and 4.7 at 6x ($30 / $150 per million; openrouter.ai's fast variants, octavus.ai's fast-mode
 * page), Opus 4.8 at 2x (octavus.ai), Opus 5 at 2x ($10 / $50; openrouter.ai, vercel.com's AI gateway).
 */
const FAST_FACTORS: Readonly<Record<string, number>> = {
  'claude-opus-4-6': 6,
  'claude-opus-4-7': 6,
  'claude-opus-4-8': 2,
  'claude-opus-5': 2,
};
/** Fast mode on a model without a known factor (Opus 5.5, Fable 5.2): the highest factor known, until config says. */
export const FAST_FALLBACK_FACTOR = 6;

/**
 * US-only inference (`inference_geo: "us"`, reported back in `usage.inference_geo`) is billed at 1.1x every
 * rate "on Opus 4.6, Sonnet 4.6, and later models" (platform.claude.com/docs/en/api/service-tiers, checked
 * 2026-12-05); on earlier models it costs what global inference does. The later models of the table:
 */
const US_ONLY_PRICED: Readonly<Record<string, true>> = {
  'claude-opus-4-6': true,
  'claude-sonnet-4-6': true,
  'claude-opus-4-7': true,
  'claude-opus-4-8': true,
  'claude-opus-5': true,
  'claude-opus-5-5': true,
  'claude-sonnet-5': true,
  'claude-sonnet-5-5': true,
  'claude-fable-5': true,
  'claude-fable-5-1': true,
  'claude-fable-5-2': true,
  'claude-mythos-5': true,
  'claude-mythos-5-1': true,
  'claude-mythos-5-2': true,
  'claude-haiku-5-5': true,
};
export const US_ONLY_FACTOR = 1.1;

/** The factor a call that ran in `geo` is billed at over global inference, on an upstream model name. */
export function inferenceGeoFactor(model: string, geo: string | undefined): number {
  return geo === 'us' && lookupPrice(US_ONLY_PRICED, model) ? US_ONLY_FACTOR : 1;
}

/** The fast-mode factor of an upstream model name: its own, else FAST_FALLBACK_FACTOR. */
export function fastModeFactor(model: string): number {
  return lookupPrice(FAST_FACTORS, model) ?? FAST_FALLBACK_FACTOR;
}

/**
 * Fees per tool call, in USD per 1,000 calls, billed on top of the tokens the tools bring into the context
 * (usage.ts ToolKind). Checked 2026-12-03; no official price page of either provider is in the stores this
 * was checked against, so the figures agree across these secondary sources and should be rechecked on
 * platform.claude.com/docs/en/about-claude/pricing and developers.openai.com/api/docs/pricing:
 *   - web_search $10: Anthropic's web search ("$10 per 1,000 searches", errors not billed; hivebook.wiki,
 *     claudecodeguides.com, clawdemy.org); OpenAI's `web_search` on every model and `web_search_preview`
 *     on reasoning models ("$10 / 1k calls"; community.openai.com/t/search-web-using-openai-api/1363698).
 *   - web_search_preview $25: OpenAI's `web_search_preview` on non-reasoning models (same thread).
 *   - file_search $2.50: OpenAI's file search tool calls (Responses API; "$2.50/1K tool calls").
 * Not per call, so not here: Anthropic's web fetch (tokens only), Anthropic's code execution and OpenAI's
 * code_interpreter (billed by container time, which no response reports), OpenAI's file-search storage.
 */
export const TOOL_CALL_PRICES: Readonly<Record<ToolKind, number>> = {
  web_search: 10,
  web_search_preview: 25,
  file_search: 2.5,
};

// Dated snapshots and aliases share their family's price: `gpt-4o-2024-08-06`, `claude-sonnet-4-20250514`,
// `claude-3-5-haiku-latest`. A snapshot priced unlike its alias gets its own exact entry, which wins.
const SUFFIX = /(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$/;

/** The entry of a model name in a price table: its exact entry first, then its entry without a date suffix. */
export function lookupPrice<T>(table: Readonly<Record<string, T>>, model: string): T | undefined {
  const name = model.toLowerCase();
  // Own keys only: names such as `constructor` must not find Object.prototype's members.
  if (Object.hasOwn(table, name)) return table[name];
  const base = name.replace(SUFFIX, '');
  return base !== name && Object.hasOwn(table, base) ? table[base] : undefined;
}

/** The priority-processing list price of an upstream model name, if the built-in table knows it. */
export function priorityListPrice(model: string): ListPrice | undefined {
  return lookupPrice(PRIORITY_PRICES, model);
}

/** The list price of an upstream model name, if the built-in table knows it. */
export function listPrice(model: string): ListPrice | undefined {
  return lookupPrice(LIST_PRICES, model);
}
