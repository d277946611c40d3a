// Wraps the shared (Redis) store with `on_store_error`: while it does not answer, requests whose limits
// are all `fail_open` are admitted against local counters holding 1/instances of each limit's room, the
// rest are refused (503); nothing waits on a dead store, and the gateway never crashes. Whether the store
// is in use, and the probe that notices its recovery, are StoreHealth's (store-health.ts); this wrapper
// counts locally meanwhile, then replays locally counted usage and pending settlements.
//
// A timeout first makes the store suspect (a PING decides): fail-open requests counted locally meanwhile
// use the local counters the outage then keeps, so a share is handed out once per outage; a false alarm
// drops them, and the next outage's counters start from fresh readings plus any local usage not yet in them.
import type { OnStoreError } from '../config/policy.js';
import type { CounterItem, CounterStore, HeldCalls, LimitState, LimitStoreSetting, ReserveOutcome, ReserveRequest, ResponseOwner, RestoreEntry, SettleUsage, StoreMode } from './counter-store.js';
import { OutageCounters, type OutageCountersOptions, type OutagePlan } from './outage-counters.js';
import type { ReconcileEntry } from './redis/redis-store-options.js';
import { CountersNotRebuiltError, StoreUnavailableError } from './store-errors.js';
import { TollgateError } from '../errors/tollgate-error.js';
import { throttledLog } from '../util/log-throttle.js';
import { StoreHealth, type StoreHealthOptions } from './store-health.js';
import { LocalCallsMoved } from './local-calls-moved.js';
import { SettlementQueue } from './settlement-queue.js';
import { RowsAfterRebuild } from './rows-after-rebuild.js';

/** The shared store as the wrapper needs it: a CounterStore that can also be pinged and reconciled into. */
export interface SharedCounterStore extends CounterStore {
  ping(): Promise<void>;
  reconcile(batchId: string, entries: ReconcileEntry[]): Promise<void>;
  rebuildWhenLost(organizations: string[], rebuild: () => Promise<void>): Promise<void>;
  rebuildUnderWay(items: readonly CounterItem[]): Promise<void> | undefined;
  rebuildReading(id: string): Promise<void> | undefined;
  holdsCounters(organizations: string[]): Promise<boolean>;
}

export interface ResilientStoreOptions extends OutageCountersOptions, StoreHealthOptions {}

export class ResilientStore implements CounterStore {
  private readonly health: StoreHealth;
  private readonly outage: OutageCounters;
  private readonly settlements: SettlementQueue;
  /** Local calls still running when the store is used again, placed in it (local-calls-moved.ts). */
  private readonly moved: LocalCallsMoved;
  /** Local calls' rows wait for the rebuilds of their lost counters under way (rows-after-rebuild.ts). */
  private readonly rowsAfter = new RowsAfterRebuild();
  private readonly isHealthy = (): boolean => this.health.healthy;
  private flushing: Promise<void> | undefined;
  private readonly lostLog = throttledLog(5000);

  constructor(
    readonly primary: SharedCounterStore,
    private readonly opts: ResilientStoreOptions,
  ) {
    this.outage = new OutageCounters(opts);
    this.health = new StoreHealth(primary, opts, {
      waiting: () => ({ replayed: this.outage.unsent, settled: this.settlements.waiting }),
      flush: () => this.flush(),
      flushRest: () => {
        if (this.backlog > 0) this.kickFlush();
      },
      rejoin: () => {
        this.outage.drop();
        this.moved.move();
      },
    });
    this.settlements = new SettlementQueue(primary, (err) => this.failed(err));
    this.moved = new LocalCallsMoved(primary, this.outage, (err, as) => {
      this.failed(err);
      this.settlements.keep(as, { input: 0, output: 0, request: 0 }); // it may have landed: cancelled once the store answers
    });
  }

  /**
   * For limits that follow `storage.on_store_error`: `ok`, or that mode while the store does not answer
   * (or, for `fail_open`, while locally counted usage is still settling in).
   */
  get mode(): StoreMode {
    return this.health.mode;
  }

  /** The mode in force for a limit whose own setting is `onStoreError` (per-limit overrides). */
  modeFor(onStoreError: OnStoreError): StoreMode {
    return this.health.modeFor(onStoreError);
  }

  describeLimits(limits: () => LimitStoreSetting[]): void {
    this.health.describeLimits(limits);
  }

  get probing(): boolean {
    return this.health.probing;
  }

  onModeChange(listener: (mode: StoreMode) => void): void {
    this.health.onModeChange(listener);
  }

  startDegraded(why: string): void {
    this.health.startDegraded(why);
  }

  markUnavailable(why: string): void {
    this.health.markUnavailable(why);
  }

  private get healthy(): boolean {
    return this.health.healthy;
  }

  rebuildWhenLost(organizations: string[], rebuild: () => Promise<void>): Promise<void> {
    return this.primary.rebuildWhenLost(organizations, async () => {
      await rebuild();
      // Calls admitted locally while the rebuild took longer than rebuild_wait_ms (countersLost) have no row
      // in the ledger it read: placed in the store now (their placement waits for the counters to be marked
      // rebuilt), or the room they hold would be handed out again until they ended. No outage, no hold:
      // nothing else would place them.
      if (this.health.settled) this.moved.move();
    });
  }

  stopping(): void {
    this.rowsAfter.stopWaiting();
  }

  rowAfter(id: string): Promise<void> | undefined {
    return this.rowsAfter.rowAfter(id);
  }

  settlingRows(): Promise<void> {
    return this.rowsAfter.settlingRows();
  }

  holdsCounters(organizations: string[]): Promise<boolean> {
    return this.primary.holdsCounters(organizations);
  }

  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    const plan = this.outage.plan(req.items);
    if (this.health.holding && !plan.closed) return this.outage.reserve(req, plan);
    const earlierSettlement = this.settlements.beforeReserving(req.id, this.isHealthy);
    if (earlierSettlement) await earlierSettlement;
    if (this.healthy) {
      const flushes = this.outage.flushes;
      try {
        const outcome = await this.primary.reserve(req);
        if (plan.openIdx.length > 0) this.outage.remember(req.items, plan.openIdx, outcome.states, flushes);
        // The store answers and nothing is in doubt: local counters of an earlier scare are over (the
        // next outage starts from fresh readings). While a timeout is being confirmed they stay.
        if (this.health.settled) this.outage.drop();
        return outcome;
      } catch (err) {
        if (err instanceof CountersNotRebuiltError) return this.countersLost(req, plan, err);
        this.failed(err);
        // The reservation may have landed before its answer was lost: cancel it once the store answers.
        this.settlements.keep(req.id, { input: 0, output: 0, request: 0 });
      }
    }
    return this.outage.reserve(req, plan);
  }

  async settle(id: string, usage: SettleUsage): Promise<void> {
    const placing = this.moved.placing(id);
    if (placing) await placing;
    const as = this.moved.settleAs(id);
    // A local call, or one placed in the store but for its fixed windows that had ended: its usage in
    // those goes to the replay (into the windows it was admitted in, ended ones dropped), the rest to the store.
    const localItems = await this.outage.settle(id, usage);
    if (localItems) {
      if (this.healthy) this.kickFlush();
      // Its usage is replayed after the rebuilds of its counters under way: its row must miss what they read.
      const replayedAfter = usage.rowFollows && this.primary.rebuildUnderWay(localItems);
      if (replayedAfter) this.rowsAfter.note(id, replayedAfter);
      if (as === id) return;
    }
    // Admitted by the store, its counters lost since and being rebuilt: its settlement lands once the rebuild
    // has placed it back, so its row must miss what the rebuild reads (or it counts twice).
    const settledAfter = usage.rowFollows && this.primary.rebuildReading(as);
    if (settledAfter) this.rowsAfter.note(id, settledAfter);
    // Never wait on a store known to be down; the settlement is applied when it is back (idempotently).
    if (!this.healthy) return this.settlements.keep(as, usage);
    const sent = this.settlements.send(as, usage);
    // The call's row is written once the store has answered: a row in the ledger whose settlement had not
    // reached the store yet (redirected during a cluster failover) was counted twice by a rebuild reading
    // the ledger then, in the row and in the reservation still held (rebuild-counters.ts).
    if (usage.rowFollows) this.rowsAfter.afterSettlement(id, sent);
  }

  /** Resolves once every settlement sent so far has been answered (or queued for retry). */
  quiesce(): Promise<void> {
    return this.settlements.quiesce();
  }

  countLeasedSlices(slicesOf: (item: CounterItem) => number): void {
    this.outage.leasedSlices = slicesOf;
  }

  restore(entries: RestoreEntry[]): Promise<void> {
    return this.primary.restore(entries);
  }

  /** Reads the shared counters; while they are unreachable, fails at once (a metrics scrape must not wait). */
  peek(items: CounterItem[]): Promise<LimitState[]> {
    return this.sharedOnly(() => this.primary.peek(items));
  }

  /**
   * While the shared store does not answer: the local counters fail-open limits are admitted against
   * (undefined for limits that fail closed, which admit nothing); for metrics, so headroom stays visible.
   */
  async peekDegraded(items: CounterItem[]): Promise<Array<LimitState | undefined>> {
    // A store that answers is read with peek; this is only the outage's view (and never waits on Redis).
    if (this.healthy) throw new StoreUnavailableError();
    return this.outage.peek(items);
  }

  async openReservations(): Promise<number> {
    return (await this.primary.openReservations()) + this.outage.openCount;
  }

  /**
   * Only the shared store can hold a record every instance sees, so nothing is kept locally during an
   * outage: the call that produced the response fails to record it (its caller logs that) and carries on.
   */
  recordResponse(id: string, owner: ResponseOwner, ttlMs: number): Promise<void> {
    return this.sharedOnly(() => this.primary.recordResponse(id, owner, ttlMs));
  }

  growResponse(id: string, tokens: number, ttlMs: number): Promise<void> {
    return this.sharedOnly(() => this.primary.growResponse(id, tokens, ttlMs));
  }

  /** Fails at once while the store is unreachable: an owner that cannot be read is not assumed (the caller decides). */
  responseOwner(id: string): Promise<ResponseOwner | undefined> {
    return this.sharedOnly(() => this.primary.responseOwner(id));
  }

  async held(items: CounterItem[]): Promise<number[]> {
    return (await this.primary.held?.(items)) ?? items.map(() => 0);
  }

  async heldCalls(organizations: string[]): Promise<HeldCalls> {
    return (await this.primary.heldCalls?.(organizations)) ?? { calls: [], sinceMs: 0 };
  }

  async heldInStore(items: CounterItem[]): Promise<number[]> {
    return (await this.primary.heldInStore?.(items)) ?? items.map(() => 0);
  }

  async restoreHeld(items: CounterItem[]): Promise<number[]> {
    return (await (this.primary.restoreHeld ?? this.primary.held)?.call(this.primary, items)) ?? items.map(() => 0);
  }

  /** Usage and settlements still waiting to reach the shared store (0 once reconciled). */
  get backlog(): number {
    return this.outage.unsent + this.settlements.waiting;
  }

  async close(): Promise<void> {
    this.health.close();
    await this.quiesce();
    if (this.healthy && this.backlog > 0) await this.flush().catch(() => {});
    await this.primary.close();
  }

  /**
   * The store answers but lost its counters, and the ledger cannot rebuild them yet: not an outage (no
   * mode switch, no probe), yet limits that fail closed must refuse, or every budget would be handed out
   * again; those that fail open count locally, as in an outage.
   */
  private countersLost(req: ReserveRequest, plan: OutagePlan, err: CountersNotRebuiltError): ReserveOutcome {
    const until = err.waitedMs === undefined ? 'the ledger answers' : 'the rebuild from the ledger is done';
    this.lostLog((requests) => this.opts.log.warn({ store: this.opts.description, requests, error: err.message }, `counters lost by the store and not rebuilt yet: limits that fail closed refuse until ${until}`));
    if (plan.closed) throw new TollgateError('counters_not_rebuilt', err.waitedMs === undefined ? {} : { waitedMs: err.waitedMs }, { 'retry-after': '1' });
    return this.outage.reserve(req, plan);
  }

  /** A call only the shared store can answer: refused at once while it is down, its failure noted. */
  private async sharedOnly<T>(call: () => Promise<T>): Promise<T> {
    if (!this.healthy) throw new StoreUnavailableError();
    try {
      return await call();
    } catch (err) {
      this.failed(err);
      throw err;
    }
  }

  private failed(err: unknown): void {
    this.health.failed(err);
  }

  /** Flushes local usage after recovery without holding up the request that produced it. */
  private kickFlush(): void {
    void this.flush().then(
      // A flush sends what was there when it began: usage settled meanwhile (a flush waits for a rebuild of
      // lost counters to finish, see RedisCounterStore.reconcile) would otherwise wait for the next outage.
      () => {
        if (this.healthy && this.backlog > 0) this.kickFlush();
      },
      (err: unknown) => this.failed(err),
    );
  }

  /** Sends pending settlements and locally counted usage; one flush at a time; rejects on the first failure. */
  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      await this.settlements.sendWaiting();
      await this.outage.replayInto(this.primary);
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }
}
