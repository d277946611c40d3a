// Usage per local calendar day, from the ledger. The ledger groups by 15-minute slices (every real
// time zone's offset is a multiple of 15 minutes) and the slices are then assigned to local days here,
// so both databases need no time-zone support.
import type { Ledger } from '../ledger/ledger.js';
import { localMidnight, localParts } from '../limits/windows.js';

const SLICE_MS = 15 * 60_000;

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

/**
 * The local days from the one containing `fromMs` to the one containing `toMs`, oldest first. Walks the
 * calendar date by date (each day from its local midnight to the next one's), so it always ends: stepping
 * from a day's end to "the day containing it" would spin for ever wherever a day's computed end fell
 * before the instant that day actually ends (a midnight skipped by DST, as in Cairo and Beirut).
 */
export function localDays(fromMs: number, toMs: number, timezone: string): Array<Omit<DayUsage, 'tokens' | 'costUsd' | 'requests' | 'firstUseMs'>> {
  const days = [];
  // The civil date of `fromMs` in the zone, as a UTC midnight: one DAY_MS on is always the next date.
  let date = localDateAsUtc(fromMs, timezone);
  let startMs = midnightOf(date, timezone);
  while (startMs <= toMs) {
    const endMs = midnightOf(date + DAY_MS, timezone);
    days.push({ startMs, endMs, weekday: new Date(date).getUTCDay() });
    date += DAY_MS;
    startMs = endMs;
  }
  return days;
}

const DAY_MS = 86_400_000;

/** The local calendar date at `ms` in `timezone`, as the UTC midnight of that date. */
function localDateAsUtc(ms: number, timezone: string): number {
  const { year, month, day } = localParts(ms, timezone);
  return Date.UTC(year, month - 1, day);
}

function midnightOf(dateAsUtc: number, timezone: string): number {
  const d = new Date(dateAsUtc);
  return localMidnight(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), timezone);
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
