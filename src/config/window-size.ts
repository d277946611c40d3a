// The `window_size` strings of the Radicalbit route dialect (`10 seconds`, `1 hour`, `1 month`).
import type { WindowSpec } from './policy.js';
import { typoDistance } from './suggest.js';

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

// What people write for a unit (`mins`, `hr`, `sec`, `d`) mapped to the unit meant. Only a hint:
// parseWindowSize stays strict, so a config reads the same way in every tool that reads it.
const UNIT_ALIASES: Record<string, string> = {
  s: 'second', sec: 'second', secs: 'second',
  m: 'minute', min: 'minute', mins: 'minute',
  h: 'hour', hr: 'hour', hrs: 'hour',
  d: 'day',
  w: 'week', wk: 'week', wks: 'week',
  mo: 'month', mon: 'month', mos: 'month', mons: 'month', mth: 'month', mths: 'month',
  y: 'year', yr: 'year', yrs: 'year', year: 'year',
};
const UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month'];

/** The unit a misspelt one (`minuet`, `hrs`, `huor`) most likely means, if any is close. */
function unitMeant(word: string): string | undefined {
  const singular = word.length > 2 && word.endsWith('s') ? word.slice(0, -1) : word;
  for (const w of [word, singular]) {
    if (UNITS.includes(w)) return w;
    if (UNIT_ALIASES[w]) return UNIT_ALIASES[w];
  }
  // Two typos in a longer word (`secnods`), one in a short one (`dya`, `huor`): `dog` is no `day`.
  return UNITS.find((u) => typoDistance(singular, u) <= (singular.length >= 5 ? 2 : 1));
}

/**
 * Why `text` is not a window size, for the error message: the window it probably means
 * (`did you mean \`10 minutes\`?`) or what is wrong with its number, then the accepted forms.
 */
export function windowSizeProblem(text: string): string {
  const base = `\`${text}\` is not a window size`;
  const forms = `use ${WINDOW_SIZE_FORMS}`;
  const parts = /^(\d+)\s*([a-z]+)$/.exec(text.trim().toLowerCase());
  const unit = parts ? unitMeant(parts[2]!) : undefined;
  if (!parts || !unit) return `${base}; ${forms}`;
  const count = Number(parts[1]);
  if (count < 1) return `${base}: the number must be at least 1; ${forms}`;
  if (unit === 'month' && count > 1) return `${base}: only \`1 month\` (the calendar month) is a window of months; for a longer one write days, e.g. \`${Math.min(count * 31, 366)} days\``;
  if (unit === 'year') return count === 1 ? `${base} (did you mean \`365 days\`?); ${forms}` : `${base}: a window is at most 366 days long; ${forms}`;
  const meant = `${count} ${unit}${count === 1 ? '' : 's'}`;
  if (!parseWindowSize(meant)) return `${base}: a window is at most 366 days long; ${forms}`;
  return `${base} (did you mean \`${meant}\`?); ${forms}`;
}
