// Reading token usage from OpenAI-format bodies and stream chunks.
import type { JsonObject } from './request-shape.js';

/** Tokens a call really used, and whether the provider said so or we counted. */
export interface Usage {
  input: number;
  output: number;
  /** Input tokens served from the provider's prompt cache (a subset of input). */
  cachedInput: number;
  source: 'provider' | 'estimated';
}

/** Usage from an OpenAI `usage` object, or undefined when absent or malformed. */
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

/** The generated text of a non-streamed response, for counting when the upstream reports no usage. */
export function responseText(body: JsonObject): string {
  const choices = Array.isArray(body.choices) ? (body.choices as JsonObject[]) : [];
  let text = '';
  for (const c of choices) {
    if (typeof c.text === 'string') text += c.text;
    const message = c.message as JsonObject | undefined;
    if (typeof message?.content === 'string') text += message.content;
    if (Array.isArray(message?.tool_calls)) text += JSON.stringify(message.tool_calls);
  }
  return text;
}

/** The text carried by one streamed chunk (content, legacy text, tool-call arguments). */
export function chunkText(chunk: JsonObject): string {
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return '';
  let text = '';
  for (const c of choices as JsonObject[]) {
    if (typeof c.text === 'string') text += c.text;
    const delta = c.delta as JsonObject | undefined;
    if (!delta) continue;
    if (typeof delta.content === 'string') text += delta.content;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls as JsonObject[]) {
        const fn = call.function as JsonObject | undefined;
        if (typeof fn?.name === 'string') text += fn.name;
        if (typeof fn?.arguments === 'string') text += fn.arguments;
      }
    }
  }
  return text;
}
