// Anthropic `stop_reason` → OpenAI `finish_reason`.

const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** The OpenAI finish reason for an Anthropic stop reason (`stop` for ones it does not know). */
export function finishReason(stopReason: unknown): string | null {
  if (stopReason === null || stopReason === undefined) return null;
  return FINISH[String(stopReason)] ?? 'stop';
}
