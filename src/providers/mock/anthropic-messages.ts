// POST /v1/messages and /v1/messages/count_tokens in Anthropic's wire format.
import { encodeSseEvent } from '../sse/index.js';
import { estimateInput } from '../../tokens/index.js';
import { jsonReply, sseReply, type MockCall } from './mock-call.js';
import { resolveOutputLength } from './mock-controls.js';
import { anthropicError } from './mock-errors.js';
import { mockId } from './mock-ids.js';
import { mockTokens } from './mock-text.js';
import type { MockReply } from './types.js';

function fieldRequired(call: MockCall, fields: readonly string[]): MockReply | undefined {
  for (const field of fields) {
    const v = call.body[field];
    if (v === undefined || v === null) return anthropicError(400, `${field}: Field required`, call.latencyMs);
  }
  if (typeof call.body.model !== 'string') return anthropicError(400, 'model: Input should be a valid string', call.latencyMs);
  return undefined;
}

function usage(inputTokens: number, outputTokens: number): Record<string, unknown> {
  return {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

/**
 * Anthropic's checks of manual extended thinking: a budget of at least 1024, below max_tokens. (The
 * interleaved-thinking beta lifts the second rule; the mock reads no headers and applies it always.)
 */
function invalidThinking(thinking: unknown, maxTokens: number): string | undefined {
  if (typeof thinking !== 'object' || thinking === null) return undefined;
  const { type, budget_tokens: budget } = thinking as Record<string, unknown>;
  if (type !== 'enabled') return undefined;
  if (typeof budget !== 'number' || budget < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
  if (budget >= maxTokens) {
    return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
  }
  return undefined;
}

/** Answers a Messages API request: a `message` object, or the message_start ... message_stop event stream. */
export function mockAnthropicMessages(call: MockCall): MockReply {
  const invalid = fieldRequired(call, ['model', 'messages', 'max_tokens']);
  if (invalid) return invalid;
  const { body, controls } = call;
  if (typeof body.max_tokens !== 'number' || body.max_tokens < 1) {
    return anthropicError(400, 'max_tokens: Input should be greater than or equal to 1', call.latencyMs);
  }
  const thinkingError = invalidThinking(body.thinking, body.max_tokens);
  if (thinkingError) return anthropicError(400, thinkingError, call.latencyMs);
  const model = body.model as string;
  const len = resolveOutputLength(body, controls, call.opts, ['max_tokens']);
  const stopReason = len.cut ? 'max_tokens' : 'end_turn';
  const inputTokens = estimateInput('messages', body, model).exact();
  const id = mockId('msg_01', 22);
  const pieces = mockTokens(len.tokens);

  if (body.stream === true) {
    const message: Record<string, unknown> = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
    };
    // The real stream reports one output token up front and the cumulative total in message_delta.
    if (!controls.omitUsage) message.usage = usage(inputTokens, 1);
    const delta: Record<string, unknown> = {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
    };
    if (!controls.omitUsage) delta.usage = { output_tokens: len.tokens };
    const frames: string[] = [
      encodeSseEvent({ event: 'message_start', data: JSON.stringify({ type: 'message_start', message }) }),
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: ping\ndata: {"type": "ping"}\n\n',
    ];
    for (const piece of pieces) {
      frames.push(
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":' +
          JSON.stringify(piece) +
          '}}\n\n',
      );
    }
    frames.push(
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      encodeSseEvent({ event: 'message_delta', data: JSON.stringify(delta) }),
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    return sseReply(call, 'anthropic', frames);
  }

  const value: Record<string, unknown> = {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: pieces.join('') }],
    stop_reason: stopReason,
    stop_sequence: null,
  };
  if (!controls.omitUsage) value.usage = usage(inputTokens, len.tokens);
  return jsonReply(call, 'anthropic', value);
}

/** Answers POST /v1/messages/count_tokens with `{"input_tokens": N}`. */
export function mockAnthropicCountTokens(call: MockCall): MockReply {
  const invalid = fieldRequired(call, ['model', 'messages']);
  if (invalid) return invalid;
  const inputTokens = estimateInput('messages', call.body, call.body.model as string).exact();
  return jsonReply(call, 'anthropic', { input_tokens: inputTokens });
}
