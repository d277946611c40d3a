// Budget leases (`storage.lease_ms`): an instance reserves a slice of a busy limit in the shared store
// with one ordinary reservation, then admits requests against that slice without a round trip. The
// slice is counted in the shared counters from the moment it is granted, so every instance together
// still never passes a limit; what the instance does not use goes back when the lease ends.
//
// A lease ends after `lease_ms`, or sooner where the shared store would count its use in another window:
// at a fixed window's end, or a sliding window's slot end (measured in the store's time, from the
// moment the lease was asked for, so a skewed instance clock cannot stretch it). Leases are sized from
// the demand seen and take at most a quarter of a limit's room left: near a limit they shrink below one
// request, and every request goes to the store exactly, as without leases.
import type { Clock } from '../util/clock.js';
import { amountFor } from './admission.js';
import type { CounterItem, CounterStore, LeaseStats, LimitState, ReserveOutcome, ReserveRequest, SettleUsage, StoreMode } from './counter-store.js';
import { HOT_REQUESTS, leaseLifetime, leaseSize, RENEW_BELOW } from './lease-rules.js';
import { countedIn, notYetCounted, placedWith, rebase, room, toPlaceAgain, toSettle, usable, type KeyState, type Lease } from './lease.js';
import { ChurnMap } from '../util/churn-map.js';
import { windowLengthMs } from './windows.js';

export interface LeaseOptions {
  /** The longest a lease is used for, ms (`storage.lease_ms`). */
  leaseMs: number;
  /**
   * Only measures how long a lease has been held and how busy a key is, so a monotonic clock: a wall
   * clock stepped back would stretch a lease past the window the store counted it in.
   */
  clock: Clock;
}


interface LeasedReservation {
  items: CounterItem[];
  leases: Lease[];
  amounts: number[];
}

export class LeasedStore implements CounterStore {
  private readonly keys = new Map<string, KeyState>();
  /** A limit's counter identity: the same key with another rule (after a reload) is another counter. */
  private readonly identities = new WeakMap<CounterItem, string>();
  /** Requests admitted against leases and not yet settled, by reservation id. */
  private readonly localReservations = new ChurnMap<string, LeasedReservation>();
  private leaseSeq = 0;
  /** Lease reservations open in the wrapped store (asked for, or granted and not yet handed back). */
  private leaseReservations = 0;
  /**
   * Lease grants (and overdraws being added) asked for and not yet answered. Their reservations may already
   * be in the store's figures while the lease is not yet in `keys`: peek() and held() wait for them, so that
   * they never read a lease as used by nobody, and close() does, so that a lease granted meanwhile is handed back.
   */
  private readonly grantsUnderWay = new Set<Promise<void>>();
  private readonly instanceTag = Math.random().toString(36).slice(2, 10);
  private readonly counts = { localAdmissions: 0, granted: 0 };
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  // Optional CounterStore methods: present exactly when the wrapped store has them.
  readonly peekDegraded?: CounterStore['peekDegraded'];
  readonly modeFor?: CounterStore['modeFor'];
  readonly onModeChange?: CounterStore['onModeChange'];
  readonly describeLimits?: CounterStore['describeLimits'];
  readonly rebuildWhenLost?: CounterStore['rebuildWhenLost'];
  readonly stopping?: CounterStore['stopping'];
  readonly rowAfter?: CounterStore['rowAfter'];
  readonly holdsCounters?: CounterStore['holdsCounters'];
  readonly heldCalls?: CounterStore['heldCalls'];
  readonly heldInStore?: CounterStore['heldInStore'];

  constructor(
    private readonly inner: CounterStore,
    private readonly opts: LeaseOptions,
  ) {
    if (inner.peekDegraded) this.peekDegraded = (items) => inner.peekDegraded!(items);
    if (inner.modeFor) this.modeFor = (setting) => inner.modeFor!(setting);
    if (inner.onModeChange) this.onModeChange = (listener) => inner.onModeChange!(listener);
    if (inner.describeLimits) this.describeLimits = (limits) => inner.describeLimits!(limits);
    if (inner.rebuildWhenLost) this.rebuildWhenLost = (orgs, rebuild) => inner.rebuildWhenLost!(orgs, rebuild);
    if (inner.stopping) this.stopping = () => inner.stopping!();
    if (inner.rowAfter) this.rowAfter = (id) => inner.rowAfter!(id);
    if (inner.holdsCounters) this.holdsCounters = (orgs) => inner.holdsCounters!(orgs);
    if (inner.heldCalls) this.heldCalls = (organizations) => inner.heldCalls!(organizations);
    if (inner.heldInStore) this.heldInStore = (items) => inner.heldInStore!(items);
    this.sweeper = setInterval(() => this.forgetQuietKeys(), Math.max(1000, 10 * opts.leaseMs));
    this.sweeper.unref();
  }

  get mode(): StoreMode | undefined {
    return this.inner.mode;
  }

  leaseStats(): LeaseStats {
    let open = 0;
    for (const k of this.keys.values()) open += k.open.size;
    return { ...this.counts, open };
  }

  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    const { items } = req;
    const now = this.opts.clock.now();
    const states = items.map((item) => this.keyState(item));
    const amounts = items.map((item) => amountFor(item, req.input, req.output, 1, req.factors));
    let local = items.length > 0 && !this.closed;
    for (let i = 0; i < items.length; i++) {
      const k = states[i];
      this.noteDemand(k, amounts[i], now);
      const lease = k.current;
      if (!lease || !usable(lease, now) || room(lease, now) < amounts[i]) local = false;
    }
    if (local) return this.admitLocally(req, states, amounts);
    const outcome = await this.inner.reserve(req);
    outcome.states.forEach((state, i) => (states[i].last = state));
    if (outcome.ok && outcome.storeTimeMs !== undefined) this.acquireWhereWorth(items, states, amounts);
    return outcome;
  }

  async settle(id: string, usage: SettleUsage): Promise<void> {
    const r = this.localReservations.get(id);
    if (!r) return this.inner.settle(id, usage);
    this.localReservations.delete(id);
    let overdraws: Promise<void>[] | undefined;
    for (let i = 0; i < r.items.length; i++) {
      const lease = r.leases[i];
      lease.consumed += amountFor(r.items[i], usage.input, usage.output, usage.request, usage.factors);
      lease.admitted--;
      // Counted down by the same amounts, but floating point need not land on 0 exactly.
      lease.pending = lease.admitted === 0 ? 0 : lease.pending - r.amounts[i];
      // A lease returned now carries the excess itself (a settlement above its reservation adds it).
      if (lease.retired && lease.admitted === 0) this.returnWhenDone(lease);
      else if (notYetCounted(lease) > 0) (overdraws ??= []).push(this.countOverdraw(lease));
    }
    // Like the store's own settle: once it resolves, the usage is counted there.
    if (overdraws) await Promise.all(overdraws);
  }

  /**
   * What this instance holds of each item in the figures peek() gives and has not yet written to the ledger:
   * the store's open reservations (leases whole) less what was used of its leases and settled (those calls'
   * rows are written), and less the unused room peek() already leaves out. The audit subtracts this from
   * peek's figure: with that room in both, an open lease's room read as negative drift on every limit it
   * covered (-1,889 tokens on a daily limit whose counter and ledger both read 487: test/failed-streams-counters.test.ts).
   */
  async held(items: CounterItem[]): Promise<number[]> {
    return this.heldBeside(items, this.inner.held);
  }

  /** The same, from only what of the store's reservations its restore does not count itself (CounterStore.restoreHeld). */
  async restoreHeld(items: CounterItem[]): Promise<number[]> {
    return this.heldBeside(items, this.inner.restoreHeld ?? this.inner.held);
  }

  private async heldBeside(items: CounterItem[], innerHeld: CounterStore['held']): Promise<number[]> {
    await this.grantsAnswered();
    const states = await this.inner.peek(items);
    // Read after the peek, not beside it: a settlement queued while the peek was out reaches the store
    // before anything sent after this (a rebuild's restore), so its reservation is no longer held there.
    const inner = (await innerHeld?.call(this.inner, items)) ?? items.map(() => 0);
    const now = this.opts.clock.now();
    return items.map((item, i) => inner[i] - this.sumOverLeases(item, toSettle) - this.unusedRoom(item, states[i], now));
  }

  /** Requests not yet settled, whether admitted by the store or against a lease (leases themselves are not counted). */
  async openReservations(): Promise<number> {
    return Math.max(0, (await this.inner.openReservations()) - this.leaseReservations) + this.localReservations.size;
  }

  /**
   * The store's figures less the room this instance's leases hold unused: that room is counted in the
   * store but is still there for this instance's requests. Other instances' leases count as used.
   */
  async peek(items: CounterItem[]): Promise<LimitState[]> {
    await this.grantsAnswered();
    const states = await this.inner.peek(items);
    return states.map((state, i) => {
      const unused = this.unusedRoom(items[i], state, this.opts.clock.now());
      return unused !== 0 ? { ...state, used: Math.max(0, state.used - unused) } : state;
    });
  }

  /** The room this instance's leases of an item hold unused, in the store's figure `state` of it. */
  private unusedRoom(item: CounterItem, state: LimitState, now: number): number {
    // Only leases the store still counts: one from a fixed window (or sliding slot) that has passed is not
    // in the figure, though a call admitted against it may still be running. Less its calls' usage beyond
    // it not yet in the store (see countOverdraw).
    return this.sumOverLeases(item, (lease) => (countedIn(lease, item, state) ? Math.max(0, room(lease, now)) - notYetCounted(lease) : 0));
  }

  /** `f` summed over this instance's leases of an item's counter not yet handed back. */
  private sumOverLeases(item: CounterItem, f: (lease: Lease) => number): number {
    let total = 0;
    for (const lease of this.keys.get(this.identity(item))?.open ?? []) total += f(lease);
    return total;
  }
  restore(...args: Parameters<CounterStore['restore']>): Promise<void> {
    return this.inner.restore(...args);
  }
  recordResponse(...args: Parameters<CounterStore['recordResponse']>): Promise<void> {
    return this.inner.recordResponse(...args);
  }

  growResponse(...args: Parameters<CounterStore['growResponse']>): Promise<void> {
    return this.inner.growResponse(...args);
  }
  responseOwner(id: string): ReturnType<CounterStore['responseOwner']> {
    return this.inner.responseOwner(id);
  }

  /** Returns every lease (counting what calls still under way were admitted with as used), then closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await this.grantsAnswered(); // one answered now is handed back at once (closed)
    for (const k of this.keys.values()) {
      for (const lease of k.open) {
        lease.consumed += lease.pending;
        lease.admitted = 0;
        this.retire(lease);
      }
    }
    await this.grantsAnswered(); // returns waiting for an overdraw being added
    await this.inner.close();
  }

  private admitLocally(req: ReserveRequest, states: KeyState[], amounts: number[]): ReserveOutcome {
    const leases = states.map((k) => k.current!);
    const now = this.opts.clock.now();
    const limitStates = leases.map((lease, i): LimitState => {
      lease.pending += amounts[i];
      lease.admitted++;
      // The store's figure at the grant counted the whole lease; what is not used of it yet is room (and a
      // bucket has drained since).
      const unused = lease.size - lease.pending - lease.consumed;
      return { used: Math.max(0, lease.usedAtGrant - unused - (now - lease.askedAt) * lease.drainPerMs), max: req.items[i].max, resetAtMs: lease.resetAtMs };
    });
    this.localReservations.set(req.id, { items: req.items, leases, amounts });
    this.counts.localAdmissions++;
    this.acquireWhereWorth(req.items, states, amounts);
    return { ok: true, output: req.output, states: limitStates, shadowBlocked: [] };
  }

  private noteDemand(k: KeyState, amount: number, now: number): void {
    // A key quiet for a whole period starts counting afresh: only recent demand sizes a lease.
    if (now - k.since > this.opts.leaseMs) {
      k.demand = 0;
      k.requests = 0;
      k.since = now;
    }
    k.demand += amount;
    k.requests++;
  }

  /** Asks for a new lease on each busy key whose lease is missing, running low or ending soon. */
  private acquireWhereWorth(items: CounterItem[], states: KeyState[], amounts: number[]): void {
    if (this.closed || (this.inner.mode !== undefined && this.inner.mode !== 'ok')) return;
    const now = this.opts.clock.now();
    for (let i = 0; i < items.length; i++) {
      const k = states[i];
      if (k.acquiring || k.requests < HOT_REQUESTS) continue;
      const lease = k.current;
      // Renewed when nearly used up, not ahead of its end: a lease retired early would keep its unused
      // part counted until its calls settle. One that simply ends is followed by a request sent to the
      // store, which asks for the next.
      const fresh = lease && !lease.retired && now < lease.validUntil && room(lease, now) >= Math.max(lease.size * RENEW_BELOW, amounts[i]);
      if (fresh) continue;
      const size = leaseSize(items[i], k, amounts[i], now, this.opts.leaseMs);
      if (size > 0) this.underWay(this.acquire(items[i], k, size));
    }
  }

  /** Tracks a grant until it is answered (acquire() never rejects). */
  private underWay(grant: Promise<void>): void {
    this.grantsUnderWay.add(grant);
    void grant.finally(() => this.grantsUnderWay.delete(grant));
  }

  /** Waits for the grants asked for so far (not for those asked for meanwhile). */
  private async grantsAnswered(): Promise<void> {
    if (this.grantsUnderWay.size > 0) await Promise.all([...this.grantsUnderWay]);
  }

  private async acquire(item: CounterItem, k: KeyState, size: number): Promise<void> {
    k.acquiring = true;
    const id = `lease-${this.instanceTag}-${++this.leaseSeq}`;
    const askedAt = this.opts.clock.now();
    // One counter, whose amount is the lease size: as many input tokens of weight 1.
    const leaseItem: CounterItem = { key: item.key, algorithm: item.algorithm, window: item.window, max: item.max, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' };
    if (item.onStoreError) leaseItem.onStoreError = item.onStoreError;
    this.leaseReservations++;
    // Should the store lose its counters while the lease is open, what of it to count again (see lease.ts).
    const held: { lease?: Lease } = {};
    const placeAgain = {
      input: () => (held.lease ? toPlaceAgain(held.lease, this.opts.clock.now()) : size),
      placed: (input: number) => {
        const lease = held.lease;
        if (!lease) return;
        rebase(lease, input);
        // Ended meanwhile: only its calls still running were placed, so nothing more is admitted against it.
        if (!usable(lease, this.opts.clock.now())) this.retire(lease);
      },
    };
    try {
      const outcome = await this.inner.reserve({ id, items: [leaseItem], input: size, output: 0, clamp: false, minOutput: 0, placeAgain });
      const state = outcome.states[0];
      if (state) k.last = state;
      if (!outcome.ok) {
        this.leaseReservations--;
        return;
      }
      const granted: Lease = {
        id,
        item: leaseItem,
        key: k,
        size,
        overdrawn: 0,
        pending: 0,
        consumed: 0,
        base: 0,
        admitted: 0,
        validUntil: askedAt + leaseLifetime(item, outcome.storeTimeMs, state.resetAtMs, this.opts.leaseMs),
        usedAtGrant: state.used,
        resetAtMs: state.resetAtMs,
        grantedAtMs: outcome.storeTimeMs ?? askedAt,
        askedAt,
        drainPerMs: item.algorithm === 'token_bucket' ? item.max / windowLengthMs(item.window) : 0,
        retired: false,
        returned: false,
      };
      // Counted locally during an outage, or closed meanwhile: no lease, what was reserved goes back.
      if (outcome.storeTimeMs === undefined || this.closed) {
        granted.retired = true;
        this.returnWhenDone(granted);
        return;
      }
      this.counts.granted++;
      held.lease = granted;
      if (k.current) this.retire(k.current);
      k.current = granted;
      k.open.add(granted);
      k.demand = 0;
      k.requests = 0;
      k.since = askedAt;
      granted.timer = setTimeout(() => this.retire(granted), Math.max(0, granted.validUntil - this.opts.clock.now()));
      granted.timer.unref();
    } catch {
      // The exact path reports store failures; a lease is only an optimisation. (The store cancels a
      // reservation whose answer was lost once it answers again.)
      this.leaseReservations--;
    } finally {
      k.acquiring = false;
    }
  }

  private retire(lease: Lease): void {
    lease.retired = true;
    clearTimeout(lease.timer);
    this.returnWhenDone(lease);
  }

  /** Settles a retired lease with what was used of it, once nothing admitted against it is under way. */
  private returnWhenDone(lease: Lease): void {
    if (lease.returned || lease.admitted > 0) return;
    lease.returned = true;
    lease.key.open.delete(lease);
    if (lease.key.current === lease) lease.key.current = undefined;
    const handBack = (): Promise<void> =>
      this.inner
        .settle(lease.id, { input: toSettle(lease), output: 0, request: 0 })
        .catch(() => {})
        .finally(() => this.leaseReservations--);
    if (lease.overdrawing) this.underWay(lease.overdrawing.then(handBack));
    else void handBack();
  }

  /**
   * Adds to the shared store at once what calls admitted against `lease` used beyond it (a call's real
   * usage can pass what it was admitted with: a provider counting more input than estimated). Held back
   * until the lease is returned, that usage would be invisible to other instances for up to a lease
   * period, and they could admit past the limit meanwhile; the store counts a call's excess at once.
   * Added as a shadow reservation (counted, never refused: the usage happened) settled in full where the
   * store still counts the lease in its current window or slot; otherwise the lease's return carries it.
   */
  private countOverdraw(lease: Lease): Promise<void> {
    const excess = notYetCounted(lease);
    lease.overdrawn += excess;
    const added = this.addOverdraw(lease, excess);
    lease.overdrawing = lease.overdrawing ? Promise.all([lease.overdrawing, added]).then(() => {}) : added;
    this.underWay(added);
    return added;
  }

  private async addOverdraw(lease: Lease, excess: number): Promise<void> {
    const id = `${lease.id}-over-${++this.leaseSeq}`;
    this.leaseReservations++;
    try {
      const outcome = await this.inner.reserve({ id, items: [{ ...lease.item, mode: 'shadow' }], input: excess, output: 0, clamp: false, minOutput: 0 });
      const counted = outcome.ok && placedWith(lease, outcome.storeTimeMs, outcome.states[0]);
      await this.inner.settle(id, { input: counted ? excess : 0, output: 0, request: 0 });
      if (!counted) lease.overdrawn -= excess;
    } catch {
      lease.overdrawn -= excess;
    } finally {
      this.leaseReservations--;
    }
  }

  /** Keys with no lease and no recent demand are dropped, so one-off users do not pile up. */
  private forgetQuietKeys(): void {
    const now = this.opts.clock.now();
    for (const [id, k] of this.keys) {
      if (k.open.size === 0 && !k.acquiring && now - k.since > this.opts.leaseMs) this.keys.delete(id);
    }
  }

  private keyState(item: CounterItem): KeyState {
    const id = this.identity(item);
    let k = this.keys.get(id);
    if (!k) {
      k = { open: new Set(), acquiring: false, demand: 0, requests: 0, since: this.opts.clock.now() };
      this.keys.set(id, k);
    }
    return k;
  }

  private identity(item: CounterItem): string {
    let id = this.identities.get(item);
    if (id === undefined) {
      id = `${item.key}|${item.algorithm}|${item.max}|${JSON.stringify(item.window)}`;
      this.identities.set(item, id);
    }
    return id;
  }
}
