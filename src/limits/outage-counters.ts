// What a fail-open instance counts by itself while the shared store does not answer: local counters
// holding 1/instances of each limit's room, seeded from the last readings of the shared counters, and the
// usage admitted against them, kept for replay into the shared store once it is back. ResilientStore
// decides when these are used; this file only does the counting.
import type { OnStoreError } from '../config/policy.js';
import type { Clock } from '../util/clock.js';
import { amountFor } from './admission.js';
import type { CounterItem, LimitState, ReserveOutcome, ReserveRequest, SettleUsage } from './counter-store.js';
import { LocalUsageLog } from './local-usage.js';
import { MemoryCounterStore } from './memory-store.js';
import { ReplayLog, type ReconcileTarget } from './replay-log.js';
import { StoreUnavailableError } from './store-errors.js';
import { failsOpen } from './store-outage.js';
import { WindowCalculator, windowLengthMs } from './windows.js';
import { ChurnMap } from '../util/churn-map.js';

const NO_USAGE: SettleUsage = { input: 0, output: 0, request: 0 };

export interface OutageCountersOptions {
  /** `storage.on_store_error`; a limit's own `on_store_error` overrides it. */
  defaultMode: OnStoreError;
  /** `storage.instances`: local counters hold 1/instances of each limit's room. */
  instances: number;
  timezone: string;
  clock: Clock;
}

/** How one request's limits are counted without the shared store. */
export interface OutagePlan {
  /** The items with max scaled to this instance's share, for local counting. */
  local: CounterItem[];
  /** Some enforced limit must fail closed: without the store, the request is refused. */
  closed: boolean;
  /** Indexes of limits that may fail open, whose last known usage seeds the local counters. */
  openIdx: number[];
}

interface Seen {
  item: CounterItem;
  used: number;
  resetAtMs: number;
  atMs: number;
}

interface LocalReservation {
  store: MemoryCounterStore;
  /**
   * The request as admitted locally, its output the one granted (what LocalCallsMoved.move places); once
   * placed in the shared store but for its fixed windows that had ended, those alone.
   */
  req: ReserveRequest;
  atMs: number;
  /** What it reserved in each of `req.items`. */
  reserved: number[];
}

/** A local reservation still running, as LocalCallsMoved places it. */
export interface RunningCall {
  req: ReserveRequest;
  /** Indexes in `req.items` of the fixed windows it was admitted in that have ended since. */
  ended: number[];
}

export class OutageCounters {
  /** One local store per outage, from the first suspect timeout until the store is confirmed back. */
  private store: MemoryCounterStore | undefined;
  private readonly itemPlans = new WeakMap<CounterItem, { local: CounterItem; failOpen: boolean }>();
  private readonly lastSeen = new Map<string, Seen>();
  private readonly open = new ChurnMap<string, LocalReservation>();
  private readonly usage = new LocalUsageLog();
  private readonly replay: ReplayLog;
  private readonly windows: WindowCalculator;

  /**
   * How much of a limit this instance holds in budget leases (CounterStore.countLeasedSlices). They keep
   * admitting through an outage, so a new outage's share is that much smaller: the instance then admits at
   * most 1/instances of the room it last saw, as without leases, or what its slices hold where that is
   * more (counted in the store already). Seeded without it, each instance admitted its whole slice and a
   * third of the room besides (3,465 on a limit of 3,000 over three instances, review s39).
   */
  leasedSlices?: (item: CounterItem) => number;

  constructor(private readonly opts: OutageCountersOptions) {
    this.replay = new ReplayLog(opts.timezone);
    this.windows = new WindowCalculator(opts.timezone);
  }

  /** Flushes of the replay completed so far: a reading sent now includes what they sent. */
  get flushes(): number {
    return this.usage.flushes;
  }

  /** Settled local usage not yet replayed into the shared store. */
  get unsent(): number {
    return this.replay.size;
  }

  /** Local reservations not settled yet. */
  get openCount(): number {
    return this.open.size;
  }

  /** Whether this outage's local counters exist (they keep what was admitted locally). */
  get counting(): boolean {
    return this.store !== undefined;
  }

  /** Ends this outage's local counters; the next one starts from fresh readings plus usage not yet in them. */
  drop(): void {
    this.store = undefined;
  }

  plan(items: CounterItem[]): OutagePlan {
    // Per item: one item appears in the lists of many keys and routes.
    const local: CounterItem[] = new Array(items.length);
    const openIdx: number[] = [];
    let closed = false;
    for (let i = 0; i < items.length; i++) {
      let known = this.itemPlans.get(items[i]);
      if (!known) {
        const item = items[i];
        known = { local: { ...item, max: item.max / this.opts.instances }, failOpen: failsOpen(item.mode, item.onStoreError, this.opts.defaultMode) };
        this.itemPlans.set(item, known);
      }
      local[i] = known.local;
      if (known.failOpen) openIdx.push(i);
      else closed = true;
    }
    return { local, closed, openIdx };
  }

  /** Keeps a reading of the shared counters; `flushes`: replay flushes completed when the reading was sent. */
  remember(items: CounterItem[], idx: number[], states: LimitState[], flushes: number): void {
    const atMs = this.opts.clock.now();
    for (const i of idx) {
      const key = items[i].key;
      this.lastSeen.set(key, { item: items[i], used: states[i].used, resetAtMs: states[i].resetAtMs, atMs });
      this.usage.sawReading(key, flushes);
    }
  }

  reserve(req: ReserveRequest, plan: OutagePlan): ReserveOutcome {
    if (plan.closed) throw new StoreUnavailableError();
    const store = (this.store ??= this.seeded());
    const outcome = store.reserveSync({ ...req, items: plan.local });
    if (outcome.ok) {
      const atMs = this.opts.clock.now();
      const reserved = req.items.map((item) => amountFor(item, req.input, outcome.output, 1, req.factors));
      this.open.set(req.id, { store, req: { ...req, output: outcome.output }, atMs, reserved });
      this.usage.admitted(req.items, reserved, atMs, outcome.states);
    }
    // Report the whole limit with this instance's room left, so messages and headers stay truthful.
    // A local token bucket drains at its own share's rate, which the time a 429 gives must use.
    const states = outcome.states.map((s, i): LimitState => {
      const state: LimitState = { ...s, used: req.items[i].max - (plan.local[i].max - s.used), max: req.items[i].max };
      if (req.items[i].algorithm === 'token_bucket') state.drainPerWindow = plan.local[i].max;
      return state;
    });
    return { ...outcome, states };
  }

  /**
   * What fail-open limits are admitted against now, without changing anything: each as the whole limit
   * with this instance's room left (as `reserve` reports it); undefined for limits that fail closed.
   * Before the first local reservation of an outage, the counters it would start from.
   */
  async peek(items: CounterItem[]): Promise<Array<LimitState | undefined>> {
    const plan = this.plan(items);
    const states = await (this.store ?? this.seeded()).peek(plan.local);
    const open = new Set(plan.openIdx);
    return items.map((item, i) => (open.has(i) ? { ...states[i], used: item.max - (plan.local[i].max - states[i].used), max: item.max } : undefined));
  }

  /** The local reservations not settled yet, each as admitted (its output the one granted). */
  running(): RunningCall[] {
    const now = this.opts.clock.now();
    return [...this.open.values()].map((local) => ({ req: local.req, ended: this.endedSince(local.req.items, local.atMs, now) }));
  }

  /**
   * `id`, reserved locally, now holds what it reserved in the shared store (LocalCallsMoved.move): it
   * settles there, and counts here no more, but in the items at `keep` (fixed windows that ended since its
   * admission, where its usage is replayed when it settles).
   */
  moved(id: string, keep: number[] = []): void {
    const local = this.open.get(id);
    if (!local) return;
    const kept = new Set(keep);
    const movedIdx = local.req.items.flatMap((_, i) => (kept.has(i) ? [] : [i]));
    this.usage.settled(movedIdx.map((i) => local.req.items[i]), movedIdx.map((i) => local.reserved[i]), NO_USAGE);
    if (keep.length === 0) {
      this.open.delete(id);
      return;
    }
    local.req = { ...local.req, items: keep.map((i) => local.req.items[i]) };
    local.reserved = keep.map((i) => local.reserved[i]);
  }

  /**
   * Settles `id` when it was reserved locally (its usage then waits for the replay): the items it counted in
   * here; undefined otherwise.
   */
  async settle(id: string, usage: SettleUsage): Promise<CounterItem[] | undefined> {
    const local = this.open.get(id);
    if (!local) return undefined;
    this.open.delete(id);
    await local.store.settle(id, usage);
    this.replay.record(local.req.items, local.atMs, usage);
    this.usage.settled(local.req.items, local.reserved, usage);
    return local.req.items;
  }

  /** Replays settled local usage into the shared store; rejects (keeping it) when the store fails. */
  async replayInto(target: ReconcileTarget): Promise<void> {
    // Taken in the same tick as the replay log seals what it sends.
    const sent = this.usage.startFlush();
    await this.replay.flush(target);
    sent();
  }

  private endedSince(items: CounterItem[], atMs: number, now: number): number[] {
    return items.flatMap((item, i) => (item.algorithm === 'fixed_window' && this.windows.bounds(item.window, atMs).endMs <= now ? [i] : []));
  }

  /**
   * Local counters for a new outage, seeded with 1/instances of the usage last seen in the shared store:
   * each instance then admits at most 1/instances of the room that was left, so together they stay near
   * the limit (off only by what others admitted after this instance's last look). Usage this instance
   * counted locally before (an earlier scare or outage) that those readings may miss is added in full, and
   * so is what it holds in budget leases (leasedSlices).
   */
  private seeded(): MemoryCounterStore {
    const store = new MemoryCounterStore(this.opts.clock, this.opts.timezone);
    const now = this.opts.clock.now();
    const n = this.opts.instances;
    const seeds = new Map<string, { item: CounterItem; used: number }>();
    const add = (item: CounterItem, used: number, atMs: number, resetAtMs: number): boolean => {
      if (item.algorithm === 'fixed_window' && now >= resetAtMs) return false; // that window is over
      const length = windowLengthMs(item.window);
      if (item.algorithm === 'sliding_window' && now - atMs >= length) return false; // out of the window
      const localItem = this.plan([item]).local[0];
      // A local bucket refills at its own (1/instances) rate.
      const drained = item.algorithm === 'token_bucket' ? ((now - atMs) * localItem.max) / length : 0;
      const left = Math.max(0, used - drained);
      if (left <= 0) return false;
      const seed = seeds.get(item.key);
      if (seed) seed.used += left;
      else seeds.set(item.key, { item: localItem, used: left });
      return true;
    };
    for (const seen of this.lastSeen.values()) {
      add(seen.item, seen.used / n, seen.atMs, seen.resetAtMs);
      const leased = this.leasedSlices?.(seen.item) ?? 0;
      if (leased > 0) add(seen.item, leased, now, seen.resetAtMs);
    }
    this.usage.seed(add);
    // MemoryCounterStore.restore does its work before returning its promise.
    void store.restore([...seeds.values()]);
    return store;
  }
}
