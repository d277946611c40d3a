// The reset durations of the x-ratelimit-reset-* headers, in OpenAI's (Go's) format: a client that waits
// for them must not wake before the limit has room, so they never read earlier than the reset.
import { describe, expect, it } from 'vitest';
import { formatResetHeader } from './durations.js';

describe('formatResetHeader', () => {
  it('writes OpenAI’s forms', () => {
    expect(formatResetHeader(0)).toBe('0s');
    expect(formatResetHeader(120)).toBe('120ms');
    expect(formatResetHeader(1500)).toBe('1.5s');
    expect(formatResetHeader(8640)).toBe('8.64s');
    expect(formatResetHeader(360_000)).toBe('6m0s');
    expect(formatResetHeader(7_384_000)).toBe('2h3m4s');
  });

  it('never reads earlier than the reset: no rounding down to a tenth of a second', () => {
    expect(formatResetHeader(1040)).toBe('1.04s'); // was "1s": a client waking at 1 s is refused
    expect(formatResetHeader(31_501)).toBe('31.501s');
    expect(formatResetHeader(59_960)).toBe('59.96s'); // was "60s"
    expect(formatResetHeader(999.4)).toBe('1s');
  });

  it('goes on to minutes at a minute, never "60s"', () => {
    expect(formatResetHeader(59_999.5)).toBe('1m0s');
    expect(formatResetHeader(60_000)).toBe('1m0s');
    expect(formatResetHeader(61_500)).toBe('1m2s');
  });
});
