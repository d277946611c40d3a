// Manual extended thinking (`thinking: {type: "enabled", budget_tokens: N}`) ties two fields together:
// Anthropic requires 1024 <= budget_tokens < max_tokens and answers a 400 ("`max_tokens` must be greater
// than `thinking.budget_tokens`") otherwise; only with interleaved thinking (a beta) may the budget exceed
// max_tokens. So when the gateway lowers max_tokens to the room a limit has left, the budget comes down
// with it, and room below 1025 tokens cannot hold a valid thinking call at all: such a call is refused
// (429) instead of being forwarded to fail.
import type { JsonObject } from '../usage.js';

/** Anthropic's floor for `thinking.budget_tokens`. */
export const MIN_THINKING_BUDGET = 1024;
/** The least `max_tokens` a manual-thinking call can be sent with: the least budget, plus one token of answer. */
export const MIN_THINKING_OUTPUT = MIN_THINKING_BUDGET + 1;
/** Why a manual-thinking call's output cap cannot go lower, and what can: in the gateway's 400s. */
export const THINKING_LEAST = {
  why: `extended thinking needs a budget_tokens of at least ${MIN_THINKING_BUDGET}, below max_tokens`,
  fix: 'turn extended thinking off',
} as const;

/**
 * The budget of a body with manual extended thinking that must stay below `max_tokens`, when the client
 * sent a valid one (at least 1024, below `maxTokens` when the client chose it); undefined otherwise, so a
 * request invalid as sent goes as sent, and the provider says why.
 */
export function thinkingBudgetToKeep(body: JsonObject, maxTokens: number | undefined, beta: string | undefined): number | undefined {
  const thinking = body.thinking;
  if (typeof thinking !== 'object' || thinking === null || Array.isArray(thinking)) return undefined;
  const { type, budget_tokens: budget } = thinking as JsonObject;
  if (type !== 'enabled' || typeof budget !== 'number' || !Number.isInteger(budget) || budget < MIN_THINKING_BUDGET) return undefined;
  if (interleavedThinking(beta)) return undefined;
  if (maxTokens !== undefined && budget >= maxTokens) return undefined;
  return budget;
}

/** Interleaved thinking (an `anthropic-beta` flag): the budget spans the whole turn and may exceed max_tokens. */
export function interleavedThinking(beta: string | undefined): boolean {
  return beta !== undefined && beta.toLowerCase().includes('interleaved-thinking');
}

/** Lowers the thinking budget of `out` (a copy of the client's body) below `maxTokens` when it is not already. */
export function fitThinkingBudget(out: JsonObject, budget: number, maxTokens: number): void {
  if (budget < maxTokens) return;
  // A new object: the client's `thinking` is shared with the body the gateway read.
  out.thinking = { ...(out.thinking as JsonObject), budget_tokens: Math.max(MIN_THINKING_BUDGET, maxTokens - 1) };
}

/**
 * Whether a call thinks (`thinking.type` `enabled` or `adaptive`): its thinking is billed as output in full,
 * but a stream shows at most a summary of it (Claude 4 and later; nothing with `display: "omitted"`, and
 * Claude 3.7's `redacted_thinking` is encrypted), and Anthropic reports the output only at the stream's
 * end. Without that figure (a client that left mid-stream) such a call is charged its whole grant, as an
 * OpenAI reasoning model's is (openai/unseen-billing.ts).
 */
export function thinksUnseen(body: JsonObject): boolean {
  if (thinks(body.thinking)) return true;
  // A server-side fallback attempt may think where the requested model does not (its entry's own `thinking`).
  const fallbacks = body.fallbacks;
  return Array.isArray(fallbacks) && fallbacks.some((entry) => typeof entry === 'object' && entry !== null && thinks((entry as JsonObject).thinking));
}

function thinks(thinking: unknown): boolean {
  if (typeof thinking !== 'object' || thinking === null) return false;
  const type = (thinking as JsonObject).type;
  return type === 'enabled' || type === 'adaptive';
}
