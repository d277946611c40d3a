// Anthropic: the native provider, its stream adapters, and the OpenAI chat ↔ Messages translation.
export { AnthropicProvider, DEFAULT_ANTHROPIC_VERSION, FORWARDED_CLIENT_HEADERS } from './anthropic-provider.js';
export { anthropicUsage, anthropicUsageParts, messageText } from './anthropic-usage.js';
export { AnthropicMessagesStream, AnthropicStreamReader } from './messages-stream.js';
export { MessagesToChatStream } from './messages-to-chat-stream.js';
export { chatToMessages } from './chat-to-messages.js';
export { takesSampling } from './api-version.js';
export { withErrorRequestId } from './error-request-id.js';
export { anthropicErrorToOpenAI, chatUsageOf, messageToChat } from './message-to-chat.js';
export { finishReason } from './map-stop-reason.js';
export { fitThinkingBudget, interleavedThinking, MIN_THINKING_OUTPUT, THINKING_LEAST, thinkingBudgetToKeep, thinksUnseen } from './thinking-budget.js';
export { bringsServerToolInput, webSearchBound } from './server-tools.js';
export { attemptMaxTokens, attemptSpeed, attemptThinking, MAX_FALLBACKS, readFallbacks } from './fallback-entries.js';
export { fallbackAttempts, withAttempts } from './fallback-usage.js';
export { holdsTags, upstreamMetadata } from './upstream-metadata.js';
