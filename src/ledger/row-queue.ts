// Rows waiting for their batch, oldest first. The writer takes a whole batch from the front, gives it
// back if its write fails, and drops the oldest rows when the database stays away too long.
import type { Ledger, LedgerRow } from './ledger.js';
import { appendSettingAside } from './append-refusing.js';

export interface RowBatch {
  readonly count: number;
}

export interface RowQueue<B extends RowBatch = RowBatch> {
  /** Rows queued (a batch being written is not counted). */
  readonly length: number;
  push(row: LedgerRow): void;
  /** Removes the oldest rows, at most the batch size, as one batch. */
  take(): B;
  /** Puts a batch whose write failed back in front. */
  restore(batch: B): void;
  dropOldest(rows: number): void;
  /**
   * Writes a batch in one transaction. Resolves with how many rows the database refused and were set
   * aside (handed to `onRefused`); rejects when nothing could be written for another reason.
   */
  write(batch: B): Promise<number>;
  /** The batch is committed: its memory may be reused. */
  written(batch: B): void;
  /** The batch as spill-file lines (spill-file.ts), for rows the ledger cannot take. */
  lines(batch: B): string[];
}

/** A row the database refused: it is not retried, and is lost to the ledger. */
export type RefusedRow = (row: Pick<LedgerRow, 'requestId' | 'organization'>, err: Error) => void;

/** The queue for a ledger: packed off-heap when it takes packed rows (SQLite), row objects otherwise. */
export function rowQueueFor(ledger: Ledger, batchSize: number, onRefused: RefusedRow = () => {}): RowQueue {
  if (ledger.packRow && ledger.appendPacked) return new PackedRowQueue(ledger.packRow.bind(ledger), ledger.appendPacked.bind(ledger), batchSize);
  return new ObjectRowQueue(ledger, batchSize, onRefused);
}

interface ObjectBatch extends RowBatch {
  rows: LedgerRow[];
}

class ObjectRowQueue implements RowQueue<ObjectBatch> {
  private rows: LedgerRow[] = [];

  constructor(
    private readonly ledger: Ledger,
    private readonly batchSize: number,
    private readonly onRefused: RefusedRow,
  ) {}

  get length(): number {
    return this.rows.length;
  }

  push(row: LedgerRow): void {
    this.rows.push(row);
  }

  take(): ObjectBatch {
    const rows = this.rows.splice(0, this.batchSize);
    return { rows, count: rows.length };
  }

  restore(batch: ObjectBatch): void {
    this.rows.unshift(...batch.rows);
  }

  dropOldest(rows: number): void {
    this.rows.splice(0, rows);
  }

  write(batch: ObjectBatch): Promise<number> {
    return appendSettingAside(this.ledger, batch.rows, this.onRefused);
  }

  written(): void {}

  lines(batch: ObjectBatch): string[] {
    return batch.rows.map((row) => JSON.stringify({ row }));
  }
}

const COMMA = 0x2c;
const OPEN = 0x5b;

/**
 * Up to a batch of packed rows as the UTF-8 text of a JSON array, in memory outside the JavaScript heap.
 * A row is written here the moment its call ends and its string is garbage at once, so rows waiting for
 * their batch give the garbage collector nothing to copy, promote or trace. What its rows share
 * (Ledger.packRow) is kept as the few long-lived strings it is, and follows the rows when the batch is
 * written.
 */
class Segment implements RowBatch {
  private used = 1;
  // Byte offset just past each row; rows before `first` were dropped.
  private readonly ends: number[] = [];
  private first = 0;
  readonly shared = new Set<string>();

  constructor(private bytes: Buffer) {}

  get count(): number {
    return this.ends.length - this.first;
  }

  add(text: string): void {
    // A UTF-16 code unit is at most three UTF-8 bytes; one more for the comma, one for the closing bracket.
    this.makeRoom(3 * text.length + 2);
    if (this.ends.length > 0) this.bytes[this.used++] = COMMA;
    this.used += this.bytes.write(text, this.used);
    this.ends.push(this.used);
  }

  private makeRoom(bytes: number): void {
    const room = this.used + bytes;
    if (room > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(room, 2 * this.bytes.length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
  }

  dropOldest(rows: number): void {
    this.first += Math.min(rows, this.count);
  }

  /** The live rows and then the array of their shared texts, as the text of a JSON array (Ledger.appendPacked). */
  json(): string {
    // The shared texts go after the rows, past `used`, so more rows can still be added (a batch given
    // back after a failed write) and the next json() writes them again.
    const trailer = `,[${[...this.shared].join(',')}]]`;
    this.makeRoom(3 * trailer.length);
    const end = this.used + this.bytes.write(trailer, this.used);
    // The byte before the first live row is the opening bracket or a dropped row's comma: either way
    // it becomes the opening bracket.
    const start = this.first === 0 ? 0 : this.ends[this.first - 1];
    this.bytes[start] = OPEN;
    return this.bytes.toString('utf8', start, end);
  }

  /** Its memory, for the next segment. */
  release(): Buffer {
    return this.bytes;
  }
}

class PackedRowQueue implements RowQueue<Segment> {
  private readonly segments: Segment[] = [];
  private queued = 0;
  // Written segments' memory, reused by the next ones: a batch's bytes are about the same each time, and
  // the next segment usually starts while the previous one is still being written, so two are kept.
  private readonly spares: Buffer[] = [];
  // New segments start as large as the largest so far, so they rarely grow (a copy) while filling.
  private segmentBytes = 64 * 1024;

  constructor(
    private readonly pack: (row: LedgerRow, shared: Set<string>) => string,
    private readonly append: (json: string) => Promise<void>,
    private readonly batchSize: number,
  ) {}

  get length(): number {
    return this.queued;
  }

  push(row: LedgerRow): void {
    let last = this.segments[this.segments.length - 1];
    if (last === undefined || last.count >= this.batchSize) {
      last = new Segment(this.spares.pop() ?? Buffer.allocUnsafe(this.segmentBytes));
      this.segments.push(last);
    }
    last.add(this.pack(row, last.shared));
    this.queued++;
  }

  take(): Segment {
    const batch = this.segments.shift();
    if (batch === undefined) throw new Error('no rows to take');
    this.queued -= batch.count;
    return batch;
  }

  restore(batch: Segment): void {
    this.segments.unshift(batch);
    this.queued += batch.count;
  }

  dropOldest(rows: number): void {
    let left = Math.min(rows, this.queued);
    this.queued -= left;
    while (left > 0) {
      const oldest = this.segments[0];
      const n = Math.min(left, oldest.count);
      oldest.dropOldest(n);
      left -= n;
      if (oldest.count === 0) this.segments.shift();
    }
  }

  // SQLite stores whatever text a row holds: it refuses no row, only a write as a whole.
  async write(batch: Segment): Promise<number> {
    await this.append(batch.json());
    return 0;
  }

  // The packed text replays as it is into a SQLite ledger (appendPacked): one line per batch.
  lines(batch: Segment): string[] {
    return batch.count === 0 ? [] : [JSON.stringify({ packed: batch.json(), rows: batch.count })];
  }

  written(batch: Segment): void {
    const bytes = batch.release();
    this.segmentBytes = Math.max(this.segmentBytes, bytes.length);
    if (this.spares.length < 2 && bytes.length === this.segmentBytes) this.spares.push(bytes);
  }
}
