// The mock LLM: transport-independent generators for OpenAI- and Anthropic-shaped replies.
export { handleMockRequest, normalizeMockPath } from './handle-mock-request.js';
export { MockStoredObjects, touchesStoredObjects } from './stored-objects.js';
export { anthropicError, flavorOfPath, mockErrorReply, openAiError } from './mock-errors.js';
export type { OpenAiErrorDetail } from './mock-errors.js';
export { readMockControls, resolveOutputLength } from './mock-controls.js';
export type { MockControls, OutputLength } from './mock-controls.js';
export { MOCK_WORDS, mockTokens } from './mock-text.js';
export { MOCK_MODELS } from './openai-models.js';
export { DEFAULT_EMBEDDING_DIMENSIONS, mockEmbeddingVector } from './openai-embeddings.js';
export type { MockFlavor, MockJsonReply, MockOptions, MockReply, MockSseReply } from './types.js';
