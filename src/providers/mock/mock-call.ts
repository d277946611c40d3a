// One validated request as the endpoint generators see it, and the reply builders they share.
import { encodeSseEvent } from '../sse/index.js';
import type { MockControls } from './mock-controls.js';
import { mockRequestId } from './mock-ids.js';
import { anthropicSuccessHeaders, openAiSuccessHeaders } from './mock-rate-limits.js';
import type { PromptCacheCounts } from './openai-prompt-cache.js';
import { unpinnedTier } from '../openai/openai-usage.js';
import type { MockFlavor, MockJsonReply, MockOptions, MockSseReply } from './types.js';

/** A request body with its controls and effective timings resolved. */
export interface MockCall {
  body: Record<string, unknown>;
  controls: MockControls;
  opts: MockOptions;
  latencyMs: number;
  chunkDelayMs: number;
  /** Appended to error messages (`mock_echo_credentials`: the credentials received, quoted); none when omitted. */
  errorEcho?: string;
}

function requestIdHeader(flavor: MockFlavor): string {
  return flavor === 'anthropic' ? 'request-id' : 'x-request-id';
}

/** The headers each API adds to a 200 after its request id: its rate-limit state (mock-rate-limits.ts). */
function successHeaders(call: MockCall, flavor: MockFlavor): Record<string, string> {
  return flavor === 'anthropic' ? anthropicSuccessHeaders(call.body) : openAiSuccessHeaders(call.body, call.latencyMs);
}

/** A 200 JSON reply carrying `value` serialised in its insertion order (the wire order). */
export function jsonReply(call: MockCall, flavor: MockFlavor, value: unknown): MockJsonReply {
  return {
    kind: 'json',
    status: 200,
    headers: { 'content-type': 'application/json', [requestIdHeader(flavor)]: mockRequestId(), ...successHeaders(call, flavor) },
    latencyMs: call.latencyMs,
    body: JSON.stringify(value),
  };
}

/** The in-stream error each API sends when it fails after the 200 (Anthropic: an `error` event), its message followed by `echo`. */
function errorFrameOf(flavor: MockFlavor, echo = ''): string {
  if (flavor === 'anthropic') return encodeSseEvent({ event: 'error', data: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: `Overloaded${echo}` } }) });
  const message = `The server had an error while processing your request. Sorry about that!${echo}`;
  return encodeSseEvent({ data: JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } }) });
}

/**
 * A 200 event-stream reply of pre-built frames, honouring the call's chunk delay, abort and error-event
 * controls; `errorFrame` replaces the flavour's default in-stream error.
 */
export function sseReply(call: MockCall, flavor: MockFlavor, frames: string[], errorFrame?: string): MockSseReply {
  const errorAt = call.controls.errorEventAfterChunks;
  if (errorAt !== undefined && errorAt < frames.length) frames = [...frames.slice(0, errorAt), errorFrame ?? errorFrameOf(flavor, call.errorEcho)];
  const reply: MockSseReply = {
    kind: 'sse',
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      [requestIdHeader(flavor)]: mockRequestId(),
      ...successHeaders(call, flavor),
    },
    latencyMs: call.latencyMs,
    frames,
    chunkDelayMs: call.chunkDelayMs,
  };
  if (call.controls.abortAfterChunks !== undefined) reply.abortAfterFrames = call.controls.abortAfterChunks;
  return reply;
}

/**
 * The chat `usage` object with the detail blocks OpenAI sends today; `audio`: the audio tokens among the
 * prompt's and the completion's; `cache`: the prompt's cache reads and writes (writes reported from GPT-5.6 on).
 */
export function chatUsage(promptTokens: number, completionTokens: number, audio = { input: 0, output: 0 }, cache?: PromptCacheCounts): Record<string, unknown> {
  const cached = cache?.reported ? { cached_tokens: cache.read, cache_write_tokens: cache.written } : { cached_tokens: cache?.read ?? 0 };
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { ...cached, audio_tokens: audio.input },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: audio.output,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** True for a stream request that asked for the trailing usage chunk. */
export function wantsStreamUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options;
  return typeof so === 'object' && so !== null && (so as Record<string, unknown>).include_usage === true;
}

/**
 * The `service_tier` an OpenAI reply reports: the one asked for when it is `priority` or `flex`, as OpenAI
 * serves them; for a call that names none (or `auto`), the project's default (`opts.defaultServiceTier`).
 */
export function servedTier(body: Record<string, unknown>, opts: MockOptions): string {
  if (body.service_tier === 'priority' || body.service_tier === 'flex') return body.service_tier;
  return unpinnedTier(body.service_tier) && opts.defaultServiceTier ? opts.defaultServiceTier : 'default';
}
