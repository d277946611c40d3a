// Month-end projection with weekly seasonality: each remaining day is expected to use what the same
// weekday used on average over the last four weeks (weekends and weekdays differ a lot for most
// teams), the rest of today is its weekday's average times the part of the day left. Falls back to
// the mean of all known days, then to today's pace, when history is short. The first day with usage
// counts only when a quarter of it came after its first call (the day of a late deploy is no day's usage).
// With neither history nor a quarter of today behind it, nothing is extrapolated: minutes of usage
// times a whole month is noise, and a forecast alert raised on it a false alarm.
import type { DayUsage } from './daily-usage.js';

/** Weeks of history a weekday's average is taken over. */
export const HISTORY_WEEKS = 4;
/** The part of today that must have passed before today's pace is extrapolated (6 hours). */
export const MIN_PACE_ELAPSED = 0.25;

export type ProjectionMethod = 'weekday_average' | 'daily_average' | 'today_pace' | 'none';

export interface Projection {
  tokens: number;
  costUsd: number;
  method: ProjectionMethod;
}

export interface ProjectionInput {
  now: number;
  /** Full past days before today, oldest first (at most HISTORY_WEEKS weeks are used). */
  history: DayUsage[];
  /** Today so far. */
  today: DayUsage;
  monthToDate: { tokens: number; costUsd: number };
  /** Weekdays of the days after today up to the end of the month. */
  remainingWeekdays: number[];
}

/** Projects month-to-date usage to the end of the month. */
export function projectMonth(p: ProjectionInput): Projection {
  // Days before the first call (before Tollgate was deployed) are not zero-usage days: leave them out.
  const recent = p.history.slice(-HISTORY_WEEKS * 7);
  const first = recent.findIndex((d) => d.requests > 0 || d.tokens > 0);
  let history = first === -1 ? [] : recent.slice(first);
  // The first day with usage is often the day Tollgate was deployed: one whose first call came in its last
  // hours (a deploy at 23:40) would stand for a whole day's usage with minutes of it, and project a month
  // at a fraction of the real pace. As for today's pace, a quarter of the day must come after the first call.
  if (history.length > 0 && seenPart(history[0]) < MIN_PACE_ELAPSED) history = history.slice(1);
  const elapsed = Math.min(1, Math.max(0, (p.now - p.today.startMs) / (p.today.endMs - p.today.startMs)));
  const byWeekday = new Map<number, DayUsage[]>();
  for (const d of history) byWeekday.set(d.weekday, [...(byWeekday.get(d.weekday) ?? []), d]);

  let method: ProjectionMethod;
  let expected: (weekday: number) => { tokens: number; costUsd: number };
  if (history.length > 0) {
    const all = mean(history);
    // Weekly seasonality needs every weekday seen at least once; otherwise one average for all days.
    method = byWeekday.size === 7 ? 'weekday_average' : 'daily_average';
    expected = (w) => (method === 'weekday_average' ? mean(byWeekday.get(w)!) : all);
  } else if (elapsed >= MIN_PACE_ELAPSED && p.today.tokens + p.today.costUsd > 0) {
    method = 'today_pace';
    const pace = { tokens: p.today.tokens / elapsed, costUsd: p.today.costUsd / elapsed };
    expected = () => pace;
  } else {
    return { tokens: p.monthToDate.tokens, costUsd: p.monthToDate.costUsd, method: 'none' };
  }

  const todayFull = expected(p.today.weekday);
  let tokens = p.monthToDate.tokens + todayFull.tokens * (1 - elapsed);
  let costUsd = p.monthToDate.costUsd + todayFull.costUsd * (1 - elapsed);
  for (const w of p.remainingWeekdays) {
    const e = expected(w);
    tokens += e.tokens;
    costUsd += e.costUsd;
  }
  return { tokens, costUsd, method };
}

/** The part of a day from its first call to its end (1 when that is not known). */
function seenPart(d: DayUsage): number {
  return d.firstUseMs === undefined ? 1 : (d.endMs - d.firstUseMs) / (d.endMs - d.startMs);
}

function mean(days: DayUsage[]): { tokens: number; costUsd: number } {
  const n = Math.max(1, days.length);
  return { tokens: days.reduce((s, d) => s + d.tokens, 0) / n, costUsd: days.reduce((s, d) => s + d.costUsd, 0) / n };
}
