// Reading token usage from OpenAI-format bodies, stream chunks and Responses API events.
import type { JsonObject, Usage } from '../usage.js';

/** Usage from an OpenAI `usage` object (chat, completions, embeddings or Responses), or undefined when absent or malformed. */
export function openAIUsage(usage: unknown): Usage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as JsonObject;
  const input = u.prompt_tokens ?? u.input_tokens;
  if (typeof input !== 'number') return undefined;
  const output = typeof u.completion_tokens === 'number' ? u.completion_tokens : typeof u.output_tokens === 'number' ? u.output_tokens : 0;
  const details = (u.prompt_tokens_details ?? u.input_tokens_details) as JsonObject | undefined;
  const cached = typeof details?.cached_tokens === 'number' ? details.cached_tokens : 0;
  return { input, output, cachedInput: cached, source: 'provider' };
}
