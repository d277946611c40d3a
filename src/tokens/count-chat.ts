// Chat Completions input: the cookbook rule (per message, per name, reply priming) plus tools and schemas.
import { content, forcedTool, isRecord, outputSchema, toolCall, toolDefinitions } from './content-parts.js';
import type { Meter } from './meter.js';

function message(msg: unknown, m: Meter): number {
  const p = m.profile;
  if (!isRecord(msg)) return p.perMessage + m.any(msg);
  let n = p.perMessage + m.any(msg.role) + content(msg.content, m);
  if (msg.name !== undefined && msg.name !== null) n += p.perName + m.any(msg.name);
  if (Array.isArray(msg.tool_calls)) for (const call of msg.tool_calls) n += toolCall(call, m);
  else n += m.any(msg.tool_calls);
  if (msg.function_call !== undefined && msg.function_call !== null) n += toolCall({ function: msg.function_call }, m);
  if (typeof msg.refusal === 'string') n += m.text(msg.refusal);
  return n;
}

/** Input tokens of a /v1/chat/completions body. */
export function countChat(body: Record<string, unknown>, m: Meter): number {
  let n = m.profile.perRequest;
  const messages = body.messages;
  if (Array.isArray(messages)) for (const msg of messages) n += message(msg, m);
  else n += m.any(messages);
  n += toolDefinitions(body.tools, m) + toolDefinitions(body.functions, m) + forcedTool(body.tool_choice, m) + forcedTool(body.function_call, m);
  return n + outputSchema(body.response_format, m);
}
