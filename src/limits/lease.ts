// One budget lease and what is known of a limit's counter on an instance (leased-store.ts), and the rules
// read off a lease: what is left of it, and whether the store still counts it where an amount lands.
import type { CounterItem, LimitState } from './counter-store.js';
import type { Demand } from './lease-rules.js';
import { SLIDING_SLOTS, windowLengthMs } from './windows.js';

export interface Lease {
  /** The reservation that holds it in the shared store. */
  id: string;
  /** The counter it was reserved on (one item of weight 1: amounts are in the limit's own unit). */
  item: CounterItem;
  key: KeyState;
  size: number;
  /**
   * Usage beyond `size` already added to the shared store: calls that used more than they were admitted
   * with (the provider's count above the estimate) overdraw the lease, and the store must see that at once.
   */
  overdrawn: number;
  /** Overdraws being added: the lease's return waits for them, since one not added is carried by the return. */
  overdrawing?: Promise<void>;
  /** Amounts of admitted requests not yet settled. */
  pending: number;
  /** Settled usage. */
  consumed: number;
  /**
   * What of the settled usage the ledger held when the store's counters were last rebuilt from it (0
   * before any rebuild): the rebuilt counters count it already, so the lease's return leaves it out.
   */
  base: number;
  /** Requests admitted against it and not yet settled: the lease is returned once none are. */
  admitted: number;
  /** Instance clock, ms: from then on no admission is made against it. */
  validUntil: number;
  /** The limit's usage in the shared store just after the grant (this whole lease included). */
  usedAtGrant: number;
  resetAtMs: number;
  /** Store time of the grant: a sliding window counts the lease in that slot. */
  grantedAtMs: number;
  /** Instance clock when it was asked for (before the grant), and a token bucket's drain per ms (0 for windows). */
  askedAt: number;
  drainPerMs: number;
  retired: boolean;
  returned: boolean;
  timer?: NodeJS.Timeout;
}

/** What is known of one counter (limit key) on this instance. */
export interface KeyState extends Demand {
  current?: Lease;
  /** Leases not yet returned, the current one included. */
  open: Set<Lease>;
  acquiring: boolean;
  /** Calls the store admitted that settled while a grant was on its way: what each held and did not use (grant-figures.ts). */
  settledWhileAcquiring?: number[];
  /** Requests asked for since `since`. */
  requests: number;
}

/** Whether the store's figure `state` for `item` still counts `lease` (a bucket's: while it has not drained). */
export function countedIn(lease: Lease, item: CounterItem, state: LimitState): boolean {
  if (item.algorithm === 'fixed_window') return lease.resetAtMs === state.resetAtMs;
  if (item.algorithm === 'token_bucket') return true;
  // A sliding window's reset is when its oldest counted slot leaves: a lease's slot is counted iff it is not older.
  const slotMs = windowLengthMs(item.window) / SLIDING_SLOTS;
  const oldestCounted = Math.round(state.resetAtMs / slotMs) - SLIDING_SLOTS - 1;
  return Math.floor(lease.grantedAtMs / slotMs) >= oldestCounted;
}

/**
 * Whether an amount the store placed at `storeTimeMs` (its figure then: `state`) counts exactly where `lease`
 * does: the same fixed window, the same sliding slot. A token bucket drains it from then (later than the
 * lease: counted a little longer, never shorter).
 */
export function placedWith(lease: Lease, storeTimeMs: number | undefined, state: LimitState | undefined): boolean {
  if (storeTimeMs === undefined || !state) return false; // counted locally (an outage)
  const { algorithm, window } = lease.item;
  if (algorithm === 'fixed_window') return state.resetAtMs === lease.resetAtMs;
  if (algorithm === 'token_bucket') return true;
  const slotMs = windowLengthMs(window) / SLIDING_SLOTS;
  return Math.floor(storeTimeMs / slotMs) === Math.floor(lease.grantedAtMs / slotMs);
}

/** What calls admitted against `lease` used beyond it and the store does not count yet (its return will). */
export function notYetCounted(lease: Lease): number {
  const excess = lease.consumed + lease.pending - lease.size - lease.overdrawn;
  // Money amounts are fractions: rounding alone must not send a sliver to the store on every settlement.
  return excess > 1e-9 * Math.max(1, lease.size) ? excess : 0;
}

/** What the lease's return settles in the store: its settled usage, less what is added there otherwise (overdraws, a rebuild). */
export function toSettle(lease: Lease): number {
  return Math.max(0, lease.consumed - lease.overdrawn - lease.base);
}

/**
 * What of `lease` to place in the store again after its counters were rebuilt from the ledger, which holds
 * what was settled of it: its unused room while it may still be admitted against, otherwise only what
 * its calls still running were admitted with.
 */
export function toPlaceAgain(lease: Lease, now: number): number {
  if (usable(lease, now)) return Math.max(0, lease.size - (lease.consumed - lease.overdrawn));
  return lease.pending;
}

/**
 * `input` of `lease` was placed in the store again after a rebuild: from then on the store counts what was
 * settled of it (in the ledger) and `input`, as if the lease had been that large from the start.
 */
export function rebase(lease: Lease, input: number): void {
  lease.base = lease.consumed - lease.overdrawn;
  lease.size = lease.base + input;
}

/** Whether requests may still be admitted against `lease` at `now` (room aside). */
export function usable(lease: Lease, now: number): boolean {
  return !lease.retired && now < lease.validUntil;
}

/**
 * What is left of a lease to admit against at `now`. A token bucket drains the slice from the moment it
 * was granted, used or not: room admitted against after it drained would be handed out twice (the store
 * gives the drained room to others meanwhile), letting a bucket pass its capacity. So a bucket's slice
 * shrinks by its drain, counted from when it was asked for and as if the slice drained first (the most
 * it can have drained).
 */
export function room(lease: Lease, now: number): number {
  const held = lease.size + lease.overdrawn;
  const drained = Math.min(held, Math.max(0, now - lease.askedAt) * lease.drainPerMs);
  return held - lease.pending - lease.consumed - drained;
}
