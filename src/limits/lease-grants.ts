// The life of budget leases in the shared store (leased-store.ts decides when one is worth asking for and
// admits against it): the grant, one ordinary reservation of the lease's size; the overdraw, usage beyond
// the lease added at once; and the return, settled with what was used once no call admitted against it
// is under way.
import type { Clock } from '../util/clock.js';
import type { CounterItem, CounterStore } from './counter-store.js';
import { leaseLifetime } from './lease-rules.js';
import { notYetCounted, placedWith, rebase, toPlaceAgain, toSettle, usable, type KeyState, type Lease } from './lease.js';
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

export class LeaseGrants {
  /** Lease reservations open in the wrapped store (asked for, or granted and not yet handed back). */
  openInStore = 0;
  granted = 0;
  private seq = 0;
  /**
   * Lease grants (and overdraws being added) asked for and not yet answered. Their reservations may already
   * be in the store's figures while the lease is not yet in its key: the store's readers wait for them
   * (answered()), so that they never read a lease as used by nobody.
   */
  private readonly underWay = new Set<Promise<void>>();
  private readonly instanceTag = Math.random().toString(36).slice(2, 10);

  constructor(
    private readonly inner: CounterStore,
    private readonly opts: LeaseOptions,
    /** Once true, a lease granted is handed back at once. */
    private readonly closed: () => boolean,
    /** A lease granted, before it is the key's current one: its figure brought up to date (grant-figures.ts). */
    private readonly onGrant: (k: KeyState, lease: Lease) => void = () => {},
  ) {}

  /** Asks the store for a lease of `size` on `item`, which becomes `k`'s current lease if granted. */
  ask(item: CounterItem, k: KeyState, size: number): void {
    this.track(this.acquire(item, k, size));
  }

  /** Waits for the grants asked for so far (not for those asked for meanwhile). */
  async answered(): Promise<void> {
    if (this.underWay.size > 0) await Promise.all([...this.underWay]);
  }

  /** No more admissions against `lease`; it is returned once its calls are done. */
  retire(lease: Lease): void {
    lease.retired = true;
    clearTimeout(lease.timer);
    this.returnWhenDone(lease);
  }

  /** Settles a retired lease with what was used of it, once nothing admitted against it is under way. */
  returnWhenDone(lease: Lease): void {
    if (lease.returned || lease.admitted > 0) return;
    lease.returned = true;
    lease.key.open.delete(lease);
    if (lease.key.current === lease) lease.key.current = undefined;
    const handBack = (): Promise<void> =>
      this.inner
        .settle(lease.id, { input: toSettle(lease), output: 0, request: 0 })
        .catch(() => {})
        .finally(() => this.openInStore--);
    if (lease.overdrawing) this.track(lease.overdrawing.then(handBack));
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
  countOverdraw(lease: Lease): Promise<void> {
    const excess = notYetCounted(lease);
    lease.overdrawn += excess;
    const added = this.addOverdraw(lease, excess);
    lease.overdrawing = lease.overdrawing ? Promise.all([lease.overdrawing, added]).then(() => {}) : added;
    this.track(added);
    return added;
  }

  /** Tracks a grant, an overdraw or a return waiting for one until it is answered (none of them rejects). */
  private track(grant: Promise<void>): void {
    this.underWay.add(grant);
    void grant.finally(() => this.underWay.delete(grant));
  }

  private async acquire(item: CounterItem, k: KeyState, size: number): Promise<void> {
    k.acquiring = true;
    const id = `lease-${this.instanceTag}-${++this.seq}`;
    const askedAt = this.opts.clock.now();
    // One counter, whose amount is the lease size: as many input tokens of weight 1.
    const leaseItem: CounterItem = { key: item.key, algorithm: item.algorithm, window: item.window, max: item.max, weights: { input: 1, output: 0, request: 0 }, mode: 'enforce' };
    if (item.onStoreError) leaseItem.onStoreError = item.onStoreError;
    this.openInStore++;
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
        this.openInStore--;
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
      if (outcome.storeTimeMs === undefined || this.closed()) {
        granted.retired = true;
        this.returnWhenDone(granted);
        return;
      }
      this.granted++;
      held.lease = granted;
      this.onGrant(k, granted);
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
      this.openInStore--;
    } finally {
      k.acquiring = false;
      k.settledWhileAcquiring = undefined;
    }
  }

  private async addOverdraw(lease: Lease, excess: number): Promise<void> {
    const id = `${lease.id}-over-${++this.seq}`;
    this.openInStore++;
    try {
      const outcome = await this.inner.reserve({ id, items: [{ ...lease.item, mode: 'shadow' }], input: excess, output: 0, clamp: false, minOutput: 0 });
      const counted = outcome.ok && placedWith(lease, outcome.storeTimeMs, outcome.states[0]);
      await this.inner.settle(id, { input: counted ? excess : 0, output: 0, request: 0 });
      if (!counted) lease.overdrawn -= excess;
    } catch {
      lease.overdrawn -= excess;
    } finally {
      this.openInStore--;
    }
  }
}
