// Identifiers shaped like the real ones (prefix + base62); not secret, so Math.random is enough and cheap.

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Returns `prefix` followed by `length` random base62 characters. */
export function mockId(prefix: string, length: number): string {
  let s = prefix;
  for (let i = 0; i < length; i++) s += BASE62[Math.floor(Math.random() * 62)];
  return s;
}

/** A request id for the `x-request-id` (OpenAI) or `request-id` (Anthropic) response header. */
export function mockRequestId(): string {
  return mockId('req_', 32);
}

/** Seconds since the epoch, as OpenAI's `created` fields use. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
