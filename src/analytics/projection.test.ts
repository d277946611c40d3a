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

  // Regression: a gateway deployed at 23:40 had yesterday's 20 minutes of usage count as a whole day, and
  // projected the month at 1/72 of the pace seen since (daily_average over one 20-minute "day").
  it('leaves out a first day whose usage began in its last quarter', () => {
    const deployedLate: DayUsage = { ...day(3, 2000), firstUseMs: 4 * DAY - 20 * 60_000 };
    const input = { history: [day(2, 0), deployedLate], today: day(4, 1000), monthToDate: { tokens: 1000, costUsd: 1 }, remainingWeekdays: [5, 6] };
    expect(projectMonth({ ...input, now: 4 * DAY + 10 * 60_000 })).toEqual({ tokens: 1000, costUsd: 1, method: 'none' });
    // Half of today gone: today's pace, 2000 a day, not yesterday's 2000 in 20 minutes as a day.
    expect(projectMonth({ ...input, now: 4 * DAY + DAY / 2 })).toMatchObject({ tokens: 1000 + 1000 + 2 * 2000, method: 'today_pace' });
    // A first day seen from a quarter of it on counts as it is.
    const seenEnough: DayUsage = { ...day(3, 2000), firstUseMs: 4 * DAY - DAY / 4 };
    expect(projectMonth({ ...input, history: [seenEnough], now: 4 * DAY + DAY / 2 })).toMatchObject({ tokens: 1000 + 1000 + 2 * 2000, method: 'daily_average' });
  });
});
