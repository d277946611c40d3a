import { describe, expect, it } from 'vitest';
import { parseWindowSize } from './window-size.js';

describe('parseWindowSize', () => {
  it.each([
    ['10 seconds', 10_000],
    ['1 second', 1_000],
    ['1 minute', 60_000],
    ['10 minutes', 600_000],
    ['1 hour', 3_600_000],
    ['2 hours', 7_200_000],
    ['1 day', 86_400_000],
    ['1 week', 604_800_000],
    ['366 days', 31_622_400_000],
    ['52 weeks', 31_449_600_000],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['  1 Hour ', 3_600_000],
  ])('reads %j as a rolling window', (text, ms) => {
    expect(parseWindowSize(text)).toEqual({ kind: 'duration', ms });
  });

  it('reads one month as a calendar month', () => {
    expect(parseWindowSize('1 month')).toEqual({ kind: 'calendar', unit: 'month' });
    expect(parseWindowSize('1 months')).toEqual({ kind: 'calendar', unit: 'month' });
  });

  it.each(['', 'hour', '0 seconds', '1.5 hours', '10 mins', '2 months', '1 year', '-1 day', '1hr', '10', '367 days', '53 weeks', '999999999 weeks', '99999999999 hours'])('rejects %j', (text) => {
    expect(parseWindowSize(text)).toBeUndefined();
  });
});
