// The `window_size` strings of the Radicalbit route dialect (`10 seconds`, `1 hour`, `1 month`).
import type { WindowSpec } from './policy.js';

const UNIT_MS: Record<string, number> = {
  s: 1_000, second: 1_000,
  m: 60_000, minute: 60_000,
  h: 3_600_000, hour: 3_600_000,
  d: 86_400_000, day: 86_400_000,
  week: 604_800_000,
};

const LONG = /^(\d+)\s+(second|minute|hour|day|week|month)s?$/;
const SHORT = /^(\d+)(s|m|h|d)$/;

/**
 * The longest rolling window: a year. Longer ones only come from typos (`999999999 weeks`), and past
 * what a Date can hold their bounds are NaN, which the counter stores cannot count in.
 */
export const MAX_WINDOW_MS = 366 * 86_400_000;

/** Human description of the accepted `window_size` forms, for error messages and docs. */
export const WINDOW_SIZE_FORMS =
  '`<n> seconds|minutes|hours|days|weeks` up to 366 days (e.g. `10 seconds`, `1 hour`), the short forms `30s`, `5m`, `1h`, `1d`, or `1 month`';

/** Parses a `window_size` string into a window, or returns undefined when it is not one of the accepted forms. */
export function parseWindowSize(text: string): WindowSpec | undefined {
  const normalized = text.trim().toLowerCase();
  const long = LONG.exec(normalized);
  const match = long ?? SHORT.exec(normalized);
  if (!match) return undefined;
  const count = Number(match[1]);
  const unit = match[2]!;
  if (count < 1 || !Number.isSafeInteger(count)) return undefined;
  // Months differ in length, so a month is a calendar window; only one month makes sense as such.
  if (unit === 'month') return count === 1 ? { kind: 'calendar', unit: 'month' } : undefined;
  const ms = count * UNIT_MS[unit]!;
  return ms <= MAX_WINDOW_MS ? { kind: 'duration', ms } : undefined;
}
