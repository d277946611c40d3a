// Token estimation for requests and responses. Placeholder API; the real implementation replaces this file.

/** Which wire endpoint a request body belongs to. */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages';

/** A cheap upper bound now, and the exact count on demand (computed once). */
export interface InputEstimate {
  /** Never less than the exact count; cheap to compute. */
  upperBound: number;
  /** The tokenizer's count as the provider would bill it (cached after the first call). */
  exact(): number;
}

/** Estimates the input tokens of a request body for `model`. */
export function estimateInput(_endpoint: Endpoint, body: Record<string, unknown>, _model: string): InputEstimate {
  const n = Buffer.byteLength(JSON.stringify(body));
  return { upperBound: n, exact: () => Math.ceil(n / 4) };
}

/** Counts the tokens of plain text for `model` (used for streamed output without usage). */
export function countTextTokens(text: string, _model: string): number {
  return Math.ceil(Buffer.byteLength(text) / 4);
}
