// Checks the few fields the gateway relies on and rewrites the body for upstream; everything else passes untouched.
import type { Endpoint } from '../tokens/index.js';
import { invalidRequest } from '../errors/tollgate-error.js';
import type { Provider } from '../providers/provider.js';
import { conversationId } from './stored-context.js';

export type JsonObject = Record<string, unknown>;

/** Throws a 400 naming the first field the gateway cannot work with. */
export function validateBody(endpoint: Endpoint, body: unknown): asserts body is JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object.');
  }
  const b = body as JsonObject;
  if (endpoint === 'messages') validateAnthropicModel(b);
  if (typeof b.model !== 'string' || b.model.length === 0) throw invalidRequest("'model' is required and must be a non-empty string.", 'model');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw invalidRequest("'stream' must be a boolean.", 'stream');
  for (const field of ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const) {
    const v = b[field];
    // Legacy completions take 0 with `echo`: the prompt's logprobs, nothing generated (lm-eval's scoring call).
    if (field === 'max_tokens' && v === 0 && endpoint === 'completions' && b.echo === true) continue;
    if (v !== undefined && v !== null && (!Number.isInteger(v) || (v as number) < 1)) throw invalidRequest(`'${field}' must be a positive integer.`, field);
  }
  if (endpoint === 'chat' || endpoint === 'completions') {
    // The output allowance is reserved per choice: n also bounds what one call can reserve (OpenAI's cap is 128).
    if (b.n !== undefined && b.n !== null && (!Number.isInteger(b.n) || (b.n as number) < 1 || (b.n as number) > 128)) {
      throw invalidRequest("'n' must be a whole number from 1 to 128.", 'n');
    }
    // best_of candidates are generated (and billed) upstream, each with the per-choice max_tokens: it
    // multiplies the reservation as n does. OpenAI's range is 0 to 20.
    const bestOf = b.best_of;
    if (endpoint === 'completions' && bestOf !== undefined && bestOf !== null && (!Number.isInteger(bestOf) || (bestOf as number) < 0 || (bestOf as number) > 20)) {
      throw invalidRequest("'best_of' must be a whole number from 0 to 20.", 'best_of');
    }
    // The gateway adds include_usage to it; anything but an object would be mangled, and OpenAI refuses it.
    const options = b.stream_options;
    if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
      throw invalidRequest("'stream_options' must be an object.", 'stream_options');
    }
    // Read as false and replaced by the gateway's own `true` upstream, a "yes" would pass where OpenAI refuses it.
    const includeUsage = (options as JsonObject | null | undefined)?.include_usage;
    if (includeUsage !== undefined && includeUsage !== null && typeof includeUsage !== 'boolean') {
      throw invalidRequest("'stream_options.include_usage' must be a boolean.", 'stream_options.include_usage');
    }
  }
  switch (endpoint) {
    case 'chat':
      if (!Array.isArray(b.messages) || b.messages.length === 0) throw invalidRequest("'messages' is required and must be a non-empty array.", 'messages');
      for (const [i, m] of b.messages.entries()) {
        if (typeof m !== 'object' || m === null || typeof (m as JsonObject).role !== 'string') {
          throw invalidRequest(`'messages[${i}]' must be an object with a string 'role'.`, `messages[${i}]`);
        }
      }
      break;
    case 'completions':
      if (b.prompt === undefined || b.prompt === null) throw invalidRequest("'prompt' is required.", 'prompt');
      break;
    case 'embeddings':
      if (b.input === undefined || b.input === null) throw invalidRequest("'input' is required.", 'input');
      break;
    case 'messages':
      validateAnthropicMessages(b);
      // Anthropic requires it, and so the gateway does: the same request must work with or without it.
      if (b.max_tokens === undefined || b.max_tokens === null) throw invalidRequest("max_tokens: Field required. Anthropic's Messages API needs 'max_tokens'.", 'max_tokens');
      break;
    case 'responses':
      // Of another type, the ownership checks read them as absent and they went upstream unchecked.
      if (b.previous_response_id !== undefined && b.previous_response_id !== null && (typeof b.previous_response_id !== 'string' || b.previous_response_id === '')) {
        throw invalidRequest("'previous_response_id' must be a response id (a non-empty string).", 'previous_response_id');
      }
      if (b.conversation !== undefined && b.conversation !== null && conversationId(b.conversation) === undefined) {
        throw invalidRequest("'conversation' must be a conversation id, or an object with its 'id'.", 'conversation');
      }
      break;
    default:
      break;
  }
}

/** Throws Anthropic's 400 unless `model` is a non-empty string, in its words (/v1/messages and count_tokens). */
export function validateAnthropicModel(b: JsonObject): asserts b is JsonObject & { model: string } {
  // A model of another type is not "missing": the developer did send one.
  if (b.model !== undefined && b.model !== null && typeof b.model !== 'string') throw invalidRequest('model: Input should be a valid string.', 'model');
  if (typeof b.model !== 'string' || b.model === '') throw invalidRequest('model: Field required.', 'model');
}

/** Throws Anthropic's 400 unless `messages` is a non-empty array of objects with a string role (/v1/messages and count_tokens). */
export function validateAnthropicMessages(b: JsonObject): void {
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw invalidRequest("messages: 'messages' is required and must be a non-empty array.", 'messages');
  for (const [i, m] of b.messages.entries()) {
    if (typeof m !== 'object' || m === null || typeof (m as JsonObject).role !== 'string') {
      throw invalidRequest(`messages.${i}: each message must be an object with a string 'role'.`, `messages.${i}`);
    }
  }
}

/** The output limit the client asked for, per choice: the field(s) its endpoint knows (the smaller if two). */
export function requestedOutput(body: JsonObject, endpoint: Endpoint = 'chat'): number | undefined {
  const num = (field: string): number | undefined => (typeof body[field] === 'number' ? (body[field] as number) : undefined);
  switch (endpoint) {
    case 'embeddings':
      return 0;
    case 'responses':
      return num('max_output_tokens');
    case 'completions':
    case 'messages':
      return num('max_tokens');
    default: {
      const a = num('max_tokens');
      const b = num('max_completion_tokens');
      if (a === undefined) return b;
      if (b === undefined) return a;
      return Math.min(a, b);
    }
  }
}

/** The field a request names its output cap with, as its errors should: chat's `max_completion_tokens` when it sent that alone. */
export function outputCapField(body: JsonObject, endpoint: Endpoint = 'chat'): string {
  if (endpoint === 'responses') return 'max_output_tokens';
  if (endpoint !== 'chat') return 'max_tokens';
  return typeof body.max_tokens !== 'number' && typeof body.max_completion_tokens === 'number' ? 'max_completion_tokens' : 'max_tokens';
}

// OpenAI's reasoning models (o-series, gpt-5) refuse `max_tokens`; everything else OpenAI-compatible understands it.
// A router's vendor prefix (`openai/o3`) is allowed.
const COMPLETION_TOKENS_MODELS = /(?:^|\/)(?:o\d|gpt-5)/;

/**
 * An OpenAI reasoning model: its hidden reasoning tokens count against the output cap, which it takes as
 * `max_completion_tokens`. Known by its name, or learnt from the provider's refusal of `max_tokens`.
 */
export function isReasoningModel(upstreamModel: string, provider?: Pick<Provider, 'takesCompletionTokens'>): boolean {
  return COMPLETION_TOKENS_MODELS.test(upstreamModel) || provider?.takesCompletionTokens?.(upstreamModel) === true;
}

/** The smallest `max_output_tokens` the Responses API accepts. */
export const RESPONSES_MIN_OUTPUT = 16;

/** Sets the output limit upstream: on the fields the client sent, or on the one the model understands. */
export function applyOutputLimit(body: JsonObject, endpoint: Endpoint, output: number, reasoning: boolean): void {
  if (endpoint === 'completions' || endpoint === 'messages') {
    body.max_tokens = output;
    return;
  }
  if (endpoint === 'responses') {
    // The Responses API refuses caps below 16; a smaller grant is only admitted for a stream, which the
    // relay cuts at the grant (openai-exchange.ts `least`).
    body.max_output_tokens = Math.max(RESPONSES_MIN_OUTPUT, output);
    return;
  }
  const hasMax = typeof body.max_tokens === 'number';
  const hasCompletion = typeof body.max_completion_tokens === 'number';
  if (hasMax) body.max_tokens = output;
  if (hasCompletion) body.max_completion_tokens = output;
  if (!hasMax && !hasCompletion) {
    if (reasoning) body.max_completion_tokens = output;
    else body.max_tokens = output;
  }
}
