// The Redis store's reservations not settled yet, by request id: what a settlement sends its changes
// from, what is placed back after counters Redis lost are rebuilt, what SETTLE_LUA is told of a record it
// may not find, and what `held` and `openReservations` count. Each one's record lives in Redis beside it.
import type { Clock } from '../../util/clock.js';
import { ChurnMap } from '../../util/churn-map.js';
import { amountFor } from '../admission.js';
import type { CounterItem, PriceFactors, ReserveRequest } from '../counter-store.js';
import { counterIdentity, type WindowCalculator } from '../windows.js';

export interface OpenReservation {
  items: CounterItem[];
  /** The organization's hash tag, `tg:{org}`. */
  tag: string;
  recordKey: string;
  /** What was reserved: settlement sends each item's change from it (amountFor is exact in both languages). */
  input: number;
  output: number;
  factors: PriceFactors;
  /** False while the reserve call has not answered (or failed): its fate in Redis is unknown. */
  confirmed: boolean;
  atMs: number;
  /** Rebuilds of the organization's counters finished when it was made (see knownState). */
  rebuildsBefore: number;
  /**
   * A settlement was sent and its answer lost (a timeout): it may have landed and deleted the record, as
   * ioredis sends a command again after TRYAGAIN, ASK or a failover even once its caller has given up.
   */
  settleSent?: boolean;
  /** Its settlement is on its way to Redis (not placed again after a rebuild: it may land first). */
  settling?: boolean;
  /** A budget lease's: what of it to place again after a rebuild (ReserveRequest.placeAgain). */
  placeAgain?: ReserveRequest['placeAgain'];
  /** When Redis admitted it, in Redis time (its fixed windows are the ones containing this moment). */
  admittedAtStoreMs?: number;
  /**
   * Placed again after a rebuild (RedisCounterStore.placeInFlightAgain) once some of its fixed windows had
   * ended: their positions, placed with nothing and left out of its settlement, so that the call counts in
   * none of the windows that began since (it counted in its own, which ended).
   */
  endedWindows?: ReadonlySet<number>;
}

/**
 * The positions of `entry`'s fixed-window items whose window at its admission has ended by `nowInStoreMs`
 * (both in Redis time); undefined when none has, or its admission time is unknown.
 */
export function endedFixedWindows(entry: Pick<OpenReservation, 'items' | 'admittedAtStoreMs'>, nowInStoreMs: number, windows: WindowCalculator): Set<number> | undefined {
  const at = entry.admittedAtStoreMs;
  if (at === undefined) return undefined;
  let ended: Set<number> | undefined;
  entry.items.forEach((item, i) => {
    if (item.algorithm !== 'fixed_window') return;
    if (windows.bounds(item.window, at).startMs !== windows.bounds(item.window, nowInStoreMs).startMs) (ended ??= new Set()).add(i);
  });
  return ended;
}

/** Whether a reservation is noted in its organization's held index: all but budget leases (lua-held-index.ts). */
export function notedInHeldIndex(entry: Pick<OpenReservation, 'placeAgain'>): boolean {
  return entry.placeAgain === undefined;
}

/** Settling this close to a record's expiry, a missing record may have expired rather than been lost. */
const RECORD_TTL_MARGIN_MS = 5_000;

/** Open reservations by request id; one whose record has expired in Redis is forgotten with it. */
export class OpenReservations extends ChurnMap<string, OpenReservation> {
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly clock: Clock,
    private readonly reservationTtlMs: number,
  ) {
    super();
    // A reservation whose settlement never came (a bug, or a lost request) is forgotten with its record.
    this.sweeper = setInterval(() => this.forgetExpired(), Math.min(reservationTtlMs, 60_000));
    this.sweeper.unref();
  }

  /** Stops forgetting expired reservations: the store is closing. */
  stop(): void {
    clearInterval(this.sweeper);
  }

  /** Reservations Redis admitted and that are not settled yet. */
  confirmedCount(): number {
    let n = 0;
    for (const entry of this.values()) if (entry.confirmed) n++;
    return n;
  }

  /**
   * What the confirmed reservations hold of each of `items`' counters, at the factors they were reserved at.
   * Not those whose settlement is queued or on its way: a script sent after it (a rebuild's restore, a peek)
   * reaches Redis after it, when the counter no longer holds their reservation. Counted, a reservation
   * settling below it raised the counter by the difference (+598 of 1,000 after a reload's rebuild).
   * `outsideHeldIndex`: only what the held index does not say (lua-held-index.ts), which RESTORE_LUA reads
   * itself: a budget lease's, and any token bucket's.
   */
  held(items: CounterItem[], outsideHeldIndex = false): number[] {
    // Counted as in the current window: a reservation made in a window that has ended since is a short-lived
    // exception (and shows as drift in that one audit).
    // A fixed window a reload gave another length counts in a window of its own: a reservation made in the
    // old one is not in the new figure (a rebuild adding it would count it until the new window ends).
    const index = new Map(items.map((item, i) => [counterIdentity(item), i]));
    const out = items.map(() => 0);
    for (const entry of this.values()) {
      if (!entry.confirmed || entry.settling) continue;
      const noted = outsideHeldIndex && notedInHeldIndex(entry);
      for (const item of entry.items) {
        if (noted && item.algorithm !== 'token_bucket') continue;
        const i = index.get(counterIdentity(item));
        if (i !== undefined) out[i] += amountFor(item, entry.input, entry.output, 1, entry.factors);
      }
    }
    return out;
  }

  /** What of `held` the held index says (lua-held-index.ts): for an index too large to read. */
  heldNoted(items: CounterItem[]): number[] {
    const outside = this.held(items, true);
    return this.held(items).map((all, i) => all - outside[i]);
  }

  /**
   * The confirmed reservations of `tag` (undefined: of every organization) that may be placed in Redis
   * again after a rebuild: none of their settlements is on its way or may have landed.
   */
  *placeableAgain(tag: string | undefined): Generator<[string, OpenReservation]> {
    for (const [id, entry] of this) {
      if (!entry.confirmed || entry.settling || entry.settleSent || (tag !== undefined && entry.tag !== tag)) continue;
      yield [id, entry];
    }
  }

  /**
   * What SETTLE_LUA is told of a reservation whose record it may not find (see there); `rebuildsNow` is
   * how many rebuilds of its organization's counters have finished by now (LostCounters.rebuildsOf).
   */
  knownState(entry: OpenReservation, rebuildsNow: number): 'u' | 'c' | 'o' {
    if (!entry.confirmed) return 'u';
    // The counters were rebuilt since it was made: its record went with the loss that rebuild repaired,
    // and another rebuild would only repeat it (once per settlement of the calls in flight then).
    if (rebuildsNow !== entry.rebuildsBefore) return 'o';
    // A record this instance's own earlier settlement may have deleted is no sign of a loss.
    if (entry.settleSent) return 'o';
    // A margin for the time the reserve took to answer and the settlement takes to arrive.
    return this.clock.now() - entry.atMs < this.reservationTtlMs - RECORD_TTL_MARGIN_MS ? 'c' : 'o';
  }

  private forgetExpired(): void {
    const cutoff = this.clock.now() - this.reservationTtlMs;
    for (const [id, entry] of this) if (entry.atMs < cutoff) this.delete(id);
  }
}
