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

/** Number of values in every `enum` list inside a JSON schema. */
export function enumValues(v: unknown, depth = 0): number {
  if (depth > 64 || typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) n += enumValues(x, depth + 1);
    return n;
  }
  for (const [k, x] of Object.entries(v)) n += (k === 'enum' && Array.isArray(x) ? x.length : 0) + enumValues(x, depth + 1);
  return n;
}

/** Tokens of tool/function definitions: their JSON, enum rendering and the rendered preamble. */
export function toolDefinitions(tools: unknown, m: Meter): number {
  if (tools === undefined || tools === null) return 0;
  const p = m.profile;
  if (!Array.isArray(tools)) return p.toolsBase + m.any(tools);
  if (tools.length === 0) return 0;
  let n = p.toolsBase;
  for (const t of tools) n += p.perTool + m.any(t) + PER_ENUM_VALUE * enumValues(t);
  return n;
}

/** Tokens of a structured-output format (`response_format`, Responses `text.format`). */
export function outputSchema(format: unknown, m: Meter): number {
  if (format === undefined || format === null) return 0;
  if (isRecord(format) && (format.type === 'text' || format.type === undefined)) return 0;
  return m.profile.schemaBase + m.any(format) + PER_ENUM_VALUE * enumValues(format);
}
