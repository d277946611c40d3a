// Rows the ledger could not take (its database away at shutdown, or the write buffer full while it is
// away) written to a local file instead of being lost, and replayed into the ledger at the next start
// (spill-replay.ts). One file per process, so gateways sharing a directory never interleave lines;
// append-only NDJSON, fsynced before the rows count as kept, so a crash can tear at most the last line.
// A file's name carries a tag of the ledger its rows belong to (ledgerTag): gateways of different
// ledgers sharing a directory must never replay each other's rows.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { lockSpill, type SpillLock } from './spill-lock.js';

/** Spill files in a directory are named so; replay picks up every file of this shape. */
export const SPILL_PREFIX = 'tollgate-ledger-spill-';
export const SPILL_SUFFIX = '.ndjson';

export class SpillFile {
  private fd: number | undefined;
  private lock: SpillLock | undefined;
  private current: string;
  /** Rows written to the current file. */
  rows = 0;
  /** Bytes written to the current file. */
  bytes = 0;

  constructor(
    readonly dir: string,
    private readonly tag: string,
    /**
     * `ledger.spill_max_mb` in bytes: the most the file takes of rows that overflow the write buffer while
     * the ledger is away (appendWithinCap), so a long outage cannot fill the disk. The rows kept at
     * shutdown go in whatever the file holds: there are at most `max_buffered_rows` of them.
     */
    readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    this.current = this.newPath();
  }

  /** The current file (it exists once a row was written). */
  get path(): string {
    return this.current;
  }

  /**
   * Appends lines holding `rows` rows and fsyncs them (synchronous: at shutdown the process is about to
   * exit, and on overflow the rows must be safe before they leave memory). Throws when the disk refuses.
   */
  append(lines: readonly string[], rows: number): void {
    if (lines.length === 0) return;
    if (this.fd === undefined) this.open();
    this.bytes += writeLinesSynced(this.fd!, lines);
    this.rows += rows;
  }

  /** As append, unless the lines would take the file past `maxBytes`: then nothing is written, and false. */
  appendWithinCap(lines: readonly string[], rows: number): boolean {
    let size = lines.length; // the newlines
    for (const line of lines) size += Buffer.byteLength(line);
    if (this.bytes + size > this.maxBytes) return false;
    this.append(lines, rows);
    return true;
  }

  /** Lets the file go (the lock with it): the next start may replay it. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.lock?.release();
    this.lock = undefined;
  }

  /** Lets the current file go, for this process to replay it now, and spills any later rows to a new one. */
  rotate(): void {
    this.close();
    this.current = this.newPath();
    this.rows = 0;
    this.bytes = 0;
  }

  private newPath(): string {
    // Time after the tag, so a listing is oldest first; pid and random bits keep names unique per process.
    return join(this.dir, `${SPILL_PREFIX}${this.tag}-${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}${SPILL_SUFFIX}`);
  }

  private open(): void {
    mkdirSync(this.dir, { recursive: true });
    // The lock before the file: a gateway starting meanwhile must never see the file unlocked while it grows.
    const lock = lockSpill(this.path);
    if (!lock.held) throw new Error(`${this.path} is locked by another process`);
    this.lock = lock;
    this.fd = openSync(this.path, 'a', 0o600);
    // The new name must survive a power cut too: fsync the directory that holds it.
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

/**
 * Writes `lines` to `fd` (opened to append), one per line, and fsyncs them before returning; how many bytes
 * that was. Throws when they could not all be kept, and then leaves the file as it was.
 */
export function writeLinesSynced(fd: number, lines: readonly string[]): number {
  const bytes = Buffer.from(lines.join('\n') + '\n');
  const start = fstatSync(fd).size;
  let written = 0;
  try {
    // A write may take only part of the bytes (a disk filling up, a file size limit) without an error;
    // the next one then fails. Counting the first as done lost the rest of its rows, and a SQLite batch
    // is one line.
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (err) {
    // The rows stay in the caller's hands; a torn line left here would also glue itself to the next line.
    try {
      ftruncateSync(fd, start);
    } catch {
      // a torn last line, which the replay sets aside
    }
    throw err;
  }
  return written;
}

/**
 * A short tag naming a ledger: PostgreSQL by database name (its host and port change with a failover or a
 * pooler while the rows still belong there), SQLite by the file's absolute path.
 */
export function ledgerTag(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, 12);
}
