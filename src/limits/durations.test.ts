// The reset durations of the x-ratelimit-reset-* headers, in OpenAI's (Go's) format: a client that waits
// for them must not wake before the limit has room, so they never read earlier than the reset.
import { describe, expect, it } from 'vitest';
import { formatHumanDuration, formatResetHeader } from './durations.js';

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

describe('formatHumanDuration', () => {
  it('writes seconds, minutes and seconds, hours and minutes, days and hours', () => {
    expect(formatHumanDuration(0)).toBe('1s');
    expect(formatHumanDuration(45_000)).toBe('45s');
    expect(formatHumanDuration(725_000)).toBe('12m 5s');
    expect(formatHumanDuration(3 * 3_600_000 + 12 * 60_000)).toBe('3h 12m');
    expect(formatHumanDuration(52 * 3_600_000)).toBe('2d 4h');
  });

  it('rounds up to the last unit shown, never down', () => {
    expect(formatHumanDuration(3 * 3_600_000 + 12 * 60_000 + 40_000)).toBe('3h 13m'); // was "3h 12m"
    expect(formatHumanDuration(3_599_500)).toBe('1h 0m'); // 3,600 s once rounded up
    expect(formatHumanDuration(2 * 3_600_000 - 1)).toBe('2h 0m'); // was "1h 59m"
    expect(formatHumanDuration(52 * 3_600_000 + 1)).toBe('2d 5h'); // was "2d 4h"
    expect(formatHumanDuration(48 * 3_600_000 - 30_000)).toBe('2d 0h'); // 47h 59m 30s: was "47h 59m"
  });
});
