// OpenAI chat client → Anthropic upstream: the request, the answer and the stream are translated, so an
// app on the OpenAI SDK moves to Claude by a config change (a route model `anthropic/claude-...`).
import {
  MIN_THINKING_OUTPUT,
  THINKING_LEAST,
  MessagesToChatStream,
  anthropicErrorToOpenAI,
  anthropicUsage,
  chatToMessages,
  fitThinkingBudget,
  messageText,
  messageToChat,
  takesSampling,
  thinkingBudgetToKeep,
  webSearchBound,
} from '../providers/anthropic/index.js';
import { parseObject, type JsonObject } from '../providers/usage.js';
import { forwardedAnthropicHeaders } from './anthropic-exchange.js';
import { copyBodyFor } from './body-copy.js';
import type { ClientBody, Exchange, ExchangeInput } from './exchange.js';
import { outputCapField, requestedOutput } from './request-shape.js';

/** The translating exchange for `POST /v1/chat/completions` on an Anthropic model. */
export function chatToAnthropicExchange({ body, upstreamModel, headers, provider }: ExchangeInput): Exchange {
  const asked = requestedOutput(body, 'chat');
  // An OpenAI SDK sends Anthropic's beta flags as extra headers (extended cache TTL, interleaved thinking).
  const forwardHeaders = forwardedAnthropicHeaders(headers);
  // The version the call goes under: the client's, else the operator's (`providers.<name>.headers`).
  const version = forwardHeaders['anthropic-version'] ?? provider.anthropicVersion;
  const translated = chatToMessages(body, upstreamModel, { sampling: takesSampling(version) });
  const clientWantsUsage = (body.stream_options as JsonObject | undefined)?.include_usage === true;
  // `thinking` sent as an extra field: its budget must stay below the max_tokens the gateway sends (a
  // clamp, or the default when the client named none), and a clamp never goes below 1025.
  const budget = thinkingBudgetToKeep(translated, asked, forwardHeaders['anthropic-beta']);
  return {
    upstream: 'messages',
    forwardHeaders,
    // Estimated on what Anthropic will bill: the translated body, with Claude's conservative tokenizer.
    estimateOn: { endpoint: 'messages', body: translated },
    toolCallBound: webSearchBound(translated),
    allowance: (defaultMax) => {
      const output = asked ?? defaultMax;
      if (budget === undefined) return { output, fromClient: asked !== undefined };
      return { output, fromClient: asked !== undefined, least: MIN_THINKING_OUTPUT, wording: { field: outputCapField(body), least: THINKING_LEAST } };
    },
    // Anthropic requires max_tokens, so the allowance is always sent.
    upstreamBody(output) {
      const out = copyBodyFor(upstreamModel, translated);
      out.max_tokens = output;
      if (budget !== undefined) fitThinkingBudget(out, budget, output);
      return out;
    },
    unchanged: () => false,
    streamAdapter: () => new MessagesToChatStream(clientWantsUsage),
    response(raw): ClientBody {
      const message = parseObject(raw.toString('utf8'));
      if (!message) return { body: raw, text: () => raw.toString('utf8') };
      const usage = anthropicUsage(message.usage);
      return { body: JSON.stringify(messageToChat(message)), ...(usage ? { usage } : {}), text: () => messageText(message) };
    },
    upstreamError: (raw) => JSON.stringify(anthropicErrorToOpenAI(raw)),
  };
}
