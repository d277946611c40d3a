// Anthropic Messages input: `system`, `messages` of content blocks, `tools`. Claude's tokenizer is not
// public, so for Claude models the meter's profile makes every text leaf a conservative estimate.
import { isRecord, outputSchema } from './content-parts.js';
import type { Meter } from './meter.js';

function source(src: unknown, m: Meter, kind: 'image' | 'document'): number {
  const s = isRecord(src) ? src : {};
  if (kind === 'image') return s.type === 'base64' ? m.image({ base64: s.data }, 'high') : m.image({ url: s.type === 'url' ? s.url : undefined }, 'high');
  if (s.type === 'text') return m.any(s.data);
  if (s.type === 'content') return blocks(s.content, m);
  return m.file(s.type === 'base64' ? s.data : undefined);
}

function block(b: unknown, m: Meter): number {
  if (!isRecord(b)) return m.any(b);
  const p = m.profile;
  switch (b.type) {
    case 'text':
      return m.any(b.text);
    case 'image':
      return source(b.source, m, 'image');
    case 'document':
      return source(b.source, m, 'document') + m.any(b.title) + m.any(b.context);
    case 'tool_use':
    case 'server_tool_use':
      return p.perToolCall + m.any(b.name) + m.any(b.input);
    case 'tool_result':
      return p.perToolCall + blocks(b.content, m);
    case 'thinking':
      return m.any(b.thinking);
    case 'redacted_thinking':
      return m.opaque(b.data);
    case 'search_result':
      return m.any(b.title) + m.any(b.source) + blocks(b.content, m);
    default:
      return nestedBlocks(b, m);
  }
}

/**
 * Any other block (a server tool's result, a type newer than this code): its JSON, but an image or a document
 * inside it at any depth is counted by its own rule. As JSON text, a 3-page PDF inside a
 * `web_fetch_tool_result` counted 886 tokens where the same document block counts 13,970 (review s39).
 */
function nestedBlocks(b: Record<string, unknown>, m: Meter): number {
  const media: unknown[] = [];
  const rest = withoutMedia(b, media, 0);
  let n = m.any(rest);
  for (const x of media) n += block(x, m);
  return n;
}

/** `v` with every image or document block below its top level taken out (into `media`), for their own rule. */
function withoutMedia(v: unknown, media: unknown[], depth: number): unknown {
  if (typeof v !== 'object' || v === null || depth > 64) return v;
  if (depth > 0 && isRecord(v) && (v.type === 'image' || v.type === 'document')) {
    media.push(v);
    return null;
  }
  if (Array.isArray(v)) return v.map((x) => withoutMedia(x, media, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = withoutMedia(x, media, depth + 1);
  return out;
}

/** Tokens of a content value: a string or an array of blocks. */
function blocks(c: unknown, m: Meter): number {
  if (!Array.isArray(c)) return m.any(c);
  let n = 0;
  for (const b of c) n += block(b, m);
  return n;
}

/** Tool definitions; provider-defined tools (computer, bash, text editor, ...) also add their documented prompt. */
function tools(list: unknown, m: Meter): number {
  const p = m.profile;
  if (list === undefined || list === null) return 0;
  if (!Array.isArray(list)) return p.toolsBase + m.any(list);
  if (list.length === 0) return 0;
  let n = p.toolsBase;
  for (const t of list) {
    const builtin = isRecord(t) && typeof t.type === 'string' && t.type !== 'custom';
    n += p.perTool + m.any(t) + (builtin ? p.perBuiltinTool : 0);
  }
  return n;
}

/** Input tokens of a /v1/messages body. */
export function countMessages(body: Record<string, unknown>, m: Meter): number {
  const p = m.profile;
  let n = p.perRequest;
  if (body.system !== undefined && body.system !== null) n += p.perMessage + blocks(body.system, m);
  const messages = body.messages;
  if (Array.isArray(messages)) {
    for (const msg of messages) n += p.perMessage + (isRecord(msg) ? m.any(msg.role) + blocks(msg.content, m) : m.any(msg));
  } else n += m.any(messages);
  n += tools(body.tools, m);
  const format = isRecord(body.output_config) ? body.output_config.format : body.output_format;
  return n + outputSchema(format, m);
}
