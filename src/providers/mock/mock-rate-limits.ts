// The rate-limit state both APIs put on every answer, not only on a 429 (OpenAI's rate-limit guide, "Rate
// limits in headers"; Anthropic's rate-limit docs, "Response headers"): the key's limits, what this call left
// of them, and when they are whole again. The figures are a usage-tier-1 key's, as the mock's 429s have them
// (OpenAI gpt-4o: 500 requests and 30,000 tokens a minute; Anthropic: 50 requests, 30,000 input and 8,000
// output tokens a minute), each call taken from a full minute. The gateway must keep them from its clients on
// a 200 (they describe its key, not the caller's: provider.ts passableHeaders): here that path runs.
import { formatResetHeader, rfc3339 } from '../../limits/durations.js';

const MINUTE_MS = 60_000;
const OPENAI = { requests: 500, tokens: 30_000 };
const ANTHROPIC = { requests: 50, inputTokens: 30_000, outputTokens: 8_000 };

/** The request's tokens as both APIs estimate them up front: about 4 characters to a token. */
function estimatedInput(body: Record<string, unknown>): number {
  return Math.ceil(JSON.stringify(body).length / 4);
}

/** The call's output cap, under whichever name its endpoint uses (0 when it has none). */
function outputCap(body: Record<string, unknown>): number {
  for (const field of ['max_tokens', 'max_completion_tokens', 'max_output_tokens']) {
    const v = body[field];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  }
  return 0;
}

/** What is left of `limit` after `used`, never below 0. */
const left = (limit: number, used: number): number => Math.max(0, limit - Math.min(used, limit));

/** Milliseconds until `used` of a per-minute `limit` has been replenished. */
const refillMs = (limit: number, used: number): number => (Math.min(used, limit) / limit) * MINUTE_MS;

/**
 * OpenAI's headers on a 200: `openai-processing-ms` (the time before the answer started: the call's latency),
 * `openai-version`, and x-ratelimit-*. A call counts as "the maximum of max_tokens and the estimated number of
 * tokens based on the character count of your request" (the rate-limit guide).
 */
export function openAiSuccessHeaders(body: Record<string, unknown>, latencyMs: number): Record<string, string> {
  const tokens = Math.max(outputCap(body), estimatedInput(body));
  return {
    'openai-processing-ms': String(Math.round(latencyMs)),
    'openai-version': '2020-10-01',
    'x-ratelimit-limit-requests': String(OPENAI.requests),
    'x-ratelimit-limit-tokens': String(OPENAI.tokens),
    'x-ratelimit-remaining-requests': String(left(OPENAI.requests, 1)),
    'x-ratelimit-remaining-tokens': String(left(OPENAI.tokens, tokens)),
    'x-ratelimit-reset-requests': formatResetHeader(refillMs(OPENAI.requests, 1)),
    'x-ratelimit-reset-tokens': formatResetHeader(refillMs(OPENAI.tokens, tokens)),
  };
}

/**
 * Anthropic's anthropic-ratelimit-* on a 200: requests, input and output tokens (output estimated from
 * max_tokens when the call starts, as the rate-limit docs say), and `tokens`, the most restrictive of the two.
 */
export function anthropicSuccessHeaders(body: Record<string, unknown>, nowMs = Date.now()): Record<string, string> {
  const input = { limit: ANTHROPIC.inputTokens, used: estimatedInput(body) };
  const output = { limit: ANTHROPIC.outputTokens, used: outputCap(body) };
  const families: Array<[string, { limit: number; used: number }]> = [
    ['requests', { limit: ANTHROPIC.requests, used: 1 }],
    ['tokens', left(input.limit, input.used) <= left(output.limit, output.used) ? input : output],
    ['input-tokens', input],
    ['output-tokens', output],
  ];
  const headers: Record<string, string> = {};
  for (const [kind, { limit, used }] of families) {
    headers[`anthropic-ratelimit-${kind}-limit`] = String(limit);
    headers[`anthropic-ratelimit-${kind}-remaining`] = String(left(limit, used));
    headers[`anthropic-ratelimit-${kind}-reset`] = rfc3339(nowMs + refillMs(limit, used));
  }
  return headers;
}
