// Error replies in each provider's own wire format, with the status-specific types and headers the
// real APIs use, so the gateway's error mapping is exercised against the real shapes.
import { mockRequestId } from './mock-ids.js';
import type { MockFlavor, MockJsonReply } from './types.js';

/** Optional detail for an OpenAI error object (`{"error":{"message","type","param","code"}}`). */
export interface OpenAiErrorDetail {
  type?: string;
  param?: string | null;
  code?: string | null;
}

const OPENAI_DEFAULTS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Invalid request.', type: 'invalid_request_error', code: null },
  401: {
    message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
    type: 'invalid_request_error',
    code: 'invalid_api_key',
  },
  403: {
    message: 'Country, region, or territory not supported',
    type: 'request_forbidden',
    code: 'unsupported_country_region_territory',
  },
  404: { message: 'The requested resource does not exist.', type: 'invalid_request_error', code: null },
  429: {
    message: 'Rate limit reached for requests. Please try again in 1s.',
    type: 'requests',
    code: 'rate_limit_exceeded',
  },
  500: {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    code: null,
  },
  503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
};

const ANTHROPIC_TYPES: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request.' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  402: { type: 'billing_error', message: 'Your credit balance is too low to access the Anthropic API.' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'Not found' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit.' },
  500: { type: 'api_error', message: 'Internal server error' },
  504: { type: 'timeout_error', message: 'Request timed out' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

/** The wire format a path belongs to: Anthropic's Messages API lives under /v1/messages, everything else is OpenAI's. */
export function flavorOfPath(path: string): MockFlavor {
  return path === '/v1/messages' || path.startsWith('/v1/messages/') ? 'anthropic' : 'openai';
}

function openAiDefaults(status: number): { message: string; type: string; code: string | null } {
  return OPENAI_DEFAULTS[status] ?? (status >= 500 ? OPENAI_DEFAULTS[500]! : OPENAI_DEFAULTS[400]!);
}

function anthropicDefaults(status: number): { type: string; message: string } {
  return ANTHROPIC_TYPES[status] ?? (status >= 500 ? ANTHROPIC_TYPES[500]! : ANTHROPIC_TYPES[400]!);
}

/** The message `flavor`'s API sends with an error of `status`. */
export function defaultErrorMessage(flavor: MockFlavor, status: number): string {
  return flavor === 'anthropic' ? anthropicDefaults(status).message : openAiDefaults(status).message;
}

/**
 * The request's credentials quoted, as a misbehaving server puts them in its error messages
 * (`mock_echo_credentials`): ` (received authorization: Bearer sk-...)`, or '' when it carried none.
 */
export function echoedCredentials(headers: Record<string, string | string[] | undefined>): string {
  const quoted = ['authorization', 'x-api-key'].filter((name) => headers[name] !== undefined).map((name) => `${name}: ${String(headers[name])}`);
  return quoted.length === 0 ? '' : ` (received ${quoted.join(', ')})`;
}

/** Builds an OpenAI-format error reply; type and code default to what OpenAI sends for that status. */
export function openAiError(status: number, message?: string, detail: OpenAiErrorDetail = {}, latencyMs = 0): MockJsonReply {
  const d = openAiDefaults(status);
  const body = {
    error: {
      message: message ?? d.message,
      type: detail.type ?? d.type,
      param: detail.param ?? null,
      code: detail.code !== undefined ? detail.code : d.code,
    },
  };
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': mockRequestId() };
  // OpenAI's 429 says which of its limits ran out, in its rate-limit headers.
  if (status === 429) Object.assign(headers, { 'retry-after': '1', 'x-ratelimit-limit-requests': '500', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1s' });
  return { kind: 'json', status, headers, latencyMs, body: JSON.stringify(body) };
}

/** Builds an Anthropic-format error reply (`{"type":"error","error":{"type","message"},"request_id"}`). */
export function anthropicError(status: number, message?: string, latencyMs = 0): MockJsonReply {
  const d = anthropicDefaults(status);
  // Anthropic's error bodies name the request as its `request-id` header does (ErrorResponse.request_id).
  const requestId = mockRequestId();
  const body = { type: 'error', error: { type: d.type, message: message ?? d.message }, request_id: requestId };
  const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': requestId };
  if (status === 429) {
    const reset = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000).toISOString().replace('.000Z', 'Z');
    Object.assign(headers, { 'retry-after': '1', 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': reset });
  }
  return { kind: 'json', status, headers, latencyMs, body: JSON.stringify(body) };
}

/** An error reply in the format of `flavor`, with that provider's default message for the status. */
export function mockErrorReply(flavor: MockFlavor, status: number, message?: string, latencyMs = 0): MockJsonReply {
  return flavor === 'anthropic' ? anthropicError(status, message, latencyMs) : openAiError(status, message, {}, latencyMs);
}

/**
 * Azure OpenAI's 400 for a body field its api-version does not know, as older api-versions answer
 * `stream_options` (reported in openai/openai-python#1469 and langchain-ai/langchain#23552): Azure's own key
 * order, with `code` first.
 */
export function azureUnrecognizedArgument(field: string, latencyMs = 0): MockJsonReply {
  const body = `{"error":{"code":null,"message":"Unrecognized request argument supplied: ${field}","param":null,"type":"invalid_request_error"}}`;
  return { kind: 'json', status: 400, headers: { 'content-type': 'application/json', 'apim-request-id': crypto.randomUUID() }, latencyMs, body };
}
