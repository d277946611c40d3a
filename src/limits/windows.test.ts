import { describe, expect, it } from 'vitest';
import { localMidnight, localWallTime, WindowCalculator } from './windows.js';

const DAY = { kind: 'calendar', unit: 'day' } as const;

describe('calendar days in server.timezone', () => {
  it('start at local midnight on either side of a DST change at 02:00 (New York)', () => {
    expect(localMidnight(2026, 3, 8, 'America/New_York')).toBe(Date.UTC(2026, 2, 8, 5)); // EST, the day clocks go forward
    expect(localMidnight(2026, 3, 9, 'America/New_York')).toBe(Date.UTC(2026, 2, 9, 4)); // EDT
    expect(localMidnight(2026, 11, 1, 'America/New_York')).toBe(Date.UTC(2026, 10, 1, 4)); // EDT, the day clocks go back
  });

  // Regression test: where midnight itself is skipped, the day started an hour early, on the previous
  // evening, and at 03:30 UTC the current window was one that had already ended.
  it('start when the gap ends where clocks jump from 23:59:59 to 01:00 (Santiago, Havana)', () => {
    expect(localMidnight(2026, 9, 6, 'America/Santiago')).toBe(Date.UTC(2026, 8, 6, 4));
    expect(localMidnight(2026, 3, 8, 'America/Havana')).toBe(Date.UTC(2026, 2, 8, 5));
    const windows = new WindowCalculator('America/Santiago');
    expect(windows.bounds(DAY, Date.UTC(2026, 8, 6, 3, 30))).toEqual({ startMs: Date.UTC(2026, 8, 5, 4), endMs: Date.UTC(2026, 8, 6, 4) });
    expect(windows.bounds(DAY, Date.UTC(2026, 8, 6, 4, 30))).toEqual({ startMs: Date.UTC(2026, 8, 6, 4), endMs: Date.UTC(2026, 8, 7, 3) });
  });

  it('start at midnight where clocks go back from midnight to 23:00 the evening before (Santiago, April)', () => {
    // 2026-04-05 00:00 -03 becomes 2026-04-04 23:00 -04: the 4th has 25 hours and the 5th starts at 04:00 UTC.
    expect(localMidnight(2026, 4, 5, 'America/Santiago')).toBe(Date.UTC(2026, 3, 5, 4));
    expect(localMidnight(2026, 4, 4, 'America/Santiago')).toBe(Date.UTC(2026, 3, 4, 3));
  });
});

describe('localWallTime (a wall-clock time in server.timezone, for `tollgate usage --since 2026-12-01T08:00`)', () => {
  it('places the time at the offset in force then', () => {
    expect(localWallTime(Date.UTC(2026, 11, 1, 8, 15, 30, 250), 'America/New_York')).toBe(Date.UTC(2026, 11, 1, 13, 15, 30, 250)); // EST
    expect(localWallTime(Date.UTC(2026, 6, 1, 8, 15), 'America/New_York')).toBe(Date.UTC(2026, 6, 1, 12, 15)); // EDT
    expect(localWallTime(Date.UTC(2026, 11, 1, 8, 15), 'Asia/Kolkata')).toBe(Date.UTC(2026, 11, 1, 2, 45));
  });

  it('moves a time a DST gap skips on by the gap, and reads a repeated time as its first occurrence', () => {
    // 2026-03-08 02:00 EST becomes 03:00 EDT: 02:30 does not exist, and is read as 03:30 EDT.
    expect(localWallTime(Date.UTC(2026, 2, 8, 2, 30), 'America/New_York')).toBe(Date.UTC(2026, 2, 8, 7, 30));
    // 2026-11-01 01:30 happens in EDT, then again in EST.
    expect(localWallTime(Date.UTC(2026, 10, 1, 1, 30), 'America/New_York')).toBe(Date.UTC(2026, 10, 1, 5, 30));
  });

  it('east of UTC too: a skipped midnight is where the day begins, a repeated hour its first occurrence', () => {
    // Cairo skips midnight on 24 April 2026 (00:00 EET is 01:00 EEST, 22:00 UTC): read an hour early, the
    // 23rd ended before it did, and the dashboard's walk over local days never ended.
    expect(localWallTime(Date.UTC(2026, 3, 24), 'Africa/Cairo')).toBe(Date.UTC(2026, 3, 23, 22));
    expect(localMidnight(2026, 4, 24, 'Africa/Cairo')).toBe(Date.UTC(2026, 3, 23, 22));
    const cairo = new WindowCalculator('Africa/Cairo').bounds({ kind: 'calendar', unit: 'day' }, Date.UTC(2026, 3, 23, 21, 30));
    expect(cairo).toEqual({ startMs: Date.UTC(2026, 3, 22, 22), endMs: Date.UTC(2026, 3, 23, 22) });
    // London: 01:00 on 29 March 2026 is skipped (01:00 GMT is 02:00 BST); on 25 October it happens twice.
    expect(localWallTime(Date.UTC(2026, 2, 29, 1), 'Europe/London')).toBe(Date.UTC(2026, 2, 29, 1));
    expect(localWallTime(Date.UTC(2026, 9, 25, 1), 'Europe/London')).toBe(Date.UTC(2026, 9, 25, 0));
  });
});
