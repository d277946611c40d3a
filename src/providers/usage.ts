// Token usage as the gateway settles it, whichever wire format reported it.

/**
 * A token count as a provider may report it: a whole number from 0 up to 2^53. Anything else (negative,
 * fractional, a string, 1e20) is no count at all: settled as reported, a negative one gave budget back and
 * a huge one could not be written to the ledger's integer columns, losing the call's row.
 */
export function tokenCount(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Tokens a call really used, and whether the provider said so or the gateway counted. */
export interface Usage {
  /** All input tokens billed, cached ones included. */
  input: number;
  output: number;
  /** Input tokens served from the provider's prompt cache (a subset of input). */
  cachedInput: number;
  /**
   * Input tokens written to the provider's prompt cache (Anthropic), every TTL: a subset of input, billed
   * at the cache-write price. Absent (never undefined-valued) when none were reported, so the objects of
   * providers without cache writes keep one shape.
   */
  cacheWriteInput?: number;
  /** The part of cacheWriteInput written with a 1-hour TTL; absent when none. */
  cacheWrite1hInput?: number;
  /**
   * Input tokens of audio (OpenAI's `prompt_tokens_details.audio_tokens`): a subset of input, billed at
   * the model's audio input price. Absent when none were reported, as the cache writes are.
   */
  audioInput?: number;
  /** Output tokens of audio (`completion_tokens_details.audio_tokens`): a subset of output, billed at the audio output price; absent when none. */
  audioOutput?: number;
  source: 'provider' | 'estimated';
  /** The tier that served the call, when it changes the price; absent otherwise. */
  serviceTier?: PricedTier;
  /** Where Anthropic ran the call (`usage.inference_geo`: `us`, `global`, ...), when it said; `us` is billed above global. */
  inferenceGeo?: string;
  /** Server-side tool calls the provider bills a fee for, per call; absent when none were reported. */
  toolCalls?: ToolCalls;
  /**
   * Anthropic's server-side fallback: each model attempt of the call (declined hops and the one that
   * served), as `usage.iterations` reports them, in order; `input`, `output` and the cache figures above
   * are their sums. Absent when no fallback model ran.
   */
  attempts?: readonly AttemptUsage[];
}

/** One model's part of a call that fell back (upstream model id as the provider names it); priced at that model. */
export interface AttemptUsage extends CacheWriteUsage {
  model: string;
  input: number;
  output: number;
  cachedInput: number;
}

/**
 * A way of serving a call that the provider bills at other rates than standard: OpenAI's `priority` and
 * `flex` service tiers (`service_tier`), Anthropic's fast mode (`usage.speed: "fast"`).
 */
export type PricedTier = 'priority' | 'flex' | 'fast';

/**
 * The kinds of tool call a provider bills per call, named after their price-list lines (list-prices.ts
 * TOOL_CALL_PRICES): `web_search` (Anthropic's web search, OpenAI's `web_search` tool and its
 * `web_search_preview` on reasoning models), `web_search_preview` (OpenAI's `web_search_preview` on other
 * models) and `file_search` (OpenAI).
 */
export type ToolKind = 'web_search' | 'web_search_preview' | 'file_search';
export const TOOL_KINDS: readonly ToolKind[] = ['web_search', 'web_search_preview', 'file_search'];

/**
 * The tool calls a money limit reserves the fees of when a request sets no cap on them (Anthropic's
 * `max_uses`, OpenAI's `max_tool_calls`): a call that makes more is settled at what it made, so past this
 * bound one call can overshoot. A cap in the request makes the reservation exact.
 */
export const DEFAULT_TOOL_CALLS = 10;

/** Billed tool calls by kind; a kind without calls is absent. */
export type ToolCalls = Partial<Record<ToolKind, number>>;

/** Sets on `usage` the tool calls `from` reports, if any; returns `usage`. */
export function withToolCalls<U extends { toolCalls?: ToolCalls }>(usage: U, from: { toolCalls?: ToolCalls }): U {
  if (from.toolCalls) usage.toolCalls = from.toolCalls;
  return usage;
}

/** Cache-write counts as a provider reported them (subsets of input); the price book bills them. */
export type CacheWriteUsage = Pick<Usage, 'cacheWriteInput' | 'cacheWrite1hInput'>;

/** Sets on `usage` the cache writes `from` reports, adding no field for a count it lacks; returns `usage`. */
export function withCacheWrites<U extends CacheWriteUsage>(usage: U, from: CacheWriteUsage): U {
  if (from.cacheWriteInput !== undefined) usage.cacheWriteInput = from.cacheWriteInput;
  if (from.cacheWrite1hInput !== undefined) usage.cacheWrite1hInput = from.cacheWrite1hInput;
  return usage;
}

/** Audio counts as a provider reported them (subsets of input and output); the price book bills them. */
export type AudioUsage = Pick<Usage, 'audioInput' | 'audioOutput'>;

/** Sets on `usage` the audio counts `from` reports, adding no field for a count it lacks; returns `usage`. */
export function withAudio<U extends AudioUsage>(usage: U, from: AudioUsage): U {
  if (from.audioInput !== undefined) usage.audioInput = from.audioInput;
  if (from.audioOutput !== undefined) usage.audioOutput = from.audioOutput;
  return usage;
}

/** Nothing used: refused, failed or refunded calls. */
export const NO_USAGE: Usage = Object.freeze({ input: 0, output: 0, cachedInput: 0, source: 'provider' });

/** A JSON object as read off the wire. */
export type JsonObject = Record<string, unknown>;

/** Parses a JSON object, or undefined when the text is not one. */
export function parseObject(text: string): JsonObject | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}
