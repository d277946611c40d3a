import { describe, expect, it } from 'vitest';
import { impossibleDate } from './calendar-date.js';

describe('impossibleDate', () => {
  it.each(['2026-11-30', '2024-02-29', '2026-12-31', '2026-01-01T10:00:00Z', '7d', 'today', 'not a date'])('accepts %s', (text) => {
    expect(impossibleDate(text)).toBeUndefined();
  });

  it('names the month or day that does not exist, dates with a time included', () => {
    expect(impossibleDate('2026-11-31')).toBe('there is no day 31 in November 2026 (it has 30 days)');
    expect(impossibleDate('2026-02-29T12:00:00Z')).toBe('there is no day 29 in February 2026 (it has 28 days)');
    expect(impossibleDate('2026-13-45')).toBe('there is no month 13');
    expect(impossibleDate('2026-00-10')).toBe('there is no month 00');
    expect(impossibleDate('2026-05-00')).toBe('there is no day 00 in May 2026 (it has 31 days)');
  });
});
