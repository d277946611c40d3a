// Anthropic's usage objects as the gateway settles them. Anthropic reports cache writes and cache reads
// beside `input_tokens`, not inside it; every one of them is input the model read, so all are counted in
// `input`. Cache writes are also reported on their own (and split by TTL when the provider says), since
// they are billed above the base input price.
import { withCacheWrites, withToolCalls, type CacheWriteUsage, type JsonObject, type ToolCalls, type Usage } from '../usage.js';

export type { CacheWriteUsage } from '../usage.js';

/** Input, cached input and output of an Anthropic `usage` object; fields it lacks are undefined. */
export interface AnthropicUsageParts extends CacheWriteUsage {
  input?: number;
  cachedInput?: number;
  output?: number;
  /** Web searches billed per search (`server_tool_use.web_search_requests`); absent when none. */
  toolCalls?: ToolCalls;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Reads the fields present in an Anthropic `usage` object (message, message_start or message_delta). */
export function anthropicUsageParts(usage: unknown): AnthropicUsageParts {
  if (typeof usage !== 'object' || usage === null) return {};
  const u = usage as JsonObject;
  const base = num(u.input_tokens);
  const created = num(u.cache_creation_input_tokens) ?? 0;
  const read = num(u.cache_read_input_tokens) ?? 0;
  const parts: AnthropicUsageParts = {
    input: base === undefined ? undefined : base + created + read,
    cachedInput: base === undefined ? undefined : read,
    output: num(u.output_tokens),
  };
  if (base !== undefined && created > 0) {
    parts.cacheWriteInput = created;
    // `cache_creation` splits the writes by TTL; a 1-hour count it reports is billed at the 1-hour rate.
    const split = typeof u.cache_creation === 'object' && u.cache_creation !== null ? (u.cache_creation as JsonObject) : undefined;
    const oneHour = Math.min(num(split?.ephemeral_1h_input_tokens) ?? 0, created);
    if (oneHour > 0) parts.cacheWrite1hInput = oneHour;
  }
  // Web search is billed per search; web fetch (`web_fetch_requests`) only in tokens.
  const tools = u.server_tool_use;
  const searches = typeof tools === 'object' && tools !== null ? num((tools as JsonObject).web_search_requests) : undefined;
  if (searches !== undefined && searches > 0) parts.toolCalls = { web_search: searches };
  return parts;
}

/** Usage of a complete Anthropic `message`, or undefined when it carries none. */
export function anthropicUsage(usage: unknown): Usage | undefined {
  const p = anthropicUsageParts(usage);
  if (p.input === undefined || p.output === undefined) return undefined;
  return withToolCalls(withCacheWrites<Usage>({ input: p.input, output: p.output, cachedInput: p.cachedInput ?? 0, source: 'provider' }, p), p);
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
