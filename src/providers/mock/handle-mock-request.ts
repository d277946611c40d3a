// Routes one request to its endpoint generator; shared by the HTTP mock upstream and the in-process mock provider.
import { refusedByApiVersion } from './anthropic-sampling.js';
import { mockAnthropicCountTokens, mockAnthropicMessages } from './anthropic-messages.js';
import { mockAnthropicListModels, mockAnthropicRetrieveModel } from './anthropic-models.js';
import type { MockCall } from './mock-call.js';
import { readMockControls } from './mock-controls.js';
import { defaultErrorMessage, echoedCredentials, flavorOfPath, mockErrorReply, openAiError } from './mock-errors.js';
import { mockChatCompletion } from './openai-chat.js';
import { mockCompletion } from './openai-completions.js';
import { mockEmbeddings } from './openai-embeddings.js';
import { mockListModels, mockRetrieveModel } from './openai-models.js';
import { mockResponses } from './openai-responses.js';
import type { MockOptions, MockReply } from './types.js';

const POST_ROUTES: Record<string, (call: MockCall) => MockReply> = {
  '/v1/chat/completions': mockChatCompletion,
  '/v1/completions': mockCompletion,
  '/v1/embeddings': mockEmbeddings,
  '/v1/responses': mockResponses,
  '/v1/messages': mockAnthropicMessages,
  '/v1/messages/count_tokens': mockAnthropicCountTokens,
};

const MODEL_PREFIX = '/v1/models/';

/** The path without its query string or a trailing slash. */
export function normalizeMockPath(path: string): string {
  const q = path.indexOf('?');
  let p = q === -1 ? path : path.slice(0, q);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

function queryOf(path: string): URLSearchParams {
  const q = path.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : path.slice(q + 1));
}

/** A path segment decoded, or as it came when it is not valid percent-encoding. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function notFound(method: string, path: string, latencyMs: number): MockReply {
  // OpenAI answers unknown routes (or a known route with the wrong method) like this.
  if (flavorOfPath(path) === 'anthropic') return mockErrorReply('anthropic', 404, 'Not Found', latencyMs);
  return openAiError(404, `Invalid URL (${method} ${path})`, {}, latencyMs);
}

/**
 * Answers `method path` with `body` (parsed JSON, or undefined) as OpenAI or Anthropic would, steered by
 * `mock_*` fields; `headers` are the request's, read to quote its credentials (`mock_echo_credentials`) and for Anthropic's API version.
 */
export function handleMockRequest(method: string, path: string, body: unknown, opts: MockOptions, headers: Record<string, string | string[] | undefined> = {}): MockReply {
  const m = method.toUpperCase();
  const p = normalizeMockPath(path);
  const baseLatency = Math.max(0, opts.latencyMs);
  if (m === 'GET') {
    // The one path both APIs have: Anthropic's SDK always sends `anthropic-version`, OpenAI's never does.
    const anthropic = headers['anthropic-version'] !== undefined;
    if (p === '/v1/models') return anthropic ? mockAnthropicListModels(queryOf(path), baseLatency) : mockListModels(baseLatency);
    if (p.startsWith(MODEL_PREFIX) && p.length > MODEL_PREFIX.length) {
      const id = safeDecode(p.slice(MODEL_PREFIX.length));
      return anthropic ? mockAnthropicRetrieveModel(id, baseLatency) : mockRetrieveModel(id, baseLatency);
    }
    return notFound(m, p, baseLatency);
  }
  const route = m === 'POST' ? POST_ROUTES[p] : undefined;
  if (route === undefined) return notFound(m, p, baseLatency);
  const flavor = flavorOfPath(p);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return mockErrorReply(flavor, 400, 'The request body must be a JSON object.', baseLatency);
  }
  const record = body as Record<string, unknown>;
  const controls = readMockControls(record);
  const latencyMs = controls.latencyMs ?? baseLatency;
  const errorEcho = controls.echoCredentials ? echoedCredentials(headers) : '';
  if (controls.errorStatus !== undefined) {
    return mockErrorReply(flavor, controls.errorStatus, errorEcho === '' ? undefined : defaultErrorMessage(flavor, controls.errorStatus) + errorEcho, latencyMs);
  }
  // Anthropic's API version decides what a body may hold (anthropic-sampling.ts).
  const refused = flavor === 'anthropic' ? refusedByApiVersion(record, headers['anthropic-version']) : undefined;
  if (refused) return mockErrorReply(flavor, 400, refused, latencyMs);
  const call: MockCall = {
    body: record,
    controls,
    opts,
    latencyMs,
    chunkDelayMs: controls.chunkDelayMs ?? Math.max(0, opts.chunkDelayMs ?? 0),
    errorEcho,
  };
  return route(call);
}
