// A call admitted against the local counters (fail_open: an outage, or lost counters whose rebuild from the
// ledger is slower than rebuild_wait_ms) has its usage replayed into the shared store after any rebuild of
// lost counters under way (RedisCounterStore.reconcile waits for it). Its ledger row must then not be in
// what that rebuild read, or the call counts twice: once from the ledger, once from the replay. The row is
// written right after the call's settlement, so a local call's settlement waits for the rebuild's read to
// end. Before, whether the row was read depended on which came first, the rebuild's query or the insert
// (both waiting on a table lock, say): one call of four counted twice in some runs.

/**
 * The most a local call's settlement waits for a read: one held that long (a table locked for an hour) lets
 * it go on, its row counted twice at worst (the safe side), rather than keep every local call waiting.
 */
export const MAX_READ_WAIT_MS = 30_000;

export class RebuildReads {
  private readsUnderWay = 0;
  /** Resolves once the reads under way have ended, or MAX_READ_WAIT_MS after the first of them began. */
  private ended: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly maxWaitMs = MAX_READ_WAIT_MS) {}

  /** Runs a rebuild (its read of the ledger and the restore), marked as under way until it ends. */
  async run(rebuild: () => Promise<void>): Promise<void> {
    if (this.readsUnderWay++ === 0) this.begin();
    try {
      await rebuild();
    } finally {
      if (--this.readsUnderWay === 0) this.release?.();
    }
  }

  /** What a local call's settlement waits for before its row is written: undefined when no read is under way. */
  waitForRead(): Promise<void> | undefined {
    return this.stopped ? undefined : this.ended;
  }

  /**
   * The gateway is stopping: its calls' rows must reach the ledger before it closes (a few seconds after the
   * drain), so nothing waits any more; a row the rebuild also reads counts its call twice at worst.
   */
  stopWaiting(): void {
    this.stopped = true;
    this.release?.();
  }

  private begin(): void {
    let timer: NodeJS.Timeout | undefined;
    this.ended = new Promise<void>((resolve) => {
      this.release = () => {
        clearTimeout(timer);
        this.ended = undefined;
        this.release = undefined;
        resolve();
      };
      timer = setTimeout(resolve, this.maxWaitMs);
      timer.unref();
    });
  }
}
