// The mock upstream's behaviour when not told otherwise, shared by `createMockUpstream` and the
// `tollgate mock-upstream` flags. Its own file so that the CLI reads it without loading the server.

/** Delay before each response starts. */
export const DEFAULT_MOCK_LATENCY_MS = 0;
/** Completion length when the request does not cap it. */
export const DEFAULT_MOCK_OUTPUT_TOKENS = 64;
