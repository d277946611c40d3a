// Pieces shared by the OpenAI-shaped walkers: content parts, tool definitions, tool calls, output schemas.
// Every function takes unknown input and never throws: malformed shapes are counted as their JSON.
import type { Meter } from './meter.js';

/** A plain object (not an array, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Tokens of one content part of a Chat Completions or Responses message. */
export function contentPart(part: unknown, m: Meter): number {
  if (!isRecord(part)) return m.any(part);
  switch (part.type) {
    case 'text':
    case 'input_text':
    case 'output_text':
    case 'summary_text':
    case 'reasoning_text':
      return m.any(part.text);
    case 'refusal':
      return m.any(part.refusal);
    case 'image_url': {
      const img = part.image_url;
      return isRecord(img) ? m.image({ url: img.url }, img.detail) : m.image({ url: img }, undefined);
    }
    case 'input_image':
      return m.image({ url: part.image_url }, part.detail);
    case 'input_audio':
      return m.audio(isRecord(part.input_audio) ? part.input_audio.data : undefined);
    case 'file':
      return m.file(isRecord(part.file) ? part.file.file_data : undefined);
    case 'input_file':
      return m.file(part.file_data);
    default:
      return m.any(part);
  }
}

/** Tokens of message content: a string, an array of parts, or nothing. */
export function content(c: unknown, m: Meter): number {
  if (Array.isArray(c)) {
    let n = 0;
    for (const part of c) n += contentPart(part, m);
    return n;
  }
  return m.any(c);
}

/** Tokens of one tool call an assistant made: its name and arguments plus the call framing. */
export function toolCall(call: unknown, m: Meter): number {
  const n = m.profile.perToolCall;
  if (!isRecord(call)) return n + m.any(call);
  const fn = isRecord(call.function) ? call.function : isRecord(call.custom) ? call.custom : call;
  return n + m.any(fn.name) + m.any(fn.arguments ?? fn.input);
}

/** Extra tokens per enum value: OpenAI renders `"a" | "b"` (≈ 3 more tokens per value than JSON's `"a","b"`). */
const PER_ENUM_VALUE = 3;
/**
 * Extra tokens per property of an object schema: each is rendered on a line of its own, `  p0?: any,` (5
 * tokens), where its JSON `"p0":{},` is 4. Fifty untyped properties were counted 26 tokens under the
 * rendering (review s39); a typed property's JSON is longer than its line, so this only adds margin there.
 */
const PER_PROPERTY = 1;
/** A forced tool (`tool_choice` naming one) costs its name and ~4 framing tokens (review s39). */
const FORCED_TOOL = 4;

/** What OpenAI's rendering of a JSON schema takes over its JSON: its enum values and its properties, at any depth. */
function renderingExtra(v: unknown, depth = 0): number {
  if (depth > 64 || typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) n += renderingExtra(x, depth + 1);
    return n;
  }
  for (const [k, x] of Object.entries(v)) {
    if (k === 'enum' && Array.isArray(x)) n += PER_ENUM_VALUE * x.length;
    else if (k === 'properties' && isRecord(x)) n += PER_PROPERTY * Object.keys(x).length;
    n += renderingExtra(x, depth + 1);
  }
  return n;
}

/** Tokens of tool/function definitions: their JSON, what their rendering takes beyond it, and the rendered preamble. */
export function toolDefinitions(tools: unknown, m: Meter): number {
  if (tools === undefined || tools === null) return 0;
  const p = m.profile;
  if (!Array.isArray(tools)) return p.toolsBase + m.any(tools);
  if (tools.length === 0) return 0;
  let n = p.toolsBase;
  for (const t of tools) n += p.perTool + m.any(t) + renderingExtra(t);
  return n;
}

/** Tokens of a `tool_choice` (or legacy `function_call`) that names the tool to call: its name and framing. */
export function forcedTool(choice: unknown, m: Meter): number {
  if (!isRecord(choice)) return 0;
  const fn = isRecord(choice.function) ? choice.function : choice;
  return typeof fn.name === 'string' ? FORCED_TOOL + m.text(fn.name) : 0;
}

/** Tokens of a structured-output format (`response_format`, Responses `text.format`). */
export function outputSchema(format: unknown, m: Meter): number {
  if (format === undefined || format === null) return 0;
  if (isRecord(format) && (format.type === 'text' || format.type === undefined)) return 0;
  return m.profile.schemaBase + m.any(format) + renderingExtra(format);
}
