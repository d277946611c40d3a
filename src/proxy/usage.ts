// Usage as the proxy settles and records it (the readers live with each provider's wire format).
export { NO_USAGE, type Usage } from '../providers/usage.js';
export { openAIUsage } from '../providers/openai/openai-usage.js';
export { chunkText, responseText } from '../providers/openai/openai-text.js';
