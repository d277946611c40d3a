import { describe, expect, it } from 'vitest';
import { parseTime } from './usage-report.js';

const NOW = Date.UTC(2026, 11, 5, 10, 30);

describe('parseTime (tollgate usage --since / --until)', () => {
  it('reads durations ago, calendar words, dates and ISO date-times', () => {
    expect(parseTime('7d', NOW, 'UTC')).toBe(NOW - 7 * 86_400_000);
    expect(parseTime('today', NOW, 'Europe/Paris')).toBe(Date.UTC(2026, 11, 4, 23));
    expect(parseTime('2026-12-01', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1));
    expect(parseTime('2026-12-01T08:15:00Z', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 8, 15));
    expect(parseTime('2026-12-01 08:15+01:00', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 7, 15));
    expect(parseTime('2026-12-01T08:15:00.250Z', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 8, 15, 0, 250));
  });

  // Regression (QA): anything else went to Date.parse, which reads most text as some date.
  it('refuses what is not one of those, instead of guessing a date', () => {
    for (const text of ['Jul 7', '1 2', 'Tue, 01 Dec 2026 10:00:00 GMT', '2026/12/01', 'December 1', '2026-12-01T8:15']) {
      expect(() => parseTime(text, NOW, 'UTC'), text).toThrow(/^cannot read time/);
    }
  });
});
