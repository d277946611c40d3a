// Anthropic Messages response → OpenAI chat completion, and Anthropic error bodies → OpenAI error bodies.
import type { JsonObject } from '../usage.js';
import { parseObject } from '../usage.js';
import { anthropicUsage } from './anthropic-usage.js';
import { finishReason } from './map-stop-reason.js';

/** The chat `usage` object for Anthropic usage figures (cache reads are OpenAI's cached tokens). */
export function chatUsageOf(input: number, output: number, cachedInput: number): JsonObject {
  return { prompt_tokens: input, completion_tokens: output, total_tokens: input + output, prompt_tokens_details: { cached_tokens: cachedInput } };
}

/** Translates a `message` into a `chat.completion`. */
export function messageToChat(message: JsonObject, createdSeconds = Math.floor(Date.now() / 1000)): JsonObject {
  let text = '';
  const toolCalls: JsonObject[] = [];
  for (const block of Array.isArray(message.content) ? (message.content as JsonObject[]) : []) {
    if (block?.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block?.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const reply: JsonObject = { role: 'assistant', content: text.length > 0 || toolCalls.length === 0 ? text : null, refusal: null };
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  const out: JsonObject = {
    id: message.id,
    object: 'chat.completion',
    created: createdSeconds,
    model: message.model,
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finishReason(message.stop_reason) ?? 'stop' }],
  };
  const usage = anthropicUsage(message.usage);
  if (usage) out.usage = chatUsageOf(usage.input, usage.output, usage.cachedInput);
  return out;
}

/** An Anthropic error body (`{"type":"error","error":{"type","message"}}`) in OpenAI's error format. */
export function anthropicErrorToOpenAI(raw: Buffer): JsonObject {
  const body = parseObject(raw.toString('utf8'));
  const error = body?.error as JsonObject | undefined;
  const message = typeof error?.message === 'string' ? error.message : raw.toString('utf8').slice(0, 500) || 'The upstream provider returned an error.';
  return { error: { message, type: typeof error?.type === 'string' ? error.type : 'upstream_error', param: null, code: null } };
}
