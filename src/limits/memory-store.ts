// In-process counter store: the embedded default. Atomic because a reservation runs to completion
// within one synchronous turn of the event loop.
import type { Clock } from '../util/clock.js';
import { admit, amountFor } from './admission.js';
import { isConversationId, type CounterItem, type CounterStore, type LimitState, type ReserveOutcome, type ReserveRequest, type ResponseOwner, type RestoreEntry, type SettleUsage } from './counter-store.js';
import { SLIDING_SLOTS, WindowCalculator, rebucketSlots, slotEpoch, slotLengthMs, windowLengthMs } from './windows.js';
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
  /** The slot length its epochs count in (a reload can change the window's, see sliding()). */
  slotMs: number;
  epochs: number[];
  counts: number[];
}
interface BucketState {
  kind: 'bucket';
  used: number;
  atMs: number;
  /** Everything ever added (reservations, settlements above them, restores), and everything given back. */
  added: number;
  givenBack: number;
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
  /** Buckets only (else absent): item i's bucket `added` and `givenBack` right after its amount went in, at 2i and 2i + 1. */
  marks?: number[];
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
    const refs: number[] = new Array(req.items.length);
    let marks: number[] | undefined;
    for (let i = 0; i < req.items.length; i++) {
      refs[i] = this.add(req.items[i], now, decision.amounts[i]);
      if (req.items[i].algorithm !== 'token_bucket') continue;
      const s = this.counters.get(req.items[i].key) as BucketState;
      marks ??= new Array(2 * req.items.length).fill(0);
      marks[2 * i] = s.added;
      marks[2 * i + 1] = s.givenBack;
    }
    const placement: Placement = { items: req.items, refs, amounts: decision.amounts, atMs: now };
    if (marks) placement.marks = marks;
    this.reservations.set(req.id, placement);
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
          ? bucketCorrection(item, placed.refs[i], placed.amounts[i], actual, now - placed.atMs, placed.marks && this.bucketSince(item, placed.marks, i, now))
          : actual - placed.amounts[i];
      if (delta !== 0) this.adjust(item, placed.refs[i], delta, now);
    }
  }

  async restore(entries: RestoreEntry[]): Promise<void> {
    const now = this.clock.now();
    for (const { item, used, slots, kept, windowStartMs } of entries) {
      if (item.algorithm === 'sliding_window' && slots) {
        const current = slotEpoch(item.window, now);
        const all = slots.map((s) => ({ epoch: slotEpoch(item.window, s.atMs), used: s.used }));
        const counted = all.filter((s) => current - s.epoch <= SLIDING_SLOTS && s.epoch <= current).sort((a, b) => b.epoch - a.epoch);
        // Slots that left the window since the ledger was read (a rebuild takes seconds) are no longer in `used`'s window.
        const gone = all.reduce((sum, s) => (current - s.epoch > SLIDING_SLOTS ? sum + s.used : sum), 0);
        let short = kept ? used - gone - this.usedNow(item, now) : Infinity;
        for (const slot of counted) {
          if (short <= 0) break;
          const missing = Math.min(short, slot.used - this.slotCount(item, slot.epoch, now));
          if (missing <= 0) continue;
          this.addToSlot(item, slot.epoch, missing, now);
          short -= missing;
        }
        // Short of `used` still, though no slot is below its figure: the rest counts from now.
        if (kept && short > 0) this.add(item, now, short);
        continue;
      }
      // Counted in a window that has ended since: nothing of it is the current window's.
      if (item.algorithm === 'fixed_window' && windowStartMs !== undefined && windowStartMs !== this.windows.bounds(item.window, now).startMs) continue;
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
    this.setOwner(id, owner, ttlMs);
  }

  private setOwner(id: string, owner: ResponseOwner, ttlMs: number): void {
    const owners = this.ownersOf(id);
    owners.delete(id); // re-inserted last: a record made again is the newest
    owners.set(id, { owner, expiresAtMs: this.clock.now() + ttlMs });
    if (owners.size > this.maxResponseOwners) owners.delete(owners.keys().next().value!);
  }

  async responseOwner(id: string): Promise<ResponseOwner | undefined> {
    return this.liveOwner(id);
  }

  /** The owner recorded for `id` while its record lives; an expired record is forgotten. */
  private liveOwner(id: string): ResponseOwner | undefined {
    const owners = this.ownersOf(id);
    const entry = owners.get(id);
    if (!entry) return undefined;
    if (entry.expiresAtMs > this.clock.now()) return entry.owner;
    owners.delete(id);
    return undefined;
  }

  async growResponse(id: string, tokens: number, ttlMs: number): Promise<void> {
    // Read and written with no await between: adds made at once each count.
    const owner = this.liveOwner(id);
    if (owner?.contextTokens === undefined) return;
    this.setOwner(id, { ...owner, contextTokens: owner.contextTokens + tokens }, ttlMs);
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
        const slots = this.sliding(item, now)!;
        const current = slotEpoch(item.window, now);
        let sum = 0;
        for (let i = 0; i < slots.epochs.length; i++) if (current - slots.epochs[i] <= SLIDING_SLOTS) sum += slots.counts[i];
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
      this.addToSlot(item, epoch, amount, now);
      return epoch;
    }
    const used = this.usedNow(item, now);
    // Updated in place: a bucket is added to on every request.
    const s = this.counters.get(item.key);
    if (s?.kind === 'bucket') {
      s.used = used + amount;
      s.atMs = now;
      s.added += amount;
    } else this.counters.set(item.key, { kind: 'bucket', used: used + amount, atMs: now, added: amount, givenBack: 0 });
    return used;
  }

  /** Corrects an earlier placement; a window or slot that has already passed is left alone. */
  private adjust(item: CounterItem, ref: number, delta: number, now: number): void {
    const s = this.counters.get(item.key);
    if (!s) return;
    if (s.kind === 'fixed') {
      if (s.startMs === ref) s.used = Math.max(0, s.used + delta);
    } else if (s.kind === 'sliding') {
      // A slot after the current one was numbered in another slot length (reserved before a reload changed
      // the window): where it lies now is unknown, so it is left as reserved.
      if (ref <= slotEpoch(item.window, now)) this.addToSlot(item, ref, delta, now);
    } else {
      const before = this.usedNow(item, now);
      s.used = Math.max(0, before + delta);
      s.atMs = now;
      if (delta > 0) s.added += delta;
      else s.givenBack += before - s.used;
    }
  }

  /** A bucket's level now and what went in and was given back since a reservation's marks (see BucketSince). */
  private bucketSince(item: CounterItem, marks: number[], i: number, now: number): BucketSince {
    const s = this.counters.get(item.key) as BucketState;
    return { level: this.usedNow(item, now), addedAfter: s.added - marks[2 * i], givenBackAfter: s.givenBack - marks[2 * i + 1] };
  }

  /**
   * `item`'s sliding counter, its slots in the item's own slot length. One kept in another length (a reload
   * changed the window) is re-bucketed first: each slot's usage counted as of the slot's end (or now, if
   * sooner), so none of it leaves the window sooner than it would have.
   */
  private sliding(item: CounterItem, now: number): SlidingState | undefined {
    const s = this.counters.get(item.key);
    if (s?.kind !== 'sliding') return undefined;
    const slotMs = slotLengthMs(item.window);
    if (s.slotMs === slotMs) return s;
    const moved = emptySliding(slotMs);
    for (const [epoch, count] of rebucketSlots(s.epochs, s.counts, s.slotMs, slotMs, now)) {
      const i = epoch % (SLIDING_SLOTS + 1);
      moved.epochs[i] = epoch;
      moved.counts[i] = count;
    }
    this.counters.set(item.key, moved);
    return moved;
  }

  private slotCount(item: CounterItem, epoch: number, now: number): number {
    const s = this.sliding(item, now);
    if (!s) return 0;
    const i = epoch % (SLIDING_SLOTS + 1);
    return s.epochs[i] === epoch ? s.counts[i] : 0;
  }

  private addToSlot(item: CounterItem, epoch: number, amount: number, now: number): void {
    let s = this.sliding(item, now);
    if (!s) {
      s = emptySliding(slotLengthMs(item.window));
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
    const s = this.sliding(item, now);
    if (!s) return [];
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
    const s = this.sliding(item, now);
    const current = Math.floor(now / slotMs);
    let oldest = current;
    if (s) for (let i = 0; i < s.epochs.length; i++) if (current - s.epochs[i] <= SLIDING_SLOTS && s.counts[i] > 0) oldest = Math.min(oldest, s.epochs[i]);
    return (oldest + SLIDING_SLOTS + 1) * slotMs;
  }
}

function emptySliding(slotMs: number): SlidingState {
  return { kind: 'sliding', slotMs, epochs: new Array(SLIDING_SLOTS + 1).fill(-Infinity), counts: new Array(SLIDING_SLOTS + 1).fill(0) };
}

/** A bucket as a settlement finds it, against the reservation's marks: its level, and what went in and was given back since. */
export interface BucketSince {
  level: number;
  addedAfter: number;
  givenBackAfter: number;
}

/**
 * What settling a bucket reservation changes its level by. A bucket drains oldest first: of `reserved`,
 * put on top of a level `before`, what is still in the bucket after `elapsedMs` is what has not drained,
 * and the same goes for what the call `actual`ly used. Only that difference moves the level: giving back
 * the whole difference would also give back drain the reservation already took, erasing usage admitted
 * after it (up to a whole bucket) and letting a burst past the capacity.
 *
 * `before` alone overstates what is left of the reservation once usage below it was given back since
 * (a refunded call reserved earlier): the reservation then sat lower and drained sooner, and giving back
 * by `before` erased usage admitted after it. So a refund gives back at most what is surely left of the
 * reservation (`since`): the level, less everything that went in after it (all of it may still be
 * there), less what may still be there below it (`before` less the drain, less all given back since).
 * Never more than is left, so never others' usage; a settlement above the reservation adds as before.
 */
export function bucketCorrection(item: CounterItem, before: number, reserved: number, actual: number, elapsedMs: number, since?: BucketSince): number {
  const drained = (Math.max(0, elapsedMs) * item.max) / windowLengthMs(item.window);
  const left = undrained(reserved, before, drained);
  if (actual >= reserved || !since) return undrained(actual, before, drained) - left;
  const below = Math.max(0, before - drained - since.givenBackAfter);
  const surelyLeft = Math.min(left, Math.max(0, since.level - since.addedAfter - below));
  return -Math.min(surelyLeft, reserved - actual);
}

/** What is left of `amount`, added on top of `before`, once `drained` has gone (oldest first). */
function undrained(amount: number, before: number, drained: number): number {
  return Math.min(amount, Math.max(0, before + amount - drained));
}
