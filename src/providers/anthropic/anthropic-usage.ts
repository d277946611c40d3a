// Anthropic's usage objects as the gateway settles them. Anthropic reports cache writes and cache reads
// beside `input_tokens`, not inside it; every one of them is input the model read, so all are counted.
import type { JsonObject, Usage } from '../usage.js';

/** Input, cached input and output of an Anthropic `usage` object; fields it lacks are undefined. */
export interface AnthropicUsageParts {
  input?: number;
  cachedInput?: number;
  output?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Reads the fields present in an Anthropic `usage` object (message, message_start or message_delta). */
export function anthropicUsageParts(usage: unknown): AnthropicUsageParts {
  if (typeof usage !== 'object' || usage === null) return {};
  const u = usage as JsonObject;
  const base = num(u.input_tokens);
  const created = num(u.cache_creation_input_tokens) ?? 0;
  const read = num(u.cache_read_input_tokens) ?? 0;
  return {
    input: base === undefined ? undefined : base + created + read,
    cachedInput: base === undefined ? undefined : read,
    output: num(u.output_tokens),
  };
}

/** Usage of a complete Anthropic `message`, or undefined when it carries none. */
export function anthropicUsage(usage: unknown): Usage | undefined {
  const p = anthropicUsageParts(usage);
  if (p.input === undefined || p.output === undefined) return undefined;
  return { input: p.input, output: p.output, cachedInput: p.cachedInput ?? 0, source: 'provider' };
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
