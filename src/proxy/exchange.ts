// One call's mapping between what the client speaks and what the upstream speaks: a native pass-through
// (OpenAI → OpenAI, Anthropic → Anthropic) or a translation (OpenAI chat → Anthropic Messages). The
// pipeline (pipeline.ts) is the same for all of them; everything wire-specific is behind this interface.
import { TollgateError } from '../errors/tollgate-error.js';
import type { OutputWording } from '../limits/refusal-error.js';
import type { Provider, UpstreamEndpoint } from '../providers/provider.js';
import type { StreamAdapter } from '../providers/stream-adapter.js';
import type { JsonObject, ToolCalls, Usage } from '../providers/usage.js';
import type { Endpoint } from '../tokens/index.js';
import type { OutputText } from '../tokens/choice-counter.js';
import type { Target } from '../routing/route-table.js';
import { anthropicExchange } from './anthropic-exchange.js';
import type { FallbackAttempt } from './anthropic-fallbacks.js';
import { chatToAnthropicExchange } from './chat-to-anthropic-exchange.js';
import { openAIExchange } from './openai-exchange.js';

/** The client body after the upstream answered without streaming. */
export interface ClientBody {
  body: Buffer | string;
  /** What the provider reported; undefined when it reported nothing (the pipeline counts `text`). */
  usage?: Usage;
  /** The generated text (each choice's, when several), for counting when no usage was reported. */
  text: () => OutputText;
}

export interface Exchange {
  /** The upstream operation called. */
  readonly upstream: UpstreamEndpoint;
  /** The body (and its endpoint) the input estimate is taken from: what the upstream will bill. */
  readonly estimateOn: { endpoint: Endpoint; body: JsonObject };
  /** Client headers to forward (API version and beta flags, never credentials). */
  readonly forwardHeaders?: Record<string, string>;
  /** The most calls billed per call (web and file searches) the upstream call may make, for money limits; none when it offers no such tool. */
  readonly toolCallBound?: ToolCalls;
  /**
   * The output allowance to reserve: the client's (all choices together), or the default scaled likewise;
   * `least` is the smallest grant the upstream can be held to (one token per choice; the Responses API's
   * floor of 16 when the answer is not streamed and so cannot be cut; extended thinking's 1,024-token
   * budget plus one). A clamp never goes below it. `forEach` is the grant that gives every choice `n`
   * tokens (`enforcement.min_output_tokens` is a floor per choice); `n` itself when omitted.
   */
  allowance(defaultMaxTokens: number): { output: number; fromClient: boolean; least?: number; forEach?: (n: number) => number; wording?: OutputWording };
  /** The cap each choice gets from a granted allowance (the allowance split between `n` choices); the grant when omitted. */
  perChoice?(output: number): number;
  /** The body to send upstream for a granted output allowance. */
  upstreamBody(output: number): JsonObject;
  /**
   * The upstream body has `stream_options` only because the gateway asks for usage (the client sent none): an
   * upstream that refuses the field gets the call once more without it (stream-options-refusal.ts).
   */
  readonly streamOptionsAdded?: boolean;
  /**
   * The upstream body has `max_tokens` only because the gateway caps the call (the client sent no cap): a
   * model that refuses it for `max_completion_tokens` gets the call once more with that (max-tokens-refusal.ts).
   */
  readonly maxTokensAdded?: boolean;
  /** Whether upstreamBody(output) is the client's body unchanged, so the client's bytes can go as they came. */
  unchanged(output: number): boolean;
  /** A fresh adapter for a streamed answer. */
  streamAdapter(): StreamAdapter;
  /** A successful non-streamed upstream body as the client's body. */
  response(raw: Buffer): ClientBody;
  /** An upstream error body (status ≥ 400) as the client's error body, for the gateway's request `requestId`. */
  upstreamError(raw: Buffer, requestId: string): Buffer | string;
  /** Model attempts the upstream may bill, each for the whole input (Anthropic's server-side fallback); 1 when omitted. */
  readonly attempts?: number;
  /**
   * The most a call the provider had and never answered may be billed, when that is not `input` and `output`
   * at the requested model (Anthropic's server-side fallback: every attempt its input and its share of the
   * `output` grant, each at its own model's price; the requested model's alone undercharged a dearer fallback).
   */
  unfinishedUsage?(input: number, output: number): Usage;
  /** The ledger's `fallback` for a call another model served (Anthropic's server-side fallback), else undefined. */
  fallbackTaken?(usage: Usage): string | undefined;
}

/** Which wire format the client speaks on an endpoint. */
export type ClientWire = 'openai' | 'anthropic';

/** The client's wire format for a request path: Anthropic's API lives under /v1/messages. */
export function wireOfUrl(url: string): ClientWire {
  return url === '/v1/messages' || url.startsWith('/v1/messages/') || url.startsWith('/v1/messages?') ? 'anthropic' : 'openai';
}

// The endpoints only OpenAI's API has: a client there speaks OpenAI whatever headers it sends.
const OPENAI_ONLY = /^\/v1\/(chat\/completions|completions|embeddings|responses|conversations)(\/|\?|$)/;

/**
 * The client's wire format for a request: by its path, and on the other `/v1/` paths (`/v1/models`,
 * which both APIs have, and the ones the gateway does not serve, such as `/v1/files`) Anthropic's for a
 * client that sends `anthropic-version`, as the Anthropic SDK always does.
 */
export function wireOfRequest(req: { url: string; headers: Record<string, unknown> }): ClientWire {
  if (req.headers['anthropic-version'] !== undefined && req.url.startsWith('/v1/') && !OPENAI_ONLY.test(req.url)) return 'anthropic';
  return wireOfUrl(req.url);
}

/** The client's wire format for a gateway endpoint. */
export function clientWire(endpoint: Endpoint): ClientWire {
  return endpoint === 'messages' ? 'anthropic' : 'openai';
}

export interface ExchangeInput {
  endpoint: Endpoint;
  body: JsonObject;
  upstreamModel: string;
  provider: Provider;
  /** The model as the client named it, for error messages. */
  model: string;
  /** The client's request headers (only safe ones are forwarded). */
  headers: Record<string, string | string[] | undefined>;
  /** The route model the request addresses. */
  target?: Target;
  /** Anthropic's server-side fallback: the `fallbacks` entries, resolved against the key's routes. */
  fallbacks?: FallbackAttempt[];
}

/** Whether `provider`'s models are served on `endpoint`: its own API's, or chat completions translated to Anthropic's. */
export function servesEndpoint(provider: Provider, endpoint: Endpoint): boolean {
  return provider.supports(endpoint) || (endpoint === 'chat' && provider.supports('messages'));
}

/** Chooses how this call reaches its provider, or throws the 400 that says it cannot. */
export function planExchange(input: ExchangeInput): Exchange {
  const { endpoint, provider } = input;
  if (!servesEndpoint(provider, endpoint)) throw endpointNotSupported(endpoint, input.model, provider);
  if (!provider.supports(endpoint)) return chatToAnthropicExchange(input);
  return endpoint === 'messages' ? anthropicExchange(input) : openAIExchange(input);
}

/** The 400 for a model whose provider has no such endpoint, naming the endpoints that serve it. */
export function endpointNotSupported(endpoint: Endpoint, model: string, provider: Provider): TollgateError {
  const path = endpoint === 'chat' ? '/v1/chat/completions' : `/v1/${endpoint}`;
  const detail = provider.supports('messages')
    ? 'Anthropic models are served on /v1/messages and /v1/chat/completions.'
    : 'Models of OpenAI-format providers are served on the /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/responses endpoints.';
  return new TollgateError('endpoint_not_supported', { model, provider: provider.name, path, detail });
}
