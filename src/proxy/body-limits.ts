// The largest request body each endpoint accepts. Unless `server.max_body_bytes` says otherwise (then it
// holds on every endpoint), an endpoint takes what its provider takes, so the gateway never refuses a
// request the provider would have served:
// - Anthropic: 32 MB on the Messages API and token counting ("request_too_large ... The maximum request size
//   is 32 MB for standard API endpoints", docs.anthropic.com/en/api/errors): 32 MiB, which covers it.
// - OpenAI: up to 50 MB of images or files per request, carried base64-encoded (4/3 as large: 66.7 MB),
//   plus the text around them: 80 MiB. An OpenAI-compatible server with a smaller limit answers its own 413.
import type { ClientWire } from './exchange.js';

/** The default limit on `/v1/messages` and `/v1/messages/count_tokens`. */
export const ANTHROPIC_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** The default limit on the OpenAI endpoints. */
export const OPENAI_MAX_BODY_BYTES = 80 * 1024 * 1024;

/** The body limit of an endpoint of `wire`: the configured one, else its provider's. */
export function bodyLimitFor(wire: ClientWire, configured: number | undefined): number {
  return configured ?? (wire === 'anthropic' ? ANTHROPIC_MAX_BODY_BYTES : OPENAI_MAX_BODY_BYTES);
}

/** The limit for routes without their own (fastify's default for the app): the largest of any endpoint. */
export function largestBodyLimit(configured: number | undefined): number {
  return configured ?? Math.max(ANTHROPIC_MAX_BODY_BYTES, OPENAI_MAX_BODY_BYTES);
}
