// Test controls carried in the request body (`mock_*`); the gateway passes unknown fields through untouched,
// so a test can steer the upstream's behaviour through the gateway without any side channel.
import type { MockOptions } from './types.js';

/** The `mock_*` fields of one request, validated. */
export interface MockControls {
  outputTokens?: number;
  latencyMs?: number;
  errorStatus?: number;
  abortAfterChunks?: number;
  omitUsage: boolean;
  chunkDelayMs?: number;
  /** Stream past max_tokens as if the upstream ignored it (to test the gateway's own mid-stream cut). */
  ignoreMaxTokens: boolean;
  /** After this many frames, send the provider's in-stream error event (a failure after the 200) and end. */
  errorEventAfterChunks?: number;
  /**
   * Quote the request's `Authorization` / `x-api-key` in the error messages (`mock_error_status`, the
   * in-stream error event), as a misbehaving OpenAI-compatible server might: for testing that the
   * gateway never shows a client its provider key.
   */
  echoCredentials: boolean;
  /**
   * Input tokens read from the prompt cache: Anthropic's `cache_read_input_tokens`, carved out of the prompt's
   * count; OpenAI's `cached_tokens`, a part of it.
   */
  cacheReadTokens?: number;
  /**
   * Input tokens written to the prompt cache: Anthropic's with the 5-minute TTL (in `cache_creation_input_tokens`);
   * OpenAI's `cache_write_tokens` (a part of the prompt; by default a GPT-5.6 call writes a prompt of 1,024 tokens or more).
   */
  cacheWriteTokens?: number;
  /** Anthropic: input tokens written to the prompt cache with the 1-hour TTL (`cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** Anthropic: thinking tokens generated when the request enables extended thinking (default 16, within its budget). */
  thinkingTokens?: number;
  /** Anthropic: answer with a call of the request's first tool after the text, as `tool_choice: auto` may (forced choices always call one). */
  toolUse: boolean;
  /** Anthropic: the models (as sent upstream) that decline the request (`stop_reason: "refusal"`), for server-side fallback. */
  refuseModels?: string[];
  /** OpenAI: refuse a request that has `stream_options` with the 400 of Azure OpenAI before api-version 2024-06-01. */
  refuseStreamOptions: boolean;
  /** OpenAI: refuse `max_tokens` as a reasoning model does (o-series, gpt-5), whatever the model's name. */
  refuseMaxTokens?: boolean;
}

function nonNegativeInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Reads `mock_output_tokens`, `mock_latency_ms`, `mock_error_status`, `mock_abort_after_chunks`, `mock_omit_usage`,
 * `mock_chunk_delay_ms`, `mock_ignore_max_tokens`, `mock_error_event_after_chunks`, `mock_echo_credentials`, `mock_cache_read_tokens`,
 * `mock_cache_write_tokens` (Anthropic and OpenAI), and Anthropic's `mock_cache_write_1h_tokens`, `mock_thinking_tokens`, `mock_tool_use`, `mock_refuse_models`, and
 * `mock_refuse_stream_options`, `mock_refuse_max_tokens`.
 */
export function readMockControls(body: Record<string, unknown>): MockControls {
  const status = nonNegativeInt(body.mock_error_status);
  return {
    outputTokens: nonNegativeInt(body.mock_output_tokens),
    latencyMs: nonNegativeInt(body.mock_latency_ms),
    errorStatus: status !== undefined && status >= 400 && status <= 599 ? status : undefined,
    abortAfterChunks: nonNegativeInt(body.mock_abort_after_chunks),
    omitUsage: body.mock_omit_usage === true,
    chunkDelayMs: nonNegativeInt(body.mock_chunk_delay_ms),
    ignoreMaxTokens: body.mock_ignore_max_tokens === true,
    errorEventAfterChunks: nonNegativeInt(body.mock_error_event_after_chunks),
    echoCredentials: body.mock_echo_credentials === true,
    cacheReadTokens: nonNegativeInt(body.mock_cache_read_tokens),
    cacheWriteTokens: nonNegativeInt(body.mock_cache_write_tokens),
    cacheWrite1hTokens: nonNegativeInt(body.mock_cache_write_1h_tokens),
    thinkingTokens: nonNegativeInt(body.mock_thinking_tokens),
    toolUse: body.mock_tool_use === true,
    refuseModels: Array.isArray(body.mock_refuse_models) ? body.mock_refuse_models.filter((m): m is string => typeof m === 'string') : undefined,
    refuseStreamOptions: body.mock_refuse_stream_options === true,
    refuseMaxTokens: body.mock_refuse_max_tokens === true,
  };
}

/** The completion length of one choice, and whether a max-tokens cap cut it short. */
export interface OutputLength {
  tokens: number;
  cut: boolean;
}

/** min(the smallest of the given cap fields, mock_output_tokens ?? the default length). */
export function resolveOutputLength(
  body: Record<string, unknown>,
  controls: MockControls,
  opts: MockOptions,
  capFields: readonly string[],
): OutputLength {
  const wanted = controls.outputTokens ?? Math.max(0, Math.floor(opts.outputTokens));
  if (controls.ignoreMaxTokens) return { tokens: wanted, cut: false };
  let cap = Infinity;
  for (const field of capFields) {
    const v = body[field];
    if (typeof v === 'number' && Number.isFinite(v)) cap = Math.min(cap, Math.max(0, Math.floor(v)));
  }
  return cap < wanted ? { tokens: cap, cut: true } : { tokens: wanted, cut: false };
}
