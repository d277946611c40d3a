// OpenAI chat request → Anthropic Messages request, so an OpenAI client reaches Claude by a config change.
// Fields both APIs share are mapped; OpenAI-only fields are dropped; fields neither knows pass through
// (so Anthropic-only parameters such as `top_k` or `thinking` can be sent as extra body fields).
// Prompt caching goes along: a `cache_control` on a content part, a tool or a whole message (LiteLLM's
// spelling, which OpenAI SDK users of Claude already write) marks the Anthropic block it becomes; dropped,
// the app would pay full input price on every call where it asked for 0.1x on a cache hit.
import { echoed } from '../../errors/catalogue.js';
import { TollgateError } from '../../errors/tollgate-error.js';
import type { JsonObject } from '../usage.js';

// OpenAI chat fields with no Anthropic counterpart (or mapped below): never forwarded as they are.
const OPENAI_ONLY = new Set([
  'messages', 'model', 'max_tokens', 'max_completion_tokens', 'n', 'stream_options', 'temperature', 'top_p', 'stop', 'tools',
  'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'user', 'response_format', 'frequency_penalty',
  'presence_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'seed', 'service_tier', 'store', 'metadata', 'modalities',
  'audio', 'prediction', 'reasoning_effort', 'web_search_options', 'verbosity', 'prompt_cache_key', 'safety_identifier',
]);

function invalid(detail: string, param: string): TollgateError {
  return Object.assign(new TollgateError('invalid_request', { detail }), { param });
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** How the translated body is sent. */
export interface TranslationOptions {
  /**
   * False under an API version without `temperature` and `top_p` (2026-10-21 on, api-version.ts): an
   * OpenAI app's values stay behind, as OpenAI-only fields do, rather than have every call refused.
   */
  sampling?: boolean;
}

/** Translates a chat body for `model`; `max_tokens` is set by the caller once the output allowance is known. */
export function chatToMessages(body: JsonObject, model: string, options: TranslationOptions = {}): JsonObject {
  if (typeof body.n === 'number' && body.n > 1) throw invalid("Anthropic models answer one choice per request: 'n' must be 1.", 'n');
  // Fields that would otherwise be dropped unread: a wrong type is the client's mistake, as OpenAI says.
  if (body.stop !== undefined && body.stop !== null && typeof body.stop !== 'string' && !isStringArray(body.stop)) throw invalid("'stop' must be a string or an array of strings.", 'stop');
  if (body.tools !== undefined && body.tools !== null && !Array.isArray(body.tools)) throw invalid("'tools' must be an array.", 'tools');
  for (const field of ['temperature', 'top_p'] as const) {
    if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'number') throw invalid(`'${field}' must be a number.`, field);
  }
  // Extra fields go through to Anthropic, but fallback models would run unchecked against the key's models.
  if (body.fallbacks !== undefined && body.fallbacks !== null) throw invalid("'fallbacks' (Anthropic's server-side fallback) is served on /v1/messages only.", 'fallbacks');
  const out: JsonObject = { model };
  const system: JsonObject[] = [];
  out.messages = convertMessages(body.messages as unknown[], system);
  if (system.length > 0) out.system = system;
  const sampling = options.sampling === false ? {} : samplingOf(body);
  if (sampling.temperature !== undefined) out.temperature = Math.min(1, Math.max(0, sampling.temperature)); // OpenAI allows up to 2
  if (sampling.top_p !== undefined) out.top_p = sampling.top_p;
  if (typeof body.stop === 'string') out.stop_sequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length > 0) out.stop_sequences = body.stop;
  if (body.stream === true) out.stream = true;
  const tools = Array.isArray(body.tools) ? body.tools : Array.isArray(body.functions) ? (body.functions as unknown[]).map((f) => ({ type: 'function', function: f })) : undefined;
  if (tools && tools.length > 0) out.tools = tools.map((tool, i) => convertTool(tool, i));
  const choiceField = body.tool_choice !== undefined && body.tool_choice !== null ? 'tool_choice' : 'function_call';
  const choice = convertToolChoice(body[choiceField], choiceField, body.parallel_tool_calls);
  if (choice) out.tool_choice = choice;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  const format = isObject(body.response_format) ? body.response_format : undefined;
  if (format?.type === 'json_schema' && isObject(format.json_schema)) {
    out.output_config = { format: { type: 'json_schema', schema: format.json_schema.schema ?? {} } };
  }
  for (const [k, v] of Object.entries(body)) if (!OPENAI_ONLY.has(k) && !(k in out)) out[k] = v;
  return out;
}

/**
 * `temperature` and `top_p` to send. Claude's newer models (Opus 4.1, Sonnet and Haiku 4.5 on) refuse the
 * two together (a 400: "`temperature` and `top_p` cannot both be specified for this model"), which OpenAI
 * apps often send, one at its default (the Playground's code has `temperature=1, top_p=1`). 1 is either
 * one's default on every model, so when both come, the one at 1 stays behind; two chosen values both go.
 */
function samplingOf(body: JsonObject): { temperature?: number; top_p?: number } {
  const temperature = typeof body.temperature === 'number' ? body.temperature : undefined;
  const topP = typeof body.top_p === 'number' ? body.top_p : undefined;
  if (temperature === undefined || topP === undefined) return { temperature, top_p: topP };
  if (topP === 1) return { temperature };
  if (temperature === 1) return { top_p: topP };
  return { temperature, top_p: topP };
}

function convertMessages(messages: unknown[], system: JsonObject[]): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [i, raw] of messages.entries()) {
    const msg = raw as JsonObject;
    // A message's own cache_control marks its last block: the cache breakpoint is after the whole message.
    const marked = cacheControl(msg, `messages[${i}].cache_control`);
    const mark = (blocks: JsonObject[]): JsonObject[] => {
      if (marked !== undefined && blocks.length > 0) blocks[blocks.length - 1] = { ...blocks[blocks.length - 1], cache_control: marked };
      return blocks;
    };
    switch (msg.role) {
      case 'system':
      case 'developer':
        for (const block of mark(contentBlocks(msg.content, `messages[${i}].content`))) {
          if (block.type !== 'text') throw invalid(`messages[${i}]: a system message may only hold text.`, `messages[${i}].content`);
          system.push(block);
        }
        break;
      case 'user':
        out.push({ role: 'user', content: typeof msg.content === 'string' && marked === undefined ? msg.content : mark(contentBlocks(msg.content, `messages[${i}].content`)) });
        break;
      case 'assistant': {
        const content: JsonObject[] = msg.content === null || msg.content === undefined ? [] : contentBlocks(msg.content, `messages[${i}].content`);
        // An earlier answer that was a refusal (OpenAI's `refusal` field, with no content): what the model said.
        if (content.length === 0 && typeof msg.refusal === 'string' && msg.refusal !== '') content.push({ type: 'text', text: msg.refusal });
        const calls: unknown[] = Array.isArray(msg.tool_calls) ? msg.tool_calls : msg.function_call ? [{ id: `call_${i}`, function: msg.function_call }] : [];
        for (const [j, call] of calls.entries()) {
          if (!isObject(call) || (call.function !== undefined && !isObject(call.function))) {
            throw invalid(`messages[${i}].tool_calls[${j}] must be an object with a 'function' object.`, `messages[${i}].tool_calls`);
          }
          content.push(toolUse(call, i));
        }
        if (content.length > 0) out.push({ role: 'assistant', content: mark(content) });
        break;
      }
      case 'tool':
      case 'function': {
        const result: JsonObject = {
          type: 'tool_result',
          tool_use_id: String(msg.tool_call_id ?? msg.name ?? ''),
          content: typeof msg.content === 'string' ? msg.content : contentBlocks(msg.content, `messages[${i}].content`),
          ...(marked !== undefined ? { cache_control: marked } : {}),
        };
        // Results of one turn's calls belong in one user message right after the calls.
        const last = out[out.length - 1];
        if (last?.role === 'user' && Array.isArray(last.content) && (last.content as JsonObject[]).every((b) => b.type === 'tool_result')) {
          (last.content as JsonObject[]).push(result);
        } else out.push({ role: 'user', content: [result] });
        break;
      }
      default:
        throw invalid(`messages[${i}]: role '${echoed(msg.role)}' cannot be sent to an Anthropic model.`, `messages[${i}].role`);
    }
  }
  return out;
}

function toolUse(call: JsonObject, i: number): JsonObject {
  const fn = (call.function ?? {}) as JsonObject;
  let input: unknown = {};
  // A string of JSON, as OpenAI takes it (an object is refused there too): not read as no arguments.
  if (fn.arguments !== undefined && fn.arguments !== null && typeof fn.arguments !== 'string') {
    throw invalid(`messages[${i}].tool_calls: the arguments of '${String(fn.name)}' must be a string of JSON.`, `messages[${i}].tool_calls`);
  }
  if (typeof fn.arguments === 'string' && fn.arguments.trim() !== '') {
    try {
      input = JSON.parse(fn.arguments);
    } catch {
      throw invalid(`messages[${i}].tool_calls: the arguments of '${String(fn.name)}' are not valid JSON.`, `messages[${i}].tool_calls`);
    }
  }
  return { type: 'tool_use', id: String(call.id ?? ''), name: String(fn.name ?? ''), input };
}

/** Chat content (a string or parts) as Anthropic content blocks. */
function contentBlocks(content: unknown, param: string): JsonObject[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalid(`${param} must be a string or an array of content parts.`, param);
  return content.map((part: JsonObject, j) => {
    const block = contentBlock(part, param);
    const marked = cacheControl(part, `${param}[${j}].cache_control`);
    return marked === undefined ? block : { ...block, cache_control: marked };
  });
}

/** One chat content part as an Anthropic content block. */
function contentBlock(part: JsonObject, param: string): JsonObject {
  switch (part?.type) {
    case 'text':
      if (typeof part.text !== 'string') throw invalid(`${param}: a text part's 'text' must be a string.`, param);
      return { type: 'text', text: part.text };
    // An assistant's earlier refusal, echoed back in the history: what it said.
    case 'refusal':
      return { type: 'text', text: String(part.refusal ?? '') };
    case 'image_url': {
      // {url, detail} as OpenAI documents it; a bare string URL, as some clients send it, is taken too.
      const url = typeof part.image_url === 'string' ? part.image_url : isObject(part.image_url) ? part.image_url.url : undefined;
      if (typeof url !== 'string' || url === '') throw invalid(`${param}: an image_url part needs 'image_url.url', a URL or a data: URL.`, param);
      const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
      return data ? { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } } : { type: 'image', source: { type: 'url', url } };
    }
    case 'file': {
      const file = (part.file ?? {}) as JsonObject;
      const data = /^data:([^;,]+);base64,(.*)$/s.exec(String(file.file_data ?? ''));
      if (data) return { type: 'document', source: { type: 'base64', media_type: data[1], data: data[2] } };
      throw invalid(`${param}: files must be sent inline (file_data) to reach an Anthropic model.`, param);
    }
    default:
      throw invalid(`${param}: content parts of type '${String(part?.type)}' cannot be sent to an Anthropic model.`, param);
  }
}

/** The `cache_control` an object carries, as Anthropic takes it (an object such as `{type: 'ephemeral', ttl: '1h'}`). */
function cacheControl(holder: unknown, param: string): JsonObject | undefined {
  const value = isObject(holder) ? holder.cache_control : undefined;
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid(`'${param}' must be an object, such as {"type": "ephemeral"}.`, param);
  return value;
}

function convertTool(tool: unknown, i: number): JsonObject {
  const fn = ((tool as JsonObject)?.function ?? {}) as JsonObject;
  const out: JsonObject = { name: String(fn.name ?? '') };
  if (typeof fn.description === 'string') out.description = fn.description;
  if (fn.parameters !== undefined && fn.parameters !== null && !isObject(fn.parameters)) {
    throw invalid(`'tools[${i}].function.parameters' must be an object (a JSON Schema).`, `tools[${i}].function.parameters`);
  }
  out.input_schema = isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} };
  const marked = cacheControl(tool, `tools[${i}].cache_control`);
  if (marked !== undefined) out.cache_control = marked;
  return out;
}

/** `field` is `tool_choice` or the legacy `function_call`, whichever was sent. */
function convertToolChoice(choice: unknown, field: string, parallel: unknown): JsonObject | undefined {
  let out: JsonObject | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required' && field === 'tool_choice') out = { type: 'any' };
  else if (choice === 'none') out = { type: 'none' };
  else if (isObject(choice)) {
    const name = isObject(choice.function) ? choice.function.name : choice.name;
    if (typeof name !== 'string' || name === '') throw invalid(`'${field}' must name a function: {"type": "function", "function": {"name": "..."}}.`, field);
    out = { type: 'tool', name };
  } else if (choice !== undefined && choice !== null) {
    // Dropped, the model would choose freely where the app meant to force (or forbid) a tool call.
    const values = field === 'tool_choice' ? "'none', 'auto', 'required'" : "'none', 'auto'";
    throw invalid(`'${field}' must be one of ${values} or an object naming a function; got ${JSON.stringify(choice).slice(0, 40)}.`, field);
  }
  // Anthropic's `none` choice has no such field (only auto, any and tool have it): with no tool calls
  // allowed, none can run in parallel.
  if (parallel === false && out?.type !== 'none') out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}
