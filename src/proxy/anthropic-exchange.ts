// Anthropic client → Anthropic-format upstream: the body passes through untouched except the model and
// `max_tokens` (lowered when a limit leaves less room) and `metadata` (its tags stay behind); the API version
// and beta headers go along.
import {
  AnthropicMessagesStream,
  FORWARDED_CLIENT_HEADERS,
  MIN_THINKING_OUTPUT,
  THINKING_LEAST,
  anthropicUsage,
  fitThinkingBudget,
  holdsTags,
  messageText,
  thinkingBudgetToKeep,
  upstreamMetadata,
  webSearchBound,
  withAttempts,
  withErrorRequestId,
} from '../providers/anthropic/index.js';
import { parseObject, type JsonObject, type Usage } from '../providers/usage.js';
import { attemptCaps, attemptLeast, fallbackTaken, splitGrant, upstreamFallbacks, upstreamNameOf, type FallbackAttempt } from './anthropic-fallbacks.js';
import { copyBodyFor } from './body-copy.js';
import type { ClientBody, Exchange, ExchangeInput } from './exchange.js';
import { findUsage } from './find-usage.js';

/** The client headers an Anthropic upstream should see. */
export function forwardedAnthropicHeaders(headers: ExchangeInput['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_CLIENT_HEADERS) {
    const v = headers[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** The native exchange for `POST /v1/messages`. */
export function anthropicExchange(input: ExchangeInput): Exchange {
  const { fallbacks, target } = input;
  return fallbacks && fallbacks.length > 0 && target ? withFallbacks(plainExchange(input), input, fallbacks, target) : plainExchange(input);
}

function plainExchange({ body, upstreamModel, headers }: ExchangeInput): Exchange {
  const asked = body.max_tokens as number;
  const forwardHeaders = forwardedAnthropicHeaders(headers);
  // Extended thinking's budget must stay below max_tokens: a clamp lowers it too, and never goes below 1025.
  const budget = thinkingBudgetToKeep(body, asked, forwardHeaders['anthropic-beta']);
  // Tags in `metadata` are the gateway's (tags.ts): Anthropic would refuse the call for them, so only user_id goes on.
  const tags = holdsTags(body.metadata);
  return {
    upstream: 'messages',
    estimateOn: { endpoint: 'messages', body },
    forwardHeaders,
    toolCallBound: webSearchBound(body),
    allowance: () =>
      budget === undefined ? { output: asked, fromClient: true } : { output: asked, fromClient: true, least: MIN_THINKING_OUTPUT, wording: { field: 'max_tokens', least: THINKING_LEAST } },
    upstreamBody(output) {
      const out = copyBodyFor(upstreamModel, body);
      out.max_tokens = output;
      if (budget !== undefined) fitThinkingBudget(out, budget, output);
      if (tags) out.metadata = upstreamMetadata(body.metadata as JsonObject);
      return out;
    },
    unchanged: (output) => upstreamModel === body.model && asked === output && !tags,
    streamAdapter: () => new AnthropicMessagesStream(),
    response(raw): ClientBody {
      const usage = anthropicUsage(findUsage(raw));
      return { body: raw, ...(usage ? { usage } : {}), text: () => textOf(raw) };
    },
    upstreamError: withErrorRequestId,
  };
}

/**
 * `plain` for a request with server-side fallbacks (anthropic-fallbacks.ts): every attempt that runs is
 * billed, its input included, so the output allowance is the attempts' max_tokens together (a clamp lowers
 * them to one ceiling) and the input is reserved once per attempt; each fallback goes upstream as its
 * route's model; the usage prices each attempt at its model and names the one that served.
 */
function withFallbacks(plain: Exchange, { body }: ExchangeInput, fallbacks: FallbackAttempt[], target: NonNullable<ExchangeInput['target']>): Exchange {
  const asked = body.max_tokens as number;
  const caps = attemptCaps(fallbacks, asked);
  const own = plain.allowance(asked);
  const beta = plain.forwardHeaders?.['anthropic-beta'];
  const least = [own.least ?? 1, ...attemptLeast(fallbacks, body, beta)];
  const nameOf = upstreamNameOf(target, fallbacks);
  const split = (output: number): number[] => splitGrant(caps, least, output);
  return {
    ...plain,
    attempts: caps.length,
    allowance: () => ({ output: caps.reduce((a, b) => a + b, 0), fromClient: true, least: least.reduce((a, b) => a + b, 0), wording: own.wording }),
    upstreamBody(output) {
      const granted = split(output);
      const out = plain.upstreamBody(granted[0]!);
      out.fallbacks = upstreamFallbacks(fallbacks, body, caps, granted, beta);
      return out;
    },
    unchanged: () => false,
    // The top-level cap each attempt shares in: the requested model's, as the client reads it.
    perChoice: (output) => split(output)[0]!,
    streamAdapter: () => new AnthropicMessagesStream(nameOf),
    response(raw): ClientBody {
      const usage = anthropicUsage(findUsage(raw), nameOf);
      return { body: raw, ...(usage ? { usage } : {}), text: () => textOf(raw) };
    },
    unfinishedUsage(input, output) {
      const models = [target.model.upstreamModel, ...fallbacks.map((f) => f.target.model.upstreamModel)];
      const attempts = split(output).map((granted, i) => ({ model: models[i]!, input, output: granted, cachedInput: 0 }));
      return withAttempts<Usage>({ input: 0, output: 0, cachedInput: 0, source: 'estimated' }, attempts);
    },
    // Only the provider's usage says which model served: a call charged for every attempt it may have made did not say.
    fallbackTaken: (usage) => (usage.source === 'provider' ? fallbackTaken(usage, fallbacks) : undefined),
  };
}

function textOf(raw: Buffer): string {
  const parsed: JsonObject | undefined = parseObject(raw.toString('utf8'));
  return parsed ? messageText(parsed) : raw.toString('utf8');
}
