// Wraps the shared (Redis) store with `on_store_error`: while it does not answer, requests whose limits
// are all `fail_open` are admitted against local counters holding 1/instances of each limit's room, the
// rest are refused (503); nothing waits on a dead store, and the gateway never crashes. A background probe
// notices recovery, replays locally counted usage and pending settlements, then switches back.
//
// States: up → down (first failure) → holding (answers again, local usage replayed) → up. While holding,
// fail-open-only requests keep counting locally: the other instances notice the recovery up to a reconnect
// delay later, and until they have replayed their own local usage the shared counters read too low.
// A timeout first makes the store suspect (a PING decides): fail-open requests counted locally meanwhile
// use the local counters the outage then keeps, so a share is handed out once per outage; a false alarm
// drops them, and the next outage's counters start from fresh readings plus any local usage not yet in them.
import type { OnStoreError } from '../config/policy.js';
import type { Clock } from '../util/clock.js';
import { amountFor } from './admission.js';
import type { CounterItem, CounterStore, LimitState, LimitStoreSetting, ReserveOutcome, ReserveRequest, RestoreEntry, SettleUsage, StoreMode } from './counter-store.js';
import { MemoryCounterStore } from './memory-store.js';
import type { ReconcileEntry } from './redis/redis-store.js';
import { LocalUsageLog } from './local-usage.js';
import { ReplayLog } from './replay-log.js';
import { isTimeout, isUnavailable, StoreUnavailableError } from './store-errors.js';
import { failsOpen, outageMessage } from './store-outage.js';
import { windowLengthMs } from './windows.js';

/** The shared store as the wrapper needs it: a CounterStore that can also be pinged and reconciled into. */
export interface SharedCounterStore extends CounterStore {
  ping(): Promise<void>;
  reconcile(batchId: string, entries: ReconcileEntry[]): Promise<void>;
  rebuildWhenLost(organizations: string[], rebuild: () => Promise<void>): Promise<void>;
}

/** The pino methods used (a pino logger fits). */
export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ResilientStoreOptions {
  /** `storage.on_store_error`; a limit's own `on_store_error` overrides it. */
  defaultMode: OnStoreError;
  /** `storage.instances`: local counters hold 1/instances of each limit's room. */
  instances: number;
  timezone: string;
  clock: Clock;
  log: StoreLog;
  /** The store URL without credentials, for logs. */
  description: string;
  /** How often to check a store that stopped answering. */
  probeIntervalMs?: number;
}

interface Plan {
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
  items: CounterItem[];
  atMs: number;
  /** What it reserved in each item. */
  reserved: number[];
}

// Settlements waiting for the store beyond this are dropped: their reservations stay charged (the safe side).
const MAX_PENDING_SETTLES = 100_000;
/** Longer than the reconnect backoff cap plus a probe interval, so every instance has replayed by then. */
export const RECOVERY_HOLD_MS = 2000;
const SETTLE_CONCURRENCY = 64;

export class ResilientStore implements CounterStore {
  private state: 'up' | 'down' | 'holding' = 'up';
  private closed = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private local: MemoryCounterStore | undefined;
  private readonly itemPlans = new WeakMap<CounterItem, { local: CounterItem; failOpen: boolean }>();
  private readonly lastSeen = new Map<string, Seen>();
  private readonly localOpen = new Map<string, LocalReservation>();
  private readonly localUsage = new LocalUsageLog();
  private limitSettings: (() => LimitStoreSetting[]) | undefined;
  private readonly pendingSettles = new Map<string, SettleUsage>();
  private readonly settling = new Set<Promise<void>>();
  private readonly replay: ReplayLog;
  private readonly listeners: Array<(mode: StoreMode) => void> = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastUsageErrorLog = 0;
  private checking = false;

  constructor(
    readonly primary: SharedCounterStore,
    private readonly opts: ResilientStoreOptions,
  ) {
    this.replay = new ReplayLog(opts.timezone);
  }

  /**
   * For limits that follow `storage.on_store_error`: `ok`, or that mode while the store does not answer
   * (or, for `fail_open`, while locally counted usage is still settling in).
   */
  get mode(): StoreMode {
    return this.modeFor(this.opts.defaultMode);
  }

  /** The mode in force for a limit whose own setting is `onStoreError` (per-limit overrides). */
  modeFor(onStoreError: OnStoreError): StoreMode {
    if (this.state === 'up' || (this.state === 'holding' && onStoreError === 'fail_closed')) return 'ok';
    return onStoreError;
  }

  /** The configured limits (read at each transition), so the outage log line names those that fail open and closed. */
  describeLimits(limits: () => LimitStoreSetting[]): void {
    this.limitSettings = limits;
    // Down since start-up: the first line could not name them.
    if (this.state !== 'down') return;
    const { msg, ...fields } = this.outageLine();
    if (fields.fail_open) this.opts.log.warn({ store: this.opts.description, mode: this.opts.defaultMode, ...fields }, msg);
  }

  private get healthy(): boolean {
    return this.state !== 'down';
  }

  rebuildWhenLost(organizations: string[], rebuild: () => Promise<void>): Promise<void> {
    return this.primary.rebuildWhenLost(organizations, rebuild);
  }

  onModeChange(listener: (mode: StoreMode) => void): void {
    this.listeners.push(listener);
  }

  /** Starts degraded (probing in the background) when the store did not answer at start-up. */
  startDegraded(why: string): void {
    this.markDown(new Error(why));
  }

  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    const plan = this.planFor(req.items);
    if (this.state === 'holding' && !plan.closed) return this.reserveLocally(req, plan);
    if (this.healthy) {
      const flushes = this.localUsage.flushes;
      try {
        const outcome = await this.primary.reserve(req);
        if (plan.openIdx.length > 0) this.remember(req.items, plan.openIdx, outcome.states, flushes);
        // The store answers and nothing is in doubt: local counters of an earlier scare are over (the
        // next outage starts from fresh readings). While a timeout is being confirmed they stay.
        if (this.local && this.state === 'up' && !this.checking) this.local = undefined;
        return outcome;
      } catch (err) {
        this.failed(err);
        // The reservation may have landed before its answer was lost: cancel it once the store answers.
        this.queueSettle(req.id, { input: 0, output: 0, request: 0 });
      }
    }
    return this.reserveLocally(req, plan);
  }

  async settle(id: string, usage: SettleUsage): Promise<void> {
    const local = this.localOpen.get(id);
    if (local) {
      this.localOpen.delete(id);
      await local.store.settle(id, usage);
      this.replay.record(local.items, local.atMs, usage);
      this.localUsage.settled(local.items, local.reserved, usage);
      if (this.healthy) this.kickFlush();
      return;
    }
    // Never wait on a store known to be down; the settlement is applied when it is back (idempotently).
    if (!this.healthy) return this.queueSettle(id, usage);
    // Sent now but not awaited: the response need not wait a round trip. Commands keep their order on the
    // connection (and slot), so this instance's next reserve or peek already sees the settlement.
    const sent: Promise<void> = this.primary
      .settle(id, usage)
      .catch((err: unknown) => {
        this.failed(err);
        this.queueSettle(id, usage);
      })
      .finally(() => this.settling.delete(sent));
    this.settling.add(sent);
  }

  /** Resolves once every settlement sent so far has been answered (or queued for retry). */
  async quiesce(): Promise<void> {
    while (this.settling.size > 0) await Promise.allSettled([...this.settling]);
  }

  restore(entries: RestoreEntry[]): Promise<void> {
    return this.primary.restore(entries);
  }

  /** Reads the shared counters; while they are unreachable, fails at once (a metrics scrape must not wait). */
  async peek(items: CounterItem[]): Promise<LimitState[]> {
    if (!this.healthy) throw new StoreUnavailableError();
    try {
      return await this.primary.peek(items);
    } catch (err) {
      this.failed(err);
      throw err;
    }
  }

  async openReservations(): Promise<number> {
    return (await this.primary.openReservations()) + this.localOpen.size;
  }

  /** Usage and settlements still waiting to reach the shared store (0 once reconciled). */
  get backlog(): number {
    return this.replay.size + this.pendingSettles.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    clearTimeout(this.holdTimer);
    await this.quiesce();
    if (this.healthy && this.backlog > 0) await this.flush().catch(() => {});
    await this.primary.close();
  }

  private reserveLocally(req: ReserveRequest, plan: Plan): ReserveOutcome {
    if (plan.closed) throw new StoreUnavailableError();
    // One local store per outage, from the first suspect timeout until the store is confirmed back.
    const store = (this.local ??= this.seededLocal());
    const outcome = store.reserveSync({ ...req, items: plan.local });
    if (outcome.ok) {
      const atMs = this.opts.clock.now();
      const reserved = req.items.map((item) => amountFor(item, req.input, outcome.output, 1));
      this.localOpen.set(req.id, { store, items: req.items, atMs, reserved });
      this.localUsage.admitted(req.items, reserved, atMs, outcome.states);
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

  private planFor(items: CounterItem[]): Plan {
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
  private remember(items: CounterItem[], idx: number[], states: LimitState[], flushes: number): void {
    const atMs = this.opts.clock.now();
    for (const i of idx) {
      const key = items[i].key;
      this.lastSeen.set(key, { item: items[i], used: states[i].used, resetAtMs: states[i].resetAtMs, atMs });
      this.localUsage.sawReading(key, flushes);
    }
  }

  /**
   * Local counters for a new outage, seeded with 1/instances of the usage last seen in the shared store:
   * each instance then admits at most 1/instances of the room that was left, so together they stay near
   * the limit (off only by what others admitted after this instance's last look). Usage this instance
   * counted locally before (an earlier scare or outage) that those readings may miss is added in full.
   */
  private seededLocal(): MemoryCounterStore {
    const store = new MemoryCounterStore(this.opts.clock, this.opts.timezone);
    const now = this.opts.clock.now();
    const n = this.opts.instances;
    const seeds = new Map<string, { item: CounterItem; used: number }>();
    const add = (item: CounterItem, used: number, atMs: number, resetAtMs: number): boolean => {
      if (item.algorithm === 'fixed_window' && now >= resetAtMs) return false; // that window is over
      const length = windowLengthMs(item.window);
      if (item.algorithm === 'sliding_window' && now - atMs >= length) return false; // out of the window
      const localItem = this.planFor([item]).local[0];
      // A local bucket refills at its own (1/instances) rate.
      const drained = item.algorithm === 'token_bucket' ? ((now - atMs) * localItem.max) / length : 0;
      const left = Math.max(0, used - drained);
      if (left <= 0) return false;
      const seed = seeds.get(item.key);
      if (seed) seed.used += left;
      else seeds.set(item.key, { item: localItem, used: left });
      return true;
    };
    for (const seen of this.lastSeen.values()) add(seen.item, seen.used / n, seen.atMs, seen.resetAtMs);
    this.localUsage.seed(add);
    // MemoryCounterStore.restore does its work before returning its promise.
    void store.restore([...seeds.values()]);
    return store;
  }

  private failed(err: unknown): void {
    if (isTimeout(err)) return this.confirm(err);
    if (isUnavailable(err)) return this.markDown(err);
    // A malformed call (a bug): this request follows its mode, the store stays in use. Logged at most every 10 s.
    const now = Date.now();
    if (now - this.lastUsageErrorLog > 10_000) {
      this.lastUsageErrorLog = now;
      this.opts.log.warn({ store: this.opts.description, error: (err as Error).message }, 'counter store refused a call');
    }
  }

  /**
   * One timeout is not enough to give up on the store: a stalled event loop (GC, a busy machine) fires
   * timers before reading replies that have arrived. A PING, bounded by the same timeout, decides.
   */
  private confirm(err: unknown): void {
    if (!this.healthy || this.checking) return;
    this.checking = true;
    this.primary.ping().then(
      () => {
        this.checking = false;
        if (this.state === 'down') return; // the probe replays once it answers
        // A false alarm: what was admitted locally meanwhile is replayed (and remembered for the next
        // outage's seed), the local counters are dropped, and cancels of lost reservations are sent.
        // While holding, the local counters stay until the hold ends; a replay or cancel whose timeout
        // led here is sent again now: nothing else would send it once the hold is over.
        if (this.state === 'up') this.local = undefined;
        if (this.backlog > 0) this.kickFlush();
      },
      () => {
        this.checking = false;
        this.markDown(err);
      },
    );
  }

  private markDown(err: unknown): void {
    if (!this.healthy || this.closed) return;
    // Keep the local counters: they already hold what was admitted locally while the timeout that led
    // here was being confirmed (or, down again while holding, this outage's usage). A share is never
    // handed out twice in one outage.
    clearTimeout(this.holdTimer);
    const before = this.mode;
    this.state = 'down';
    const { msg, ...fields } = this.outageLine();
    this.opts.log.warn({ store: this.opts.description, mode: this.opts.defaultMode, ...fields, error: (err as Error).message }, msg);
    if (this.mode !== before) this.emit();
    this.scheduleProbe();
  }

  /** The outage log line, naming the limits on each side when overrides mix the modes. */
  private outageLine(): ReturnType<typeof outageMessage> {
    let settings: LimitStoreSetting[] | undefined;
    try {
      settings = this.limitSettings?.();
    } catch {
      settings = undefined; // a log line never breaks the switch
    }
    return outageMessage(settings, this.opts.defaultMode, this.opts.instances);
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.opts.probeIntervalMs ?? 200);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    if (this.closed) return;
    try {
      await this.primary.ping();
      const replayed = this.replay.size;
      const settled = this.pendingSettles.size;
      await this.flush();
      const before = this.mode;
      this.state = 'holding';
      this.opts.log.info(
        { store: this.opts.description, replayed, settled, holdMs: RECOVERY_HOLD_MS },
        'counter store reachable again: local usage reconciled; fail_open limits rejoin the shared counters once every instance has had time to reconcile',
      );
      if (this.mode !== before) this.emit();
      // Local requests that finished during the flush wait for no one.
      if (this.backlog > 0) this.kickFlush();
      this.holdTimer = setTimeout(() => this.endHold(), RECOVERY_HOLD_MS);
      this.holdTimer.unref();
    } catch {
      this.scheduleProbe();
    }
  }

  private endHold(): void {
    if (this.state !== 'holding') return;
    const before = this.mode;
    this.state = 'up';
    this.local = undefined;
    if (this.mode !== before) this.emit();
    // Whatever still waits (a flush that failed during the hold) leaves now, not at the next scare.
    if (this.backlog > 0) this.kickFlush();
  }

  private queueSettle(id: string, usage: SettleUsage): void {
    if (this.pendingSettles.size >= MAX_PENDING_SETTLES) {
      const oldest = this.pendingSettles.keys().next().value;
      if (oldest !== undefined) this.pendingSettles.delete(oldest);
    }
    this.pendingSettles.set(id, usage);
  }

  /** Flushes local usage after recovery without holding up the request that produced it. */
  private kickFlush(): void {
    void this.flush().catch((err: unknown) => this.failed(err));
  }

  /** Sends pending settlements and locally counted usage; one flush at a time; rejects on the first failure. */
  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      while (this.pendingSettles.size > 0) {
        const chunk: Array<[string, SettleUsage]> = [];
        for (const entry of this.pendingSettles) if (chunk.push(entry) >= SETTLE_CONCURRENCY) break;
        await Promise.all(chunk.map(([id, usage]) => this.primary.settle(id, usage)));
        for (const [id] of chunk) this.pendingSettles.delete(id);
      }
      // Taken in the same tick as the replay log seals what it sends.
      const sent = this.localUsage.startFlush();
      await this.replay.flush(this.primary);
      sent();
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private emit(): void {
    for (const l of this.listeners) l(this.mode);
  }
}
