// The request checks the real OpenAI API applies that a gateway could plausibly get wrong, with its messages.
import { azureUnrecognizedArgument, openAiError } from './mock-errors.js';
import type { MockCall } from './mock-call.js';
import type { MockJsonReply } from './types.js';

function below(call: MockCall, field: string, min: number, got: number): MockJsonReply {
  return openAiError(
    400,
    `Invalid '${field}': integer below minimum value. Expected a value >= ${min}, but got ${got} instead.`,
    { param: field, code: 'integer_below_min_value' },
    call.latencyMs,
  );
}

function above(call: MockCall, field: string, max: number, got: number): MockJsonReply {
  return openAiError(
    400,
    `Invalid '${field}': integer above maximum value. Expected a value <= ${max}, but got ${got} instead.`,
    { param: field, code: 'integer_above_max_value' },
    call.latencyMs,
  );
}

/**
 * OpenAI's 400 for a body field the endpoint does not have (`metadata` on legacy completions and embeddings):
 * any value, null included, since the field itself is unknown.
 */
export function refuseUnknownFields(call: MockCall, fields: readonly string[]): MockJsonReply | undefined {
  const unknown = fields.filter((field) => call.body[field] !== undefined);
  if (unknown.length === 0) return undefined;
  const message = unknown.length === 1 ? `Unrecognized request argument supplied: ${unknown[0]}` : `Unrecognized request arguments supplied: ${unknown.join(', ')}`;
  return openAiError(400, message, {}, call.latencyMs);
}

/** The required fields OpenAI's schema holds to at least one item: chat's `messages`. */
const NON_EMPTY: ReadonlySet<string> = new Set(['messages']);

/**
 * OpenAI's 400 for an empty list where one item at least is needed, e.g. {"message": "Invalid 'messages': empty
 * array. Expected an array with minimum length 1, but got an empty array instead.", "param": "messages", "code":
 * "empty_array"} (quoted from the API in CopilotKit/CopilotKit#529).
 */
function emptyArray(call: MockCall, field: string): MockJsonReply {
  return openAiError(
    400,
    `Invalid '${field}': empty array. Expected an array with minimum length 1, but got an empty array instead.`,
    { param: field, code: 'empty_array' },
    call.latencyMs,
  );
}

/** OpenAI's cap on choices per request. */
const MAX_N = 128;

/**
 * Returns a 400 reply if the body lacks `model` or `required`, has a cap below 1, a bad `n`, or stream_options without
 * stream (or at all, with `mock_refuse_stream_options`), or `max_tokens` with `mock_refuse_max_tokens`.
 */
export function validateOpenAi(call: MockCall, required: string, capFields: readonly string[] = []): MockJsonReply | undefined {
  const { body } = call;
  // An Azure-style server checks the body's fields before anything else.
  if (call.controls.refuseStreamOptions && body.stream_options !== undefined) return azureUnrecognizedArgument('stream_options', call.latencyMs);
  if (call.controls.refuseMaxTokens && body.max_tokens !== undefined && body.max_tokens !== null) {
    return openAiError(
      400,
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      { param: 'max_tokens', code: 'unsupported_parameter' },
      call.latencyMs,
    );
  }
  if (typeof body.model !== 'string' || body.model === '') {
    return openAiError(400, 'you must provide a model parameter', {}, call.latencyMs);
  }
  if (body[required] === undefined || body[required] === null) {
    return openAiError(
      400,
      `Missing required parameter: '${required}'.`,
      { param: required, code: 'missing_required_parameter' },
      call.latencyMs,
    );
  }
  if (NON_EMPTY.has(required) && Array.isArray(body[required]) && (body[required] as unknown[]).length === 0) return emptyArray(call, required);
  for (const field of capFields) {
    const v = body[field];
    if (typeof v === 'number' && v < 1) return below(call, field, 1, v);
  }
  if (body.n !== undefined && body.n !== null) {
    if (typeof body.n !== 'number' || !Number.isInteger(body.n)) {
      return openAiError(400, `Invalid type for 'n': expected an integer, but got ${typeof body.n} instead.`, {
        param: 'n',
        code: 'invalid_type',
      }, call.latencyMs);
    }
    if (body.n < 1) return below(call, 'n', 1, body.n);
    // Also what keeps the mock from building a reply of `n` choices for any n it is sent.
    if (body.n > MAX_N) return above(call, 'n', MAX_N, body.n);
  }
  if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true) {
    return openAiError(
      400,
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      { param: 'stream_options' },
      call.latencyMs,
    );
  }
  return undefined;
}
