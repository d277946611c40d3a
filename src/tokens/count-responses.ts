// Responses API input: `instructions`, `input` (a string or a list of items), `tools`, `text.format`.
import { content, forcedTool, isRecord, outputSchema, toolCall, toolDefinitions } from './content-parts.js';
import type { Meter } from './meter.js';

function item(it: unknown, m: Meter): number {
  const p = m.profile;
  if (!isRecord(it)) return p.perMessage + m.any(it);
  switch (it.type) {
    case undefined:
    case 'message':
      return p.perMessage + m.any(it.role) + content(it.content, m);
    case 'function_call':
    case 'custom_tool_call':
      return toolCall(it, m);
    case 'function_call_output':
    case 'custom_tool_call_output':
      return p.perToolCall + content(it.output, m);
    case 'reasoning': {
      let n = m.opaque(it.encrypted_content);
      for (const list of [it.summary, it.content]) if (Array.isArray(list)) n += content(list, m);
      return n;
    }
    case 'computer_call_output': {
      const out = isRecord(it.output) ? it.output : {};
      return p.perToolCall + m.image({ url: out.image_url }, 'high');
    }
    default:
      return p.perMessage + m.any(it);
  }
}

/** Input tokens of a /v1/responses body (see docs/tokens.md for what cannot be known: previous_response_id, tool results). */
export function countResponses(body: Record<string, unknown>, m: Meter): number {
  const p = m.profile;
  let n = p.perRequest;
  if (body.instructions !== undefined && body.instructions !== null) n += p.perMessage + m.text('developer') + m.any(body.instructions);
  const input = body.input;
  if (typeof input === 'string') n += p.perMessage + m.text('user') + m.text(input);
  else if (Array.isArray(input)) for (const it of input) n += item(it, m);
  else n += m.any(input);
  n += toolDefinitions(body.tools, m) + forcedTool(body.tool_choice, m);
  return n + (isRecord(body.text) ? outputSchema(body.text.format, m) : 0);
}
