// Formatting of reset times, for headers (OpenAI's "6m0s" style, Anthropic's RFC 3339 times) and for people ("3h 12m").

/** An RFC 3339 time without fractional seconds, rounded up, as Anthropic's reset headers have them: `2026-11-21T12:00:00Z`. */
export function rfc3339(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * OpenAI's `x-ratelimit-reset-*` style (Go's durations): `120ms`, `1.04s`, `6m0s`, `2h3m4s`. Rounded up,
 * never down: a client that waits this long must find the room there.
 */
export function formatResetHeader(ms: number): string {
  if (ms <= 0) return '0s';
  const wholeMs = Math.ceil(ms);
  if (wholeMs < 1000) return `${wholeMs}ms`;
  if (wholeMs < 60_000) return `${wholeMs / 1000}s`;
  const seconds = Math.ceil(wholeMs / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`;
}

/**
 * For messages: `45s`, `12m 5s`, `3h 12m`, `2d 4h`. Rounded up to the last unit shown, as the header is: a
 * person who comes back after 3h 12m 40s must not be told 3h 12m and find the limit still spent.
 */
export function formatHumanDuration(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
  const hours = Math.ceil(minutes / 60);
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
