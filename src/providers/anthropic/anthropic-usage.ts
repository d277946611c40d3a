// Anthropic's usage objects as the gateway settles them. Anthropic reports cache writes and cache reads
// beside `input_tokens`, not inside it; every one of them is input the model read, so all are counted in
// `input`. Cache writes are also reported on their own (and split by TTL when the provider says), since
// they are billed above the base input price.
import { tokenCount, withCacheWrites, withToolCalls, type CacheWriteUsage, type JsonObject, type ToolCalls, type Usage } from '../usage.js';
import { fallbackAttempts, withAttempts, type ModelNames } from './fallback-usage.js';

export type { CacheWriteUsage } from '../usage.js';

/** Input, cached input and output of an Anthropic `usage` object; fields it lacks are undefined. */
export interface AnthropicUsageParts extends CacheWriteUsage {
  input?: number;
  cachedInput?: number;
  output?: number;
  /** Web searches billed per search (`server_tool_use.web_search_requests`); absent when none. */
  toolCalls?: ToolCalls;
  /** `fast` when the call was served in fast mode (`usage.speed`), billed above standard; absent otherwise. */
  serviceTier?: 'fast';
  /** `usage.inference_geo` (US-only inference is billed above global); absent when not reported. */
  inferenceGeo?: string;
}

/**
 * The counts of an Anthropic `usage` object as reported, each undefined when absent or null. In a stream,
 * `message_delta` repeats them as cumulative totals and leaves out (or sends null for) those it does not
 * report: each is taken over field by field, never added (as the SDK's MessageStream does).
 */
export interface AnthropicUsageFields {
  /** `input_tokens`: the input neither read from nor written to the prompt cache. */
  input?: number;
  /** `cache_creation_input_tokens`. */
  cacheWrite?: number;
  /** `cache_read_input_tokens`. */
  cacheRead?: number;
  /** `cache_creation.ephemeral_1h_input_tokens`: the part of the writes with a 1-hour TTL. */
  cacheWrite1h?: number;
  output?: number;
  /** `server_tool_use.web_search_requests`. */
  webSearches?: number;
  /** `speed`: `fast` or `standard`, where fast mode was asked for. */
  speed?: string;
  /** `inference_geo`: where the call ran. */
  geo?: string;
}

/** Reads the counts present in an Anthropic `usage` object (message, message_start or message_delta). */
export function anthropicUsageFields(usage: unknown): AnthropicUsageFields {
  if (typeof usage !== 'object' || usage === null) return {};
  const u = usage as JsonObject;
  const split = typeof u.cache_creation === 'object' && u.cache_creation !== null ? (u.cache_creation as JsonObject) : undefined;
  const tools = typeof u.server_tool_use === 'object' && u.server_tool_use !== null ? (u.server_tool_use as JsonObject) : undefined;
  return {
    input: tokenCount(u.input_tokens),
    cacheWrite: tokenCount(u.cache_creation_input_tokens),
    cacheRead: tokenCount(u.cache_read_input_tokens),
    cacheWrite1h: tokenCount(split?.ephemeral_1h_input_tokens),
    output: tokenCount(u.output_tokens),
    webSearches: tokenCount(tools?.web_search_requests),
    speed: typeof u.speed === 'string' ? u.speed : undefined,
    geo: typeof u.inference_geo === 'string' ? u.inference_geo : undefined,
  };
}

/** `later`'s counts over `earlier`'s, field by field: a stream's message_delta over what came before it. */
export function mergeUsageFields(earlier: AnthropicUsageFields, later: AnthropicUsageFields): AnthropicUsageFields {
  return {
    input: later.input ?? earlier.input,
    cacheWrite: later.cacheWrite ?? earlier.cacheWrite,
    cacheRead: later.cacheRead ?? earlier.cacheRead,
    // A delta's cache writes come without the TTL split: the 1-hour part reported before stays.
    cacheWrite1h: later.cacheWrite1h ?? earlier.cacheWrite1h,
    output: later.output ?? earlier.output,
    webSearches: later.webSearches ?? earlier.webSearches,
    speed: later.speed ?? earlier.speed,
    geo: later.geo ?? earlier.geo,
  };
}

/** Input (cache reads and writes included), cached input, cache writes, output and web searches of the counts. */
export function usagePartsOf(f: AnthropicUsageFields): AnthropicUsageParts {
  const base = f.input;
  const created = f.cacheWrite ?? 0;
  const read = f.cacheRead ?? 0;
  const parts: AnthropicUsageParts = {
    input: base === undefined ? undefined : base + created + read,
    cachedInput: base === undefined ? undefined : read,
    output: f.output,
  };
  if (base !== undefined && created > 0) {
    parts.cacheWriteInput = created;
    // `cache_creation` splits the writes by TTL; a 1-hour count it reports is billed at the 1-hour rate.
    const oneHour = Math.min(f.cacheWrite1h ?? 0, created);
    if (oneHour > 0) parts.cacheWrite1hInput = oneHour;
  }
  // Web search is billed per search; web fetch (`web_fetch_requests`) only in tokens.
  if (f.webSearches !== undefined && f.webSearches > 0) parts.toolCalls = { web_search: f.webSearches };
  if (f.speed === 'fast') parts.serviceTier = 'fast';
  if (f.geo !== undefined) parts.inferenceGeo = f.geo;
  return parts;
}

/** Reads the fields present in an Anthropic `usage` object (message, message_start or message_delta). */
export function anthropicUsageParts(usage: unknown): AnthropicUsageParts {
  return usagePartsOf(anthropicUsageFields(usage));
}

/** Usage of a complete Anthropic `message`, or undefined when it carries none; `nameOf` names fallback attempts' models. */
export function anthropicUsage(usage: unknown, nameOf?: ModelNames): Usage | undefined {
  const p = anthropicUsageParts(usage);
  if (p.input === undefined || p.output === undefined) return undefined;
  const settled = withToolCalls(withCacheWrites<Usage>({ input: p.input, output: p.output, cachedInput: p.cachedInput ?? 0, source: 'provider' }, p), p);
  if (p.serviceTier) settled.serviceTier = p.serviceTier;
  if (p.inferenceGeo !== undefined) settled.inferenceGeo = p.inferenceGeo;
  // A server-side fallback: every model that ran is billed, each at its price (fallback-usage.ts).
  const attempts = fallbackAttempts(usage, nameOf);
  return attempts ? withAttempts(settled, attempts) : settled;
}

/** The generated text of a non-streamed `message`, for counting when it carries no usage. */
export function messageText(message: JsonObject): string {
  let text = '';
  if (!Array.isArray(message.content)) return text;
  for (const block of message.content as JsonObject[]) {
    if (typeof block !== 'object' || block === null) continue;
    if (typeof block.text === 'string') text += block.text;
    if (typeof block.thinking === 'string') text += block.thinking;
    if (block.type === 'tool_use' || block.type === 'server_tool_use') text += String(block.name ?? '') + JSON.stringify(block.input ?? {});
  }
  return text;
}
