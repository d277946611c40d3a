import { describe, expect, it } from 'vitest';
import type { DayUsage } from './daily-usage.js';
import { projectMonth } from './projection.js';

const DAY = 86_400_000;
const day = (i: number, tokens: number): DayUsage => ({ startMs: i * DAY, endMs: (i + 1) * DAY, weekday: i % 7, tokens, costUsd: tokens / 1000, requests: tokens > 0 ? 1 : 0 });

describe('month projection', () => {
  it('uses one daily average while some weekday has not been seen yet, ignoring days before the first call', () => {
    const history = [day(0, 0), day(1, 0), day(2, 100), day(3, 300)];
    const p = projectMonth({ now: 4 * DAY + DAY / 2, history, today: day(4, 50), monthToDate: { tokens: 450, costUsd: 0.45 }, remainingWeekdays: [5, 6] });
    // Mean of the two known days is 200: half of today, then two days.
    expect(p).toEqual({ tokens: 450 + 100 + 400, costUsd: expect.closeTo(0.95, 9), method: 'daily_average' });
  });

  it("extrapolates today's pace without history, and says so", () => {
    const p = projectMonth({ now: 4 * DAY + DAY / 4, history: [day(3, 0)], today: day(4, 100), monthToDate: { tokens: 100, costUsd: 0.1 }, remainingWeekdays: [5] });
    // 100 tokens in a quarter day: 400 a day; three quarters of today and one more day.
    expect(p.tokens).toBe(100 + 300 + 400);
    expect(p.method).toBe('today_pace');
  });

  it("extrapolates nothing in the first quarter of a day without history (minutes of usage times a month is noise)", () => {
    const early = (minutes: number) => projectMonth({ now: 4 * DAY + minutes * 60_000, history: [], today: day(4, 2721), monthToDate: { tokens: 2721, costUsd: 2.721 }, remainingWeekdays: [5, 6] });
    expect(early(5)).toEqual({ tokens: 2721, costUsd: 2.721, method: 'none' });
    expect(early(6 * 60 - 1).method).toBe('none');
    expect(early(6 * 60)).toMatchObject({ tokens: 2721 + 3 * 2721 + 2 * 4 * 2721, method: 'today_pace' });
  });

  it('projects nothing more without any usage', () => {
    expect(projectMonth({ now: DAY / 2, history: [], today: day(0, 0), monthToDate: { tokens: 0, costUsd: 0 }, remainingWeekdays: [1, 2] })).toEqual({ tokens: 0, costUsd: 0, method: 'none' });
  });
});
