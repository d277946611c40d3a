// Window arithmetic shared by every counter store: where the current window starts and ends.
import type { Algorithm, WindowSpec } from '../config/policy.js';

const DAY_MS = 86_400_000;

/** The current window of a limit: counts made inside [startMs, endMs) belong together. */
export interface WindowBounds {
  startMs: number;
  endMs: number;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = offsetFormatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormatters.set(timezone, f);
  }
  return f;
}

interface LocalTime {
  year: number;
  month: number; // 1-12
  day: number;
}

/** The wall-clock date in `timezone` at instant `ms`, and that zone's UTC offset then. */
export function localParts(ms: number, timezone: string): LocalTime & { offsetMs: number } {
  const parts = formatterFor(timezone).formatToParts(ms);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)!.value);
  const year = get('year');
  const month = get('month');
  const day = get('day');
  const asUtc = Date.UTC(year, month - 1, day, get('hour'), get('minute'), get('second'));
  return { year, month, day, offsetMs: asUtc - Math.floor(ms / 1000) * 1000 };
}

/**
 * The UTC instant the given local date starts: local midnight, or where midnight falls in a DST gap
 * (Santiago, Havana: clocks jump from 23:59:59 to 01:00), the end of the gap. DST-safe: the offset is
 * re-read at the guess.
 */
export function localMidnight(year: number, month: number, day: number, timezone: string): number {
  return localWallTime(Date.UTC(year, month - 1, day), timezone);
}

/**
 * The UTC instant a wall-clock time has in `timezone`, the time given as the instant it names in UTC
 * (`Date.UTC` of its fields). A time a DST gap skips is read at the offset in force before the gap, so
 * it moves on by the gap's length (02:30 to 03:30 in New York; midnight in Santiago to 01:00, where the
 * gap ends); a time that occurs twice is its first occurrence.
 */
export function localWallTime(wallMs: number, timezone: string): number {
  // The offsets in force around that time (a day either side covers any transition near it), each giving
  // an instant; the earliest that shows this wall time is its first occurrence. None shows it in a gap:
  // the latest, read at the offset before the gap, is the time moved on by the gap. (Fixing the offset by
  // guesses instead read a midnight skipped east of UTC, Cairo's, an hour early: its day never ended.)
  const offsets = new Set([-DAY_MS, 0, DAY_MS].map((d) => localParts(wallMs + d, timezone).offsetMs));
  const candidates = [...offsets].map((o) => wallMs - o).sort((a, b) => a - b);
  return candidates.find((c) => c + localParts(c, timezone).offsetMs === wallMs) ?? candidates[candidates.length - 1];
}

function calendarBounds(ms: number, unit: 'day' | 'month', timezone: string): WindowBounds {
  const { year, month, day } = localParts(ms, timezone);
  if (unit === 'day') {
    const next = new Date(Date.UTC(year, month - 1, day + 1));
    return {
      startMs: localMidnight(year, month, day, timezone),
      endMs: localMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timezone),
    };
  }
  const next = new Date(Date.UTC(year, month, 1));
  return {
    startMs: localMidnight(year, month, 1, timezone),
    endMs: localMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, 1, timezone),
  };
}

/**
 * Resolves windows to bounds, caching each until it ends: Intl formatting costs microseconds,
 * and the hot path asks for the same few windows on every request.
 */
export class WindowCalculator {
  private readonly cache = new Map<string, WindowBounds>();

  constructor(readonly timezone: string) {}

  /** Bounds of the fixed window containing `nowMs`. Whole-day durations align to local midnight. */
  bounds(window: WindowSpec, nowMs: number): WindowBounds {
    if (window.kind === 'duration' && window.ms % DAY_MS !== 0) {
      const startMs = Math.floor(nowMs / window.ms) * window.ms;
      return { startMs, endMs: startMs + window.ms };
    }
    const cacheKey = windowKey(window);
    const cached = this.cache.get(cacheKey);
    if (cached && nowMs >= cached.startMs && nowMs < cached.endMs) return cached;
    const fresh =
      window.kind === 'calendar' ? calendarBounds(nowMs, window.unit, this.timezone) : this.multiDayBounds(window.ms, nowMs);
    this.cache.set(cacheKey, fresh);
    return fresh;
  }

  /** N-day windows start at local midnight on days counted from the epoch, so `1 day` is the calendar day. */
  private multiDayBounds(ms: number, nowMs: number): WindowBounds {
    const today = calendarBounds(nowMs, 'day', this.timezone);
    const days = ms / DAY_MS;
    const { year, month, day } = localParts(today.startMs + 12 * 3_600_000, this.timezone);
    const dayNumber = Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);
    const firstDay = dayNumber - (dayNumber % days);
    const start = new Date(firstDay * DAY_MS);
    const end = new Date((firstDay + days) * DAY_MS);
    return {
      startMs: localMidnight(start.getUTCFullYear(), start.getUTCMonth() + 1, start.getUTCDate(), this.timezone),
      endMs: localMidnight(end.getUTCFullYear(), end.getUTCMonth() + 1, end.getUTCDate(), this.timezone),
    };
  }
}

/** A name that tells windows apart: the same for two specs of the same window. */
export function windowKey(window: WindowSpec): string {
  return window.kind === 'calendar' ? window.unit : `d${window.ms}`;
}

/**
 * Which count an item's amounts go into: its key, and for a fixed window the window's length too. A reload
 * that gives a fixed window another length keeps the key, but counts in windows of their own (the old
 * window's usage is not in the new one); a sliding window or a bucket made longer keeps what it holds.
 */
export function counterIdentity(item: { key: string; algorithm: Algorithm; window: WindowSpec }): string {
  return item.algorithm === 'fixed_window' ? `${item.key}\u0000${windowKey(item.window)}` : item.key;
}

/** The nominal length of a window, used by sliding windows and token buckets. */
export function windowLengthMs(window: WindowSpec): number {
  if (window.kind === 'duration') return window.ms;
  return window.unit === 'day' ? DAY_MS : 30 * DAY_MS;
}

/** Sub-slots per sliding window: usage in every slot overlapping the window counts, so it never undercounts. */
export const SLIDING_SLOTS = 20;

/** The length of one slot of a sliding window. */
export function slotLengthMs(window: WindowSpec): number {
  return windowLengthMs(window) / SLIDING_SLOTS;
}

/** The sliding-window slot an instant falls in. */
export function slotEpoch(window: WindowSpec, ms: number): number {
  return Math.floor(ms / slotLengthMs(window));
}

/**
 * Slots numbered in units of `fromSlotMs` (epochs, with their usage), numbered again in units of `toSlotMs`:
 * a reload changed the window's length. Each slot's usage is placed at the slot's last moment, or `now` if
 * that is sooner, so none of it leaves the window sooner than it could have; slots that have left the new
 * window are dropped. Slots merging into one new slot add up. The Lua prelude's `rebucket` does the same.
 */
export function rebucketSlots(epochs: readonly number[], counts: readonly number[], fromSlotMs: number, toSlotMs: number, now: number): Map<number, number> {
  const current = Math.floor(now / toSlotMs);
  const out = new Map<number, number>();
  for (let i = 0; i < epochs.length; i++) {
    if (!(counts[i] > 0) || !Number.isFinite(epochs[i])) continue;
    const epoch = Math.floor(Math.min((epochs[i] + 1) * fromSlotMs - 1, now) / toSlotMs);
    if (current - epoch <= SLIDING_SLOTS) out.set(epoch, (out.get(epoch) ?? 0) + counts[i]);
  }
  return out;
}
