// Checks the few fields the gateway relies on and rewrites the body for upstream; everything else passes untouched.
import type { Endpoint } from '../tokens/index.js';
import { TollgateError } from '../errors/tollgate-error.js';

export type JsonObject = Record<string, unknown>;

/** Throws a 400 naming the first field the gateway cannot work with. */
export function validateBody(endpoint: Endpoint, body: unknown): asserts body is JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('The request body must be a JSON object.');
  }
  const b = body as JsonObject;
  if (typeof b.model !== 'string' || b.model.length === 0) throw invalid("'model' is required and must be a non-empty string.", 'model');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw invalid("'stream' must be a boolean.", 'stream');
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const v = b[field];
    if (v !== undefined && v !== null && (!Number.isInteger(v) || (v as number) < 1)) throw invalid(`'${field}' must be a positive integer.`, field);
  }
  switch (endpoint) {
    case 'chat':
      if (!Array.isArray(b.messages) || b.messages.length === 0) throw invalid("'messages' is required and must be a non-empty array.", 'messages');
      for (const [i, m] of b.messages.entries()) {
        if (typeof m !== 'object' || m === null || typeof (m as JsonObject).role !== 'string') {
          throw invalid(`'messages[${i}]' must be an object with a string 'role'.`, `messages[${i}]`);
        }
      }
      break;
    case 'completions':
      if (b.prompt === undefined || b.prompt === null) throw invalid("'prompt' is required.", 'prompt');
      break;
    case 'embeddings':
      if (b.input === undefined || b.input === null) throw invalid("'input' is required.", 'input');
      break;
    default:
      break;
  }
}

function invalid(detail: string, param?: string): TollgateError {
  const err = new TollgateError('invalid_request', { detail });
  return param ? Object.assign(err, { param }) : err;
}

/** The output limit the client asked for: the smaller of max_tokens and max_completion_tokens. */
export function requestedOutput(body: JsonObject): number | undefined {
  const a = typeof body.max_tokens === 'number' ? body.max_tokens : undefined;
  const b = typeof body.max_completion_tokens === 'number' ? body.max_completion_tokens : undefined;
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

// o-series and gpt-5 models refuse `max_tokens`; everything else OpenAI-compatible understands it.
const COMPLETION_TOKENS_MODELS = /^(o\d|gpt-5)/;

/** Sets the output limit upstream: on the fields the client sent, or on the one the model understands. */
export function applyOutputLimit(body: JsonObject, endpoint: Endpoint, output: number, upstreamModel: string): void {
  if (endpoint === 'completions') {
    body.max_tokens = output;
    return;
  }
  const hasMax = typeof body.max_tokens === 'number';
  const hasCompletion = typeof body.max_completion_tokens === 'number';
  if (hasMax) body.max_tokens = output;
  if (hasCompletion) body.max_completion_tokens = output;
  if (!hasMax && !hasCompletion) {
    if (COMPLETION_TOKENS_MODELS.test(upstreamModel)) body.max_completion_tokens = output;
    else body.max_tokens = output;
  }
}
