// Writes ledger rows off the hot path: rows are buffered and written in one transaction per batch,
// at most `flushIntervalMs` after they arrive. `writeNow` (strict durability) joins the next batch and
// resolves once it is committed, so concurrent strict calls share one commit (group commit).
import type { Ledger, LedgerRow } from './ledger.js';
import { rowQueueFor, type RefusedRow, type RowBatch, type RowQueue } from './row-queue.js';
import { withTimeout } from '../util/with-timeout.js';

export interface WriterOptions {
  /** Longest a row waits in memory before its batch is written. */
  flushIntervalMs: number;
  /** A batch this large is written at once, without waiting for the interval. */
  batchSize: number;
  /**
   * When the ledger is unreachable, rows beyond this many leave memory, oldest first: spilled when
   * `spill` is set (a batch at a time, so one fsync covers many rows), dropped and counted otherwise.
   */
  maxBufferedRows: number;
  /** Where rows go that the ledger cannot take: on overflow, and at close once its deadline passed. */
  spill?: RowSpill;
  /** Called with each spill: how many rows, and why. */
  onSpill?: (rows: number, path: string, why: 'shutdown' | 'buffer_full') => void;
  /**
   * A write not answered within this is counted as failed and retried (a frozen connection never
   * answers; inserts ignore rows already there, so a late commit is not written twice). Default 10 s.
   */
  writeTimeoutMs?: number;
  /** Called with each failed write (the rows stay buffered and are retried). */
  onError?: (err: Error, rows: number) => void;
  /** Called when rows had to be dropped: no spill file, or it failed (`buffer_full`), or it is at its cap (`spill_full`). */
  onDrop?: (rows: number, why: DropReason) => void;
  /** Called with each row the database refused (set aside, counted as dropped; the others are written). */
  onRefused?: RefusedRow;
  /**
   * Called once when a write succeeds after failed ones, with how many writes had failed in a row and how
   * many rows are still waiting: the failures are logged every few seconds, and without this line a log
   * that goes quiet could mean the ledger is back as well as that the logging stopped.
   */
  onRecover?: (failedWrites: number, pendingRows: number) => void;
  /** How long close() retries a database that fails (`ledger.shutdown_flush_ms`); default CLOSE_DEADLINE_MS. */
  closeDeadlineMs?: number;
  now?: () => number;
}

export interface WriterStats {
  /** Rows waiting to be written, including a batch being written. */
  pending: number;
  /** Age of the oldest row not yet written, ms (0 when none): the ledger's write lag. */
  lagMs: number;
  written: number;
  failures: number;
  dropped: number;
  /** Rows written to the spill file instead (spill_dir): kept, and written into the ledger later. */
  spilled: number;
}

/** A local file that keeps rows the ledger could not take (spill-file.ts). */
export interface RowSpill {
  readonly path: string;
  /** Appends and syncs lines holding `rows` rows; throws when they could not be kept. */
  append(lines: readonly string[], rows: number): void;
  /** The same, for rows that overflow the buffer: false, and nothing written, when the file is at its cap. */
  appendWithinCap(lines: readonly string[], rows: number): boolean;
}

export type DropReason = 'buffer_full' | 'spill_full';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Retries back off up to this, so an unreachable database is not hammered. */
const MAX_BACKOFF_MS = 5000;
const WRITE_TIMEOUT_MS = 10_000;
/**
 * Writes sent and not answered (timed out, still waiting in the database or its driver) beyond which no
 * more are sent: a table locked for an hour otherwise gained one more queued insert holding its batch at
 * every retry (every ~15 s), none of which could run before the earlier ones. One of PostgreSQL's four
 * connections stays free for reads (reports; a stored response's owner, looked up on a call's path),
 * which a lock against writes alone lets through.
 */
export const MAX_UNANSWERED_WRITES = 3;
/** How long close() keeps retrying by default: with the request drain, within a 60 s shutdown budget. */
export const CLOSE_DEADLINE_MS = 15_000;

export class LedgerWriter {
  // Three parallel queues: the rows, when each arrived, and who waits for it (strict writes only).
  private readonly queue: RowQueue;
  private arrivals: number[] = [];
  private waiting: Array<Waiter | undefined> = [];
  private waiters = 0;
  private writing: Promise<void> | undefined;
  private inFlight = 0;
  private inFlightBatch: RowBatch | undefined;
  private inFlightSince = 0;
  /** Writes sent whose promise has not settled, those given up on by the timeout included. */
  private unanswered = 0;
  private again = false;
  private failuresInARow = 0;
  private lastError: string | undefined;
  private retryAt = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private written = 0;
  private failures = 0;
  private dropped = 0;
  private spilled = 0;
  private closed = false;
  /** Rows ever pushed (flush() waits for those pushed before it). */
  private pushed = 0;

  constructor(
    readonly ledger: Ledger,
    private readonly opts: WriterOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.queue = rowQueueFor(ledger, opts.batchSize, (row, err) => opts.onRefused?.(row, err));
    this.timer = setInterval(() => this.kick(), opts.flushIntervalMs);
    this.timer.unref();
  }

  /** Queues a row; it is written within `flushIntervalMs` (batched durability). */
  push(row: LedgerRow): void {
    this.enqueue(row, undefined);
  }

  /** Queues a row and resolves once it is committed (strict durability); rejects if that write fails. */
  writeNow(row: LedgerRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.enqueue(row, { resolve, reject });
      this.kick();
    });
  }

  /**
   * Writes everything buffered so far; resolves when it is committed, rejects if the ledger refuses. Rows
   * pushed meanwhile are not waited for: while calls finish as fast as a batch is written the buffer is
   * never empty, and a flush that waited for that never ended (nor did the dashboard and audit behind it).
   */
  async flush(): Promise<void> {
    // Rows leave the buffer oldest first (written, set aside, spilled or dropped): those pushed before now
    // have all left once as many rows have left as had been pushed.
    const pushedBefore = this.pushed;
    await this.writeUntil(() => this.pushed - this.pending() >= pushedBefore);
  }

  /** Writes batches (or waits for the one being written) until `done`; rejects when a write fails. */
  private async writeUntil(done: () => boolean): Promise<void> {
    for (;;) {
      // Checked before waiting: under steady traffic each write ends by starting the next one.
      if (done()) return;
      if (this.writing) {
        await this.writing;
        continue;
      }
      if (this.queue.length === 0) return;
      await this.writeBatch();
      if (this.failuresInARow > 0) throw new Error(this.lastError ?? 'the ledger refused the write');
    }
  }

  /** Rows not yet written: buffered, and in the batch being written. */
  private pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** The last write failed and the next is not done yet: the ledger is down, or refusing rows. */
  get failing(): boolean {
    return this.failuresInARow > 0;
  }

  stats(): WriterStats {
    const oldest = this.inFlight > 0 ? this.inFlightSince : this.arrivals[0];
    return {
      pending: this.pending(),
      lagMs: oldest === undefined ? 0 : Math.max(0, this.now() - oldest),
      written: this.written,
      failures: this.failures,
      dropped: this.dropped,
      spilled: this.spilled,
    };
  }

  /**
   * Flushes what is buffered and stops the timer; the ledger itself stays open. A database that fails is
   * retried with backoff until `deadlineMs`; then the rows go to the spill file when there is one, and
   * otherwise (or when the spill fails too) it rejects, saying how many rows were not written.
   */
  async close(deadlineMs = this.opts.closeDeadlineMs ?? CLOSE_DEADLINE_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + deadlineMs;
    let backoff = this.opts.flushIntervalMs;
    for (;;) {
      try {
        // Every row, those of calls that end during the shutdown too (no more arrive after it).
        await withTimeout(this.writeUntil(() => false), deadline - Date.now(), `not written within ${deadlineMs} ms`);
        return;
      } catch (err) {
        if (Date.now() + backoff >= deadline) {
          // The deadline's timeout hides why the writes failed (a refused connection, a full disk): say both.
          const cause = this.lastError && this.lastError !== (err as Error).message ? ` (last error: ${this.lastError})` : '';
          const pending = this.stats().pending;
          const spillFailed = this.spillAtClose();
          if (spillFailed === undefined) return;
          throw new Error(`${pending} rows could not be written: ${(err as Error).message}${cause}${spillFailed}`);
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  private enqueue(row: LedgerRow, waiter: Waiter | undefined): void {
    this.queue.push(row);
    this.pushed++;
    this.arrivals.push(this.now());
    this.waiting.push(waiter);
    if (waiter) this.waiters++;
    if (this.queue.length > this.opts.maxBufferedRows) this.relieve();
    if (this.queue.length >= this.opts.batchSize) this.kick();
  }

  /** Starts a write now, or right after the one in progress. */
  private kick(): void {
    if (this.queue.length === 0) return;
    if (this.writing) {
      this.again = true;
      return;
    }
    if (this.now() < this.retryAt) return;
    void this.writeBatch();
  }

  private writeBatch(): Promise<void> {
    const batch = this.queue.take();
    const arrivals = this.arrivals.splice(0, batch.count);
    const waiting = this.waiting.splice(0, batch.count);
    const waiters = this.waiters > 0 ? waiting.filter((w) => w !== undefined) : [];
    this.waiters -= waiters.length;
    this.inFlight = batch.count;
    this.inFlightBatch = batch;
    this.inFlightSince = arrivals[0] ?? this.now();
    const timeoutMs = this.opts.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    const done = withTimeout(this.send(batch), timeoutMs, `the ledger did not answer within ${timeoutMs} ms`).then(
      (refused) => {
        this.written += batch.count - refused;
        this.dropped += refused;
        this.queue.written(batch);
        const failedWrites = this.failuresInARow;
        this.failuresInARow = 0;
        this.lastError = undefined;
        if (failedWrites > 0) this.opts.onRecover?.(failedWrites, this.queue.length);
        for (const w of waiters) w.resolve();
      },
      (err: Error) => {
        this.lastError = err.message;
        this.failures++;
        this.failuresInARow++;
        // A first failure is retried at once: a connection a restart or failover cut is replaced by a fresh
        // one, and meanwhile strict calls are answered without waiting (a single reset left them so for the
        // 400 ms back-off: 849 calls in a test, unprotected from a kill -9 while the database took writes).
        const backoff = this.failuresInARow === 1 ? 0 : this.opts.flushIntervalMs * 2 ** (this.failuresInARow - 1);
        this.retryAt = this.now() + Math.min(MAX_BACKOFF_MS, backoff);
        // Back to the front, oldest first, so the order of rows (and the lag figure) is kept; their
        // strict callers are told now and the rows are retried without them.
        this.queue.restore(batch);
        this.arrivals.unshift(...arrivals);
        this.waiting.unshift(...arrivals.map(() => undefined));
        for (const w of waiters) w.reject(err);
        this.opts.onError?.(err, batch.count);
      },
    );
    this.writing = done.finally(() => {
      this.writing = undefined;
      this.inFlight = 0;
      this.inFlightBatch = undefined;
      if (this.again || this.queue.length >= this.opts.batchSize || this.failuresInARow === 1) {
        this.again = false;
        this.kick();
      }
    });
    return this.writing;
  }

  /** Writes `batch`, unless too many earlier writes are unanswered: then fails at once, as a write would. */
  private send(batch: RowBatch): Promise<number> {
    if (this.unanswered >= MAX_UNANSWERED_WRITES) {
      return Promise.reject(new Error(`the ledger has not answered the last ${this.unanswered} writes; no more are sent until it does`));
    }
    this.unanswered++;
    const write = this.queue.write(batch);
    write.then(
      () => this.unanswered--,
      () => this.unanswered--,
    );
    return write;
  }

  /**
   * At close, past the deadline: every row not known to be committed goes to the spill file, the batch
   * whose write is unanswered too (if it commits after all, the replay skips its rows). Returns undefined
   * once they are kept, or why they could not be (appended to the error), and then leaves them in memory.
   */
  private spillAtClose(): string | undefined {
    const spill = this.opts.spill;
    if (!spill) return '';
    const batches: RowBatch[] = [];
    while (this.queue.length > 0) batches.push(this.queue.take());
    const all = this.inFlightBatch ? [this.inFlightBatch, ...batches] : batches;
    const rows = all.reduce((n, b) => n + b.count, 0);
    try {
      spill.append(all.flatMap((b) => this.queue.lines(b)), rows);
    } catch (err) {
      for (const b of batches.reverse()) this.queue.restore(b);
      return `; nor kept in ${spill.path}: ${(err as Error).message}`;
    }
    this.dropWaiting(this.arrivals.length, 'the ledger is not accepting writes; the row is kept in the spill file');
    this.inFlightBatch = undefined;
    this.inFlight = 0;
    this.spilled += rows;
    this.opts.onSpill?.(rows, spill.path, 'shutdown');
    return undefined;
  }

  /**
   * Too many rows wait: the oldest batch is spilled, or when there is no spill file (or it fails, or is at
   * its cap), dropped.
   */
  private relieve(): void {
    const spill = this.opts.spill;
    let why: DropReason = 'buffer_full';
    while (spill && this.queue.length > this.opts.maxBufferedRows) {
      const batch = this.queue.take();
      let kept = false;
      try {
        kept = spill.appendWithinCap(this.queue.lines(batch), batch.count);
        if (!kept) why = 'spill_full';
      } catch {
        // not kept
      }
      if (!kept) {
        this.queue.restore(batch);
        break;
      }
      this.queue.written(batch);
      this.dropWaiting(batch.count, 'the ledger write buffer overflowed; the row is kept in the spill file');
      this.spilled += batch.count;
      this.opts.onSpill?.(batch.count, spill.path, 'buffer_full');
    }
    if (this.queue.length > this.opts.maxBufferedRows) this.dropOldest(why);
  }

  /** Forgets the first `rows` arrivals, telling their strict callers why. */
  private dropWaiting(rows: number, why: string): void {
    this.arrivals.splice(0, rows);
    for (const w of this.waiting.splice(0, rows)) {
      if (!w) continue;
      this.waiters--;
      w.reject(new Error(why));
    }
  }

  private dropOldest(why: DropReason): void {
    const excess = this.queue.length - this.opts.maxBufferedRows;
    this.queue.dropOldest(excess);
    this.dropWaiting(excess, 'the ledger write buffer overflowed');
    this.dropped += excess;
    this.opts.onDrop?.(excess, why);
  }
}
