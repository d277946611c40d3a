// In-process counter store: the embedded default. Atomic because a reservation runs to completion
// within one synchronous turn of the event loop.
import type { Clock } from '../util/clock.js';
import { admit, amountFor } from './admission.js';
import { isConversationId, type CounterItem, type CounterStore, type LimitState, type ReserveOutcome, type ReserveRequest, type ResponseOwner, type RestoreEntry, type SettleUsage } from './counter-store.js';
import { SLIDING_SLOTS, WindowCalculator, slotEpoch, windowLengthMs } from './windows.js';
import { ChurnMap } from '../util/churn-map.js';

/** Response owners kept at most, and conversation owners; the oldest are forgotten first (the ledger is then asked: proxy/object-owners.ts). */
export const MAX_RESPONSE_OWNERS = 100_000;

interface OwnerEntry {
  owner: ResponseOwner;
  expiresAtMs: number;
}

interface FixedState {
  kind: 'fixed';
  startMs: number;
  used: number;
}
interface SlidingState {
  kind: 'sliding';
  epochs: number[];
  counts: number[];
}
interface BucketState {
  kind: 'bucket';
  used: number;
  atMs: number;
}
type CounterState = FixedState | SlidingState | BucketState;

/**
 * Where a reservation's amounts were put, so settlement corrects the same window or slot: item i's
 * `amounts[i]` went to `refs[i]` (a bucket's: the level it was added on top of). Parallel arrays rather
 * than an object per item: one reservation is then three allocations, not one per limit.
 */
interface Placement {
  items: CounterItem[];
  refs: number[];
  amounts: number[];
  /** When it was reserved: what a bucket has drained of it since depends on it. */
  atMs: number;
}

export class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, CounterState>();
  private readonly reservations = new ChurnMap<string, Placement>();
  private readonly windows: WindowCalculator;
  /**
   * Owners of responses, and apart from them of conversations (`conv_...`): a busy stream of responses
   * must not push out a conversation still in use, whose owner would then be refused it. In insertion
   * order, so the oldest is first to go.
   */
  private readonly responseOwners = new Map<string, OwnerEntry>();
  private readonly conversationOwners = new Map<string, OwnerEntry>();

  constructor(
    private readonly clock: Clock,
    timezone: string,
    private readonly maxResponseOwners = MAX_RESPONSE_OWNERS,
  ) {
    this.windows = new WindowCalculator(timezone);
  }

  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    return this.reserveSync(req);
  }

  /** The synchronous core of `reserve`, also used by fail-open local counting. */
  reserveSync(req: ReserveRequest): ReserveOutcome {
    const now = this.clock.now();
    const used = req.items.map((item) => this.usedNow(item, now));
    const decision = admit(req.items, used, req.input, req.output, req.clamp, req.minOutput, req.factors);
    if (!decision.ok) {
      const states = req.items.map((item, i) => this.state(item, used[i], now));
      for (const i of decision.blocked) if (req.items[i].algorithm === 'sliding_window') states[i].leaving = this.leaving(req.items[i], now);
      return { ok: false, blocked: decision.blocked, states, shadowBlocked: decision.shadowBlocked };
    }
    const refs = req.items.map((item, i) => this.add(item, now, decision.amounts[i]));
    this.reservations.set(req.id, { items: req.items, refs, amounts: decision.amounts, atMs: now });
    const states = req.items.map((item, i) => this.state(item, used[i] + decision.amounts[i], now));
    return { ok: true, output: decision.output, states, shadowBlocked: decision.shadowBlocked };
  }

  async settle(id: string, usage: SettleUsage): Promise<void> {
    const placed = this.reservations.get(id);
    if (!placed) return;
    this.reservations.delete(id);
    const now = this.clock.now();
    for (let i = 0; i < placed.items.length; i++) {
      const item = placed.items[i];
      const actual = amountFor(item, usage.input, usage.output, usage.request, usage.factors);
      const delta =
        item.algorithm === 'token_bucket'
          ? bucketCorrection(item, placed.refs[i], placed.amounts[i], actual, now - placed.atMs)
          : actual - placed.amounts[i];
      if (delta !== 0) this.adjust(item, placed.refs[i], delta, now);
    }
  }

  async restore(entries: RestoreEntry[]): Promise<void> {
    const now = this.clock.now();
    for (const { item, used, slots } of entries) {
      if (item.algorithm === 'sliding_window' && slots) {
        const current = slotEpoch(item.window, now);
        for (const slot of slots) {
          const epoch = slotEpoch(item.window, slot.atMs);
          if (current - epoch > SLIDING_SLOTS || epoch > current) continue;
          const missing = slot.used - this.slotCount(item, epoch);
          if (missing > 0) this.addToSlot(item, epoch, missing);
        }
        continue;
      }
      const missing = used - this.usedNow(item, now);
      // A bucket's replayed level is its level now; a fixed window's usage is all in the current window.
      if (missing > 0) this.add(item, now, missing);
    }
  }

  async peek(items: CounterItem[]): Promise<LimitState[]> {
    const now = this.clock.now();
    return items.map((item) => this.state(item, this.usedNow(item, now), now));
  }

  async openReservations(): Promise<number> {
    return this.reservations.size;
  }

  async recordResponse(id: string, owner: ResponseOwner, ttlMs: number): Promise<void> {
    const owners = this.ownersOf(id);
    owners.delete(id); // re-inserted last: a record made again is the newest
    owners.set(id, { owner, expiresAtMs: this.clock.now() + ttlMs });
    if (owners.size > this.maxResponseOwners) owners.delete(owners.keys().next().value!);
  }

  async responseOwner(id: string): Promise<ResponseOwner | undefined> {
    const owners = this.ownersOf(id);
    const entry = owners.get(id);
    if (!entry) return undefined;
    if (entry.expiresAtMs > this.clock.now()) return entry.owner;
    owners.delete(id);
    return undefined;
  }

  private ownersOf(id: string): Map<string, OwnerEntry> {
    return isConversationId(id) ? this.conversationOwners : this.responseOwners;
  }

  async held(items: CounterItem[]): Promise<number[]> {
    const now = this.clock.now();
    const index = new Map(items.map((item, i) => [item.key, i]));
    const out = items.map(() => 0);
    for (const placed of this.reservations.values()) {
      for (let k = 0; k < placed.items.length; k++) {
        const i = index.get(placed.items[k].key);
        if (i !== undefined && this.stillCounted(placed.items[k], placed.refs[k], now)) out[i] += placed.amounts[k];
      }
    }
    return out;
  }

  /** Whether an amount reserved at `ref` is still in its counter's current figure (not in a window that ended). */
  private stillCounted(item: CounterItem, ref: number, now: number): boolean {
    if (item.algorithm === 'fixed_window') return ref === this.windows.bounds(item.window, now).startMs;
    if (item.algorithm === 'sliding_window') return slotEpoch(item.window, now) - ref <= SLIDING_SLOTS;
    return true; // a bucket drains what it holds as a whole
  }

  async close(): Promise<void> {}

  private usedNow(item: CounterItem, now: number): number {
    const s = this.counters.get(item.key);
    if (!s) return 0;
    switch (s.kind) {
      case 'fixed':
        return s.startMs === this.windows.bounds(item.window, now).startMs ? s.used : 0;
      case 'sliding': {
        const current = slotEpoch(item.window, now);
        let sum = 0;
        for (let i = 0; i < s.epochs.length; i++) if (current - s.epochs[i] <= SLIDING_SLOTS) sum += s.counts[i];
        return sum;
      }
      case 'bucket':
        return Math.max(0, s.used - ((now - s.atMs) * item.max) / windowLengthMs(item.window));
    }
  }

  /** Adds an amount now; returns where it went (window start, slot epoch, or a bucket's level before it). */
  private add(item: CounterItem, now: number, amount: number): number {
    if (item.algorithm === 'fixed_window') {
      const startMs = this.windows.bounds(item.window, now).startMs;
      const s = this.counters.get(item.key);
      if (s?.kind === 'fixed' && s.startMs === startMs) s.used += amount;
      else this.counters.set(item.key, { kind: 'fixed', startMs, used: amount });
      return startMs;
    }
    if (item.algorithm === 'sliding_window') {
      const epoch = slotEpoch(item.window, now);
      this.addToSlot(item, epoch, amount);
      return epoch;
    }
    const used = this.usedNow(item, now);
    // Updated in place: a bucket is added to on every request.
    const s = this.counters.get(item.key);
    if (s?.kind === 'bucket') {
      s.used = used + amount;
      s.atMs = now;
    } else this.counters.set(item.key, { kind: 'bucket', used: used + amount, atMs: now });
    return used;
  }

  /** Corrects an earlier placement; a window or slot that has already passed is left alone. */
  private adjust(item: CounterItem, ref: number, delta: number, now: number): void {
    const s = this.counters.get(item.key);
    if (!s) return;
    if (s.kind === 'fixed') {
      if (s.startMs === ref) s.used = Math.max(0, s.used + delta);
    } else if (s.kind === 'sliding') {
      this.addToSlot(item, ref, delta);
    } else {
      s.used = Math.max(0, this.usedNow(item, now) + delta);
      s.atMs = now;
    }
  }

  private slotCount(item: CounterItem, epoch: number): number {
    const s = this.counters.get(item.key);
    if (s?.kind !== 'sliding') return 0;
    const i = epoch % (SLIDING_SLOTS + 1);
    return s.epochs[i] === epoch ? s.counts[i] : 0;
  }

  private addToSlot(item: CounterItem, epoch: number, amount: number): void {
    let s = this.counters.get(item.key);
    if (s?.kind !== 'sliding') {
      s = { kind: 'sliding', epochs: new Array(SLIDING_SLOTS + 1).fill(-Infinity), counts: new Array(SLIDING_SLOTS + 1).fill(0) };
      this.counters.set(item.key, s);
    }
    const i = epoch % (SLIDING_SLOTS + 1);
    if (s.epochs[i] === epoch) s.counts[i] = Math.max(0, s.counts[i] + amount);
    else if (s.epochs[i] < epoch && amount > 0) {
      s.epochs[i] = epoch;
      s.counts[i] = amount;
    }
  }

  private state(item: CounterItem, used: number, now: number): LimitState {
    return { used, max: item.max, resetAtMs: this.resetAt(item, now) };
  }

  /** A sliding window's counted slots, oldest first, each with the time it leaves the window. */
  private leaving(item: CounterItem, now: number): Array<{ atMs: number; amount: number }> {
    const s = this.counters.get(item.key);
    if (s?.kind !== 'sliding') return [];
    const slotMs = windowLengthMs(item.window) / SLIDING_SLOTS;
    const current = slotEpoch(item.window, now);
    const out: Array<{ atMs: number; amount: number }> = [];
    for (let i = 0; i < s.epochs.length; i++) {
      if (current - s.epochs[i] <= SLIDING_SLOTS && s.counts[i] > 0) out.push({ atMs: (s.epochs[i] + SLIDING_SLOTS + 1) * slotMs, amount: s.counts[i] });
    }
    return out.sort((a, b) => a.atMs - b.atMs);
  }

  private resetAt(item: CounterItem, now: number): number {
    const length = windowLengthMs(item.window);
    if (item.algorithm === 'fixed_window') return this.windows.bounds(item.window, now).endMs;
    if (item.algorithm === 'token_bucket') {
      const s = this.counters.get(item.key);
      const used = s ? this.usedNow(item, now) : 0;
      return now + Math.ceil((used * length) / item.max);
    }
    // Sliding: the oldest slot still counted leaves the window first.
    const slotMs = length / SLIDING_SLOTS;
    const s = this.counters.get(item.key);
    const current = Math.floor(now / slotMs);
    let oldest = current;
    if (s?.kind === 'sliding') for (let i = 0; i < s.epochs.length; i++) if (current - s.epochs[i] <= SLIDING_SLOTS && s.counts[i] > 0) oldest = Math.min(oldest, s.epochs[i]);
    return (oldest + SLIDING_SLOTS + 1) * slotMs;
  }
}

/**
 * What settling a bucket reservation changes its level by. A bucket drains oldest first: of `reserved`,
 * put on top of a level `before`, what is still in the bucket after `elapsedMs` is what has not drained,
 * and the same goes for what the call `actual`ly used. Only that difference moves the level: giving back
 * the whole difference would also give back drain the reservation already took, erasing usage admitted
 * after it (up to a whole bucket) and letting a burst past the capacity.
 */
export function bucketCorrection(item: CounterItem, before: number, reserved: number, actual: number, elapsedMs: number): number {
  const drained = (Math.max(0, elapsedMs) * item.max) / windowLengthMs(item.window);
  return undrained(actual, before, drained) - undrained(reserved, before, drained);
}

/** What is left of `amount`, added on top of `before`, once `drained` has gone (oldest first). */
function undrained(amount: number, before: number, drained: number): number {
  return Math.min(amount, Math.max(0, before + amount - drained));
}
