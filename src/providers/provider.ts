// What every provider implements: send one request upstream and hand back the response as it arrives.
import type { Endpoint } from '../tokens/index.js';
import type { SecretMask } from './secret-mask.js';

/** An upstream operation: a wire endpoint, or Anthropic's token counter (free, never metered). */
export type UpstreamEndpoint = Endpoint | 'count_tokens';

export interface UpstreamRequest {
  endpoint: UpstreamEndpoint;
  /** Body to send, already rewritten for the upstream (model name, max_tokens, stream_options). */
  body: Record<string, unknown>;
  /** `body` as JSON text, when that is the client's own bytes (nothing needed rewriting): sent as is. */
  text?: string;
  stream: boolean;
  /** Aborts the upstream call when the client of a stream goes away. */
  signal?: AbortSignal;
  requestId: string;
  /** Client headers that are safe to forward (e.g. `anthropic-version`, `anthropic-beta`); never credentials. */
  headers?: Record<string, string>;
}

export interface UpstreamResponse {
  status: number;
  /** Headers safe to pass to the client (hop-by-hop and upstream rate-limit headers removed). */
  headers: Record<string, string>;
  /** The body as it arrives; consumed exactly once. */
  body: AsyncIterable<Uint8Array>;
}

/**
 * A request about a response the provider stored (the Responses API's retrieval endpoints): no body, and
 * nothing to meter. Path and query are the gateway's, built from a checked response id.
 */
export interface RetrievalRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the `/v1` base, e.g. `/responses/resp_123/cancel`. */
  path: string;
  /** The client's query string without its `?` (`stream=true&starting_after=4`), or ''. */
  query: string;
  /** A JSON body, as the client sent it (a conversation's creation or update, items added). */
  body?: string;
  /** Aborts the upstream call when the client goes away (a resumed stream, most of all). */
  signal?: AbortSignal;
  requestId: string;
}

export interface Provider {
  readonly name: string;
  /** The secrets it sends upstream (its key, credential headers): masked in every upstream error relayed to a client. */
  readonly secrets: SecretMask;
  /** Whether the upstream serves this endpoint natively (otherwise the gateway may translate, or refuses). */
  supports(endpoint: UpstreamEndpoint): boolean;
  /**
   * OpenAI-format upstreams: whether streamed chat and completions calls ask for their usage
   * (`stream_options.include_usage`). False when configured so (`stream_usage: false`) or once the upstream
   * refused the field (stream-options-refusal.ts); absent: true.
   */
  readonly streamUsage?: boolean;
  /** Anthropic upstreams: the `anthropic-version` sent when the client names none (what a translated body must fit). */
  readonly anthropicVersion?: string;
  /** The upstream refused `stream_options`: streams stop asking for usage (until a reload rebuilds the provider). */
  refusedStreamOptions?(): void;
  /**
   * OpenAI-format upstreams: whether `model` (as sent upstream) was learnt to refuse `max_tokens` for
   * `max_completion_tokens`, a reasoning model under a name the gateway does not know as one (an Azure
   * deployment's); max-tokens-refusal.ts.
   */
  takesCompletionTokens?(model: string): boolean;
  refusedMaxTokens?(model: string): void;
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** Providers that keep Responses API responses: a retrieval request, with the provider's own key. */
  retrieve?(req: RetrievalRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** Upstream paths of both wire formats, relative to a `/v1` base. */
export const UPSTREAM_PATHS: Record<UpstreamEndpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
  messages: '/messages',
  count_tokens: '/messages/count_tokens',
};

/**
 * Connections per upstream origin. Streams hold a connection for their whole length, so this bounds
 * how many streams one gateway process can run against one provider at once.
 */
export const UPSTREAM_CONNECTIONS = 2048;

// Headers the client may see from upstream. Everything else (hop-by-hop, cookies, the provider's own
// rate-limit headers, which describe the gateway's key rather than the caller's) stays behind.
const PASSED_HEADERS = new Set(['content-type', 'openai-processing-ms', 'openai-version', 'x-request-id', 'request-id', 'anthropic-version']);

// On an upstream error the client retries by these (the official SDKs read all three), so they pass too.
const PASSED_ON_ERROR = new Set(['retry-after', 'retry-after-ms', 'x-should-retry']);

/** The rate-limit headers of OpenAI (`x-ratelimit-*`) and Anthropic (`anthropic-ratelimit-*`). */
export const RATE_LIMIT_HEADER = /^(?:x|anthropic)-ratelimit-/;

/**
 * Keeps only upstream response headers that mean something to the client: retry advice only on a
 * 4xx/5xx, and on a 429 the provider's rate-limit headers, which then describe the limit that refused the call.
 */
export function passableHeaders(raw: Record<string, string | string[] | undefined>, status = 200): Record<string, string> {
  const out: Record<string, string> = {};
  const failed = status >= 400;
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    // The provider's request id (OpenAI's x-request-id, Anthropic's request-id) is renamed: the client's
    // SDK reads the gateway's own under those names.
    if (PASSED_HEADERS.has(name)) out[name === 'x-request-id' || name === 'request-id' ? 'x-upstream-request-id' : name] = String(value);
    else if (failed && PASSED_ON_ERROR.has(name)) out[name] = String(value);
    else if (status === 429 && RATE_LIMIT_HEADER.test(name)) out[name] = String(value);
  }
  return out;
}
