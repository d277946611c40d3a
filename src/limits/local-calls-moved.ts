// Calls admitted against fail-open local counters that are still running when the shared store is used
// again (the hold after recovery ends, or a timeout proves a false alarm). Left local, they were in no
// shared counter until they ended, and the room they held was handed out again (a daily cap of 1,000
// admitted 1,390 with 8 such calls of 50 running). Each is placed in the store as a reservation of what
// it holds (shadow: a running call is never refused) and settles there; one the store does not take
// stays local, replayed when it ends. So do its fixed windows that ended before the placement.
import type { CounterStore } from './counter-store.js';
import type { OutageCounters } from './outage-counters.js';
import { CountersNotRebuiltError } from './store-errors.js';

export class LocalCallsMoved {
  /** Calls being placed in the store: their settlements wait for the outcome. */
  private readonly moving = new Map<string, Promise<void>>();
  /** Calls placed in the store, by id: the id of the reservation they settle there. */
  private readonly movedAs = new Map<string, string>();
  /** Placements tried, by call: each attempt has an id of its own (see move). */
  private readonly attempts = new Map<string, number>();

  constructor(
    private readonly store: Pick<CounterStore, 'reserve'>,
    private readonly outage: OutageCounters,
    /** A placement failed (not a refusal before admission): it may have landed, under `as`, and must be cancelled. */
    private readonly failed: (err: unknown, as: string) => void,
  ) {}

  /**
   * Places every local call still running in the store. Under an id of its own: the call's own id may have
   * a record (or a cancel's tombstone) from the attempt whose answer was lost. And a new one per attempt: an
   * attempt that failed is cancelled under its id, and that cancel (or its tombstone) would take the next
   * attempt too, leaving the call in no shared counter and its settlement landing nowhere.
   */
  move(): void {
    if (this.outage.openCount === 0) return;
    for (const { req, ended } of this.outage.running()) {
      const id = req.id;
      // Placed already, but for the windows that had ended (they stay local), or on its way.
      if (this.moving.has(id) || this.movedAs.has(id)) continue;
      // A fixed window the call was admitted in that has ended since is where it counts: placed now, it
      // would be charged to the window that began (yesterday's call to today, its room refused to others).
      // It stays local there (its replay into an ended window adds nothing); every window ended: not placed at all.
      if (ended.length === req.items.length) continue;
      const endedIdx = new Set(ended);
      const items = ended.length === 0 ? req.items : req.items.filter((_, i) => !endedIdx.has(i));
      const attempt = (this.attempts.get(id) ?? 0) + 1;
      this.attempts.set(id, attempt);
      const as = `${id}~moved${attempt}`;
      const flushes = this.outage.flushes;
      const placed = this.store.reserve({ ...req, id: as, items: items.map((item) => ({ ...item, mode: 'shadow' })), clamp: false, minOutput: 0 }).then(
        (outcome) => {
          // The call leaves the local usage log, which seeds the next outage's counters: the placement's
          // reading (which holds the call) seeds them instead. Without it, an outage before the next call
          // through those counters started from a reading without the call, and handed its room out again.
          const { openIdx } = this.outage.plan(items);
          if (openIdx.length > 0) this.outage.remember(items, openIdx, outcome.states, flushes);
          this.outage.moved(id, ended);
          this.movedAs.set(id, as);
        },
        (err: unknown) => {
          // Refused before admission while lost counters are rebuilt: nothing landed.
          if (!(err instanceof CountersNotRebuiltError)) this.failed(err, as);
        },
      );
      this.moving.set(id, placed.finally(() => this.moving.delete(id)));
    }
  }

  /** The placement of `id` under way, if any: its settlement waits for it (then settles where it ended up). */
  placing(id: string): Promise<void> | undefined {
    return this.moving.get(id);
  }

  /** The id `id` settles under: the reservation's it was moved to, once (or its own). */
  settleAs(id: string): string {
    this.attempts.delete(id);
    const as = this.movedAs.get(id);
    if (as === undefined) return id;
    this.movedAs.delete(id);
    return as;
  }
}
