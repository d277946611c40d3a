// `Date` and `Date.parse` roll an impossible day over (2026-11-31 becomes 2026-12-01, 2026-13-45 a
// day in 2027), so a mistyped date would silently report another period. Checked before parsing.

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Why the `YYYY-MM-DD` that `text` starts with is not a real calendar date, or undefined (also for text that is no date). */
export function impossibleDate(text: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12) return `there is no month ${m[2]}`;
  // The day must survive a round trip through the calendar.
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() === month - 1 && date.getUTCDate() === day) return undefined;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `there is no day ${m[3]} in ${MONTHS[month - 1]} ${m[1]} (it has ${days} days)`;
}
