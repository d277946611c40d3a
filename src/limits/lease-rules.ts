// How big a budget lease is, how long it lasts and when it is renewed (leased-store.ts uses them).
import type { CounterItem, LimitState } from './counter-store.js';
import { SLIDING_SLOTS, windowLengthMs } from './windows.js';

/** A lease takes at most this share of a limit's room left. */
const ROOM_SHARE = 0.25;
/** A key is worth a lease once this many requests asked for it within one lease period. */
export const HOT_REQUESTS = 4;
/** A lease holds at least this many requests' worth, or it is not taken. */
const LEAST_REQUESTS = 2;
/**
 * Sized for this much more than the demand seen, so one lease usually lasts its whole period; little
 * more, since what is left when it ends stays counted until the last call admitted against it settles.
 */
const HEADROOM = 1.25;
/** A lease is renewed once less than this share of it is left (or too little for the request at hand). */
export const RENEW_BELOW = 1 / 8;

/** What an instance has seen of a limit since it last took a lease on it. */
export interface Demand {
  /** Amounts asked for since `since` (instance clock, ms). */
  demand: number;
  since: number;
  /** The store's last figure for the limit (from a reservation or a lease). */
  last?: LimitState;
}

/**
 * The size of a new lease for a request of `amount` at `now`: the demand seen over one lease period with
 * some headroom, at most a share of the room left, whole unless the limit is money. 0: not worth one.
 */
export function leaseSize(item: CounterItem, seen: Demand, amount: number, now: number, leaseMs: number): number {
  // A burst measured over a few milliseconds would ask for far more than it needs.
  const elapsed = Math.max(now - seen.since, leaseMs / 4);
  let size = Math.max((seen.demand / elapsed) * leaseMs * HEADROOM, amount * LEAST_REQUESTS);
  // A token bucket drains a lease from its grant, used or not, and the lease shrinks with it (leased-store.ts's
  // room): sized for that drain over its period as well, or on a large bucket it would run dry within
  // milliseconds and nearly every request would go to the store again.
  if (item.algorithm === 'token_bucket') size += (item.max / windowLengthMs(item.window)) * leaseMs;
  if (seen.last) size = Math.min(size, (seen.last.max - seen.last.used) * ROOM_SHARE);
  // Whole tokens or requests, so that adding the lease and later taking back what was not used leaves
  // the counter exactly at the usage (money amounts are fractions anyway).
  if (!item.priced) size = Math.floor(size);
  return size >= amount * LEAST_REQUESTS ? size : 0;
}

/**
 * How long a lease granted at store time `at` may be used, counted from when it was asked for (before
 * `at`, so never longer than the store would count it where it was placed). `windowEnd`: a fixed
 * window's end in store time.
 */
export function leaseLifetime(item: CounterItem, at: number | undefined, windowEnd: number, leaseMs: number): number {
  if (at === undefined) return 0;
  let end = Infinity;
  if (item.algorithm === 'fixed_window') {
    end = Number.isNaN(windowEnd) ? at : windowEnd;
  } else if (item.algorithm === 'sliding_window') {
    const slot = windowLengthMs(item.window) / SLIDING_SLOTS;
    end = (Math.floor(at / slot) + 1) * slot;
  }
  return Math.max(0, Math.min(leaseMs, end - at));
}
