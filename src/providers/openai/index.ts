// OpenAI and OpenAI-compatible upstreams: the provider, usage and text readers, stream adapters.
export { OpenAIProvider } from './openai-provider.js';
export { findServiceTier, openAIUsage, pricedTier, unpinnedTier } from './openai-usage.js';
export { chunkOutput, responseText } from './openai-text.js';
export { OpenAIChatStream, errorMessage } from './chat-stream.js';
export { EchoedPrompts } from './echoed-prompts.js';
export { legacyPrompts } from './legacy-prompts.js';
export { ResponsesStream } from './responses-stream.js';
export { refusesStreamOptions, unlessStreamOptionsRefused } from './stream-options-refusal.js';
export { refusesMaxTokens, unlessMaxTokensRefused } from './max-tokens-refusal.js';
export { answersInAudio, asksForReasoning, bringsHiddenInput, isAudioModel, fullGrantUsage, predictionText, runsInBackground, withHiddenReasoning } from './unseen-billing.js';
export { billedTools, toolCallBound, toolCallsIn, toolCallsInBody, type BilledTools } from './tool-fees.js';
export { audioSides, sentAudioTokens, withCountedAudio, type AudioSides } from './audio-sides.js';
export { billsCacheWrites, mayWritePromptCache, MIN_CACHED_PROMPT } from './prompt-cache.js';
