// A call admitted against the local counters (fail_open: an outage, or lost counters whose rebuild from the
// ledger is slower than rebuild_wait_ms) has its usage replayed into the shared store once the rebuilds of
// its counters under way have ended (RedisCounterStore.reconcile waits for them). Its ledger row must then
// not be in what those rebuilds read, or the call counts twice: once from the ledger, once from the replay.
// Whether the row was read depended on which came first, the rebuild's query or the insert (both waiting on
// a table lock, say): one call of four counted twice in some runs. So the row of such a call, once it has
// settled, is written after those rebuilds (the ledger's writer asks rowAfter). The response does not wait
// for that: only the row does (a stream's end or a strict answer waited out the rebuild, up to 30 s).
// So does the row of a call the store admitted before it lost the counters and that ends while their
// rebuild reads the ledger: its settlement lands once the rebuild has placed its reservation back. And
// every call's row waits for its settlement's answer: a row in the ledger while its reservation is still
// held in the store is counted twice by a rebuild that reads both.

/**
 * The most a row waits: a rebuild held that long (a table locked for an hour) lets it go, the call counted
 * twice at worst (the safe side), rather than keep rows in memory that long.
 */
export const MAX_ROW_WAIT_MS = 30_000;

export class RowsAfterRebuild {
  /** By call id: what its row waits for; deleted once it resolves. */
  private readonly waits = new Map<string, Promise<void>>();
  /** The waits of rows that wait for their settlement's answer only (afterSettlement), until it comes. */
  private readonly settling = new Set<Promise<void>>();
  private stopped = false;
  private stop: (() => void) | undefined;
  private readonly stopping: Promise<void> = new Promise((resolve) => (this.stop = resolve));

  constructor(private readonly maxWaitMs = MAX_ROW_WAIT_MS) {}

  /** The row of call `id` is written once `rebuild` (the rebuilds under way that cover its counters) has ended. */
  note(id: string, rebuild: Promise<void>): void {
    if (this.stopped) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.maxWaitMs);
      timer.unref();
    });
    const wait: Promise<void> = Promise.race([rebuild.catch(() => {}), bound, this.stopping]).then(() => {
      clearTimeout(timer);
      if (this.waits.get(id) === wait) this.waits.delete(id);
    });
    this.waits.set(id, wait);
  }

  /**
   * The row of call `id` is written once its settlement `sent` is answered (SettlementQueue.send: never
   * rejects, bounded by the store's timeout), unless it waits for a rebuild already, which the settlement
   * waits for too (RedisCounterStore.settle). Lighter than note() (no timer): this is every call's.
   */
  afterSettlement(id: string, sent: Promise<void>): void {
    if (this.stopped || this.waits.has(id)) return;
    const wait: Promise<void> = Promise.race([sent, this.stopping]).then(() => {
      if (this.waits.get(id) === wait) this.waits.delete(id);
      this.settling.delete(wait);
    });
    this.waits.set(id, wait);
    this.settling.add(wait);
  }

  /**
   * Resolves once the rows now waiting for their settlement's answer are handed to the writer (their
   * `rowAfter(id).then(write)`, registered before, runs first): a report read right after a call then
   * includes it. Bounded by the store's timeout, as each settlement is; rows waiting for a rebuild are not
   * waited for.
   */
  settlingRows(): Promise<void> {
    return Promise.all(this.settling).then(() => undefined);
  }

  /** What the row of call `id` waits for before it is written: undefined when nothing. */
  rowAfter(id: string): Promise<void> | undefined {
    return this.waits.get(id);
  }

  /**
   * The gateway is stopping: its calls' rows must reach the ledger before it closes (a few seconds after the
   * drain), so nothing waits any more; a row a rebuild also reads counts its call twice at worst.
   */
  stopWaiting(): void {
    this.stopped = true;
    this.stop?.();
  }
}
