// Shapes shared by the mock generators, the HTTP mock upstream and the in-process `mock` provider.

/** How the mock behaves when the request does not say otherwise (see the `mock_*` body fields). */
export interface MockOptions {
  /** Delay before the response starts (time to first byte). */
  latencyMs: number;
  /** Completion length when neither `mock_output_tokens` nor a smaller max_tokens applies. */
  outputTokens: number;
  /** Delay between SSE frames. */
  chunkDelayMs?: number;
  /** Embedding vector length when the request gives no `dimensions` (default 1536). */
  embeddingDimensions?: number;
  /** The tier a call that names none (or `auto`) is served at, as an OpenAI project's default service tier. */
  defaultServiceTier?: 'priority';
}

interface MockReplyBase {
  status: number;
  headers: Record<string, string>;
  /** Wait this long before sending anything. */
  latencyMs: number;
}

/** A complete JSON body. */
export interface MockJsonReply extends MockReplyBase {
  kind: 'json';
  body: string;
}

/** A stream of complete SSE frames (each ends with a blank line), written `chunkDelayMs` apart. */
export interface MockSseReply extends MockReplyBase {
  kind: 'sse';
  frames: string[];
  chunkDelayMs: number;
  /** Drop the connection after this many frames, without ending the stream cleanly. */
  abortAfterFrames?: number;
}

/** What the mock answers; transport-independent so HTTP and in-process callers share it. */
export type MockReply = MockJsonReply | MockSseReply;

/** Which wire format an error or reply uses. */
export type MockFlavor = 'openai' | 'anthropic';
