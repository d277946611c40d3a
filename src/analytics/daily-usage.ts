// Usage per local calendar day, from the ledger. The ledger groups by 15-minute slices (every real
// time zone's offset is a multiple of 15 minutes) and the slices are then assigned to local days here,
// so both databases need no time-zone support.
import type { Ledger } from '../ledger/ledger.js';
import { WindowCalculator } from '../limits/windows.js';

const SLICE_MS = 15 * 60_000;
const DAY: { kind: 'calendar'; unit: 'day' } = { kind: 'calendar', unit: 'day' };

/** One local day's usage. */
export interface DayUsage {
  startMs: number;
  endMs: number;
  /** 0 = Sunday ... 6 = Saturday, in the configured time zone. */
  weekday: number;
  tokens: number;
  costUsd: number;
  requests: number;
  /** Start of the day's first 15-minute slice with usage (a call served or tokens used); absent on a day without any. */
  firstUseMs?: number;
}

/** The local days from the one containing `fromMs` to the one containing `toMs`, oldest first. */
export function localDays(fromMs: number, toMs: number, timezone: string): Array<Omit<DayUsage, 'tokens' | 'costUsd' | 'requests' | 'firstUseMs'>> {
  const windows = new WindowCalculator(timezone);
  const weekday = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short' });
  const names = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const days = [];
  let t = fromMs;
  while (t <= toMs) {
    const b = windows.bounds(DAY, t);
    // Noon is safely inside the day whatever DST does at either end.
    days.push({ startMs: b.startMs, endMs: b.endMs, weekday: names.indexOf(weekday.format(b.startMs + 12 * 3_600_000)) });
    t = b.endMs;
  }
  return days;
}

/** Usage of one organization per local day, for the days containing [fromMs, toMs]. */
export async function dailyUsage(ledger: Ledger, organization: string, fromMs: number, toMs: number, timezone: string): Promise<DayUsage[]> {
  const days: DayUsage[] = localDays(fromMs, toMs, timezone).map((d) => ({ ...d, tokens: 0, costUsd: 0, requests: 0 }));
  if (days.length === 0) return days;
  const slices = await ledger.summarize({
    sinceMs: days[0].startMs,
    untilMs: days[days.length - 1].endMs,
    where: { organization },
    groupBy: ['bucket'],
    bucketMs: SLICE_MS,
  });
  slices.sort((a, b) => Number(a.keys.bucket) - Number(b.keys.bucket));
  let i = 0;
  for (const s of slices) {
    const at = Number(s.keys.bucket);
    while (i < days.length - 1 && at >= days[i].endMs) i++;
    days[i].tokens += s.inputTokens + s.outputTokens;
    days[i].costUsd += s.costUsd;
    days[i].requests += s.served;
    // Slices come in time order: the first one with usage is the day's first.
    if (days[i].firstUseMs === undefined && (s.served > 0 || s.inputTokens + s.outputTokens > 0)) days[i].firstUseMs = at;
  }
  return days;
}
