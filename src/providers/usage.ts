// Token usage as the gateway settles it, whichever wire format reported it.

/** Tokens a call really used, and whether the provider said so or the gateway counted. */
export interface Usage {
  /** All input tokens billed, cached ones included. */
  input: number;
  output: number;
  /** Input tokens served from the provider's prompt cache (a subset of input). */
  cachedInput: number;
  source: 'provider' | 'estimated';
}

/** Nothing used: refused, failed or refunded calls. */
export const NO_USAGE: Usage = Object.freeze({ input: 0, output: 0, cachedInput: 0, source: 'provider' });

/** A JSON object as read off the wire. */
export type JsonObject = Record<string, unknown>;

/** Parses a JSON object, or undefined when the text is not one. */
export function parseObject(text: string): JsonObject | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}
