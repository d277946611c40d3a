// OpenAI chat client → Anthropic upstream: the request, the answer and the stream are translated, so an
// app on the OpenAI SDK moves to Claude by a config change (a route model `anthropic/claude-...`).
import { MessagesToChatStream, anthropicErrorToOpenAI, anthropicUsage, chatToMessages, messageText, messageToChat } from '../providers/anthropic/index.js';
import { parseObject, type JsonObject } from '../providers/usage.js';
import { copyBodyFor } from './body-copy.js';
import type { ClientBody, Exchange, ExchangeInput } from './exchange.js';
import { requestedOutput } from './request-shape.js';

/** The translating exchange for `POST /v1/chat/completions` on an Anthropic model. */
export function chatToAnthropicExchange({ body, upstreamModel }: ExchangeInput): Exchange {
  const asked = requestedOutput(body, 'chat');
  const translated = chatToMessages(body, upstreamModel);
  const clientWantsUsage = (body.stream_options as JsonObject | undefined)?.include_usage === true;
  return {
    upstream: 'messages',
    // Estimated on what Anthropic will bill: the translated body, with Claude's conservative tokenizer.
    estimateOn: { endpoint: 'messages', body: translated },
    allowance: (defaultMax) => ({ output: asked ?? defaultMax, fromClient: asked !== undefined }),
    // Anthropic requires max_tokens, so the allowance is always sent.
    upstreamBody(output) {
      const out = copyBodyFor(upstreamModel, translated);
      out.max_tokens = output;
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
