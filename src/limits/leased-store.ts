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
import { amountFor } from './admission.js';
import type { CounterItem, CounterStore, LeaseStats, LimitState, ReserveOutcome, ReserveRequest, SettleUsage, StoreMode } from './counter-store.js';
import { GrantFigures } from './grant-figures.js';
import { LeaseGrants, type LeaseOptions } from './lease-grants.js';
import { HOT_REQUESTS, leaseSize, RENEW_BELOW } from './lease-rules.js';
import { countedIn, notYetCounted, room, toSettle, usable, type KeyState, type Lease } from './lease.js';
import { ChurnMap } from '../util/churn-map.js';

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
  /** The store-admitted calls' effect on the figures of leases (grant-figures.ts). */
  private readonly figures = new GrantFigures();
  /**
   * Grants, overdraws and returns of leases. peek() and held() wait for the grants under way, so that they
   * never read a lease as used by nobody, and close() does, so that a lease granted meanwhile is handed back.
   */
  private readonly grants: LeaseGrants;
  private localAdmissions = 0;
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
  readonly settlingRows?: CounterStore['settlingRows'];
  readonly holdsCounters?: CounterStore['holdsCounters'];
  readonly heldCalls?: CounterStore['heldCalls'];
  readonly heldInStore?: CounterStore['heldInStore'];

  constructor(
    private readonly inner: CounterStore,
    private readonly opts: LeaseOptions,
  ) {
    this.grants = new LeaseGrants(inner, opts, () => this.closed, (k, lease) => this.figures.granted(k, lease));
    inner.countLeasedSlices?.((item) => this.slicesHeld(item));
    if (inner.peekDegraded) this.peekDegraded = (items) => inner.peekDegraded!(items);
    if (inner.modeFor) this.modeFor = (setting) => inner.modeFor!(setting);
    if (inner.onModeChange) this.onModeChange = (listener) => inner.onModeChange!(listener);
    if (inner.describeLimits) this.describeLimits = (limits) => inner.describeLimits!(limits);
    if (inner.rebuildWhenLost) this.rebuildWhenLost = (orgs, rebuild) => inner.rebuildWhenLost!(orgs, rebuild);
    if (inner.stopping) this.stopping = () => inner.stopping!();
    if (inner.rowAfter) this.rowAfter = (id) => inner.rowAfter!(id);
    if (inner.settlingRows) this.settlingRows = () => inner.settlingRows!();
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
    return { localAdmissions: this.localAdmissions, granted: this.grants.granted, open };
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
    if (outcome.ok && outcome.storeTimeMs !== undefined) {
      // What it holds: its amounts unless the store clamped its output.
      const held = outcome.output === req.output ? amounts : items.map((item) => amountFor(item, req.input, outcome.output, 1, req.factors));
      this.figures.admitted(req.id, { states, items, amounts: held });
      this.acquireWhereWorth(items, states, amounts);
    }
    return outcome;
  }

  async settle(id: string, usage: SettleUsage): Promise<void> {
    const r = this.localReservations.get(id);
    if (!r) {
      this.figures.settled(id, usage);
      return this.inner.settle(id, usage);
    }
    this.localReservations.delete(id);
    let overdraws: Promise<void>[] | undefined;
    for (let i = 0; i < r.items.length; i++) {
      const lease = r.leases[i];
      lease.consumed += amountFor(r.items[i], usage.input, usage.output, usage.request, usage.factors);
      lease.admitted--;
      // Counted down by the same amounts, but floating point need not land on 0 exactly.
      lease.pending = lease.admitted === 0 ? 0 : lease.pending - r.amounts[i];
      // A lease returned now carries the excess itself (a settlement above its reservation adds it).
      if (lease.retired && lease.admitted === 0) this.grants.returnWhenDone(lease);
      else if (notYetCounted(lease) > 0) (overdraws ??= []).push(this.grants.countOverdraw(lease));
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
    await this.grants.answered();
    const states = await this.inner.peek(items);
    // Read after the peek, not beside it: a settlement queued while the peek was out reaches the store
    // before anything sent after this (a rebuild's restore), so its reservation is no longer held there.
    const inner = (await innerHeld?.call(this.inner, items)) ?? items.map(() => 0);
    const now = this.opts.clock.now();
    return items.map((item, i) => inner[i] - this.sumOverLeases(item, toSettle) - this.unusedRoom(item, states[i], now));
  }

  /** Requests not yet settled, whether admitted by the store or against a lease (leases themselves are not counted). */
  async openReservations(): Promise<number> {
    return Math.max(0, (await this.inner.openReservations()) - this.grants.openInStore) + this.localReservations.size;
  }

  /**
   * The store's figures less the room this instance's leases hold unused: that room is counted in the
   * store but is still there for this instance's requests. Other instances' leases count as used.
   */
  async peek(items: CounterItem[]): Promise<LimitState[]> {
    await this.grants.answered();
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

  /**
   * The whole size of this instance's slices of an item's counter not handed back. Whole, not what is left of
   * them: an outage's local share is seeded lazily, at the first call the slices cannot admit, by when
   * they may be used up; what they admitted since the last reading of the store is not in that reading.
   */
  private slicesHeld(item: CounterItem): number {
    return this.sumOverLeases(item, (lease) => lease.size);
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
    await this.grants.answered(); // one answered now is handed back at once (closed)
    for (const k of this.keys.values()) {
      for (const lease of k.open) {
        lease.consumed += lease.pending;
        lease.admitted = 0;
        this.grants.retire(lease);
      }
    }
    await this.grants.answered(); // returns waiting for an overdraw being added
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
    this.localAdmissions++;
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
      if (size > 0) this.grants.ask(items[i], k, size);
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
