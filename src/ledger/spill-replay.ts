// Replays spill files (spill-file.ts) into the ledger at start: rows a gateway could not write before it
// exited. Inserts skip rows already there (same request id and time), so a file replayed twice, or rows
// that were committed after all by a write whose answer never came, are written once. A file is removed
// only after its rows are committed; lines that cannot be read (a torn last line after a crash) or that
// the database refuses are kept aside in a `.rejected` file beside it, and never stop the start.
import { closeSync, createReadStream, openSync, readdirSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Ledger, LedgerRow } from './ledger.js';
import { SPILL_PREFIX, SPILL_SUFFIX, writeLinesSynced } from './spill-file.js';
import { lockFileFor, lockSpill } from './spill-lock.js';
import { appendSettingAside } from './append-refusing.js';

/** Rows per insert: one transaction each, as the writer's batches. */
const CHUNK_ROWS = 500;

export interface ReplayedFile {
  path: string;
  rows: number;
  /** Lines kept aside, unread or refused, and where. */
  rejected: number;
  rejectedPath?: string;
}

export interface ReplayReport {
  files: ReplayedFile[];
  /** Spill files still held by a running gateway, left for a later start. */
  busy: string[];
  /** Spill files of other ledgers in the directory, left alone. */
  others: number;
}

/**
 * Replays every spill file of the ledger tagged `tag` (ledgerTag) in `dir` that no running process holds.
 * Throws (keeping the file) when a write fails.
 */
export async function replaySpills(dir: string, ledger: Ledger, tag: string): Promise<ReplayReport> {
  const report: ReplayReport = { files: [], busy: [], others: 0 };
  let spills: string[];
  try {
    spills = readdirSync(dir).filter((n) => n.startsWith(SPILL_PREFIX) && n.endsWith(SPILL_SUFFIX));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw err;
  }
  const names = spills.filter((n) => n.startsWith(`${SPILL_PREFIX}${tag}-`)).sort();
  report.others = spills.length - names.length;
  for (const name of names) {
    const path = join(dir, name);
    const lock = lockSpill(path);
    if (!lock.held) {
      report.busy.push(path);
      continue;
    }
    try {
      const replayed = await replayFile(path, ledger);
      if (replayed) report.files.push(replayed);
    } finally {
      lock.release();
    }
    // The lock file outlives its spill file only when nobody will write that spill file again.
    rmSync(lockFileFor(path), { force: true });
  }
  return report;
}

async function replayFile(path: string, ledger: Ledger): Promise<ReplayedFile | undefined> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    // Replayed and removed by another gateway between our listing and our lock.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // Read a line at a time: a file spilled through a long outage may be larger than the process's memory.
  const input = createReadStream('', { fd });
  try {
    return await replayLines(path, createInterface({ input, crlfDelay: Infinity }), ledger);
  } finally {
    input.destroy(); // a write that failed half way leaves it open
  }
}

async function replayLines(path: string, lines: AsyncIterable<string>, ledger: Ledger): Promise<ReplayedFile> {
  let chunk: LedgerRow[] = [];
  const rejected: string[] = [];
  let written = 0;
  const writeChunk = async (): Promise<void> => {
    const refused = await appendSettingAside(ledger, chunk, (row) => rejected.push(JSON.stringify({ row })));
    written += chunk.length - refused;
    chunk = [];
  };
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const parsed = parseLine(line);
    if (parsed?.row) {
      chunk.push(parsed.row);
      if (chunk.length >= CHUNK_ROWS) await writeChunk();
    } else if (parsed?.packed && ledger.appendPacked) {
      await ledger.appendPacked(parsed.packed.json);
      written += parsed.packed.rows;
    } else {
      rejected.push(line);
    }
  }
  if (chunk.length > 0) await writeChunk();
  // Written only once every good row is committed: a replay that fails half way is run again whole.
  const rejectedPath = rejected.length > 0 ? `${path}.rejected` : undefined;
  if (rejectedPath) appendSynced(rejectedPath, rejected);
  rmSync(path);
  return { path, rows: written, rejected: rejected.length, ...(rejectedPath ? { rejectedPath } : {}) };
}

/** A spill line: one row (`{"row": ...}`), or a SQLite ledger's packed batch (`{"packed": ..., "rows": n}`). */
function parseLine(line: string): { row?: LedgerRow; packed?: { json: string; rows: number } } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { row, packed, rows } = v as { row?: Partial<LedgerRow>; packed?: unknown; rows?: unknown };
  // The two fields a row is known by (and skipped by when already written); the database checks the rest.
  if (row && typeof row.requestId === 'string' && typeof row.ts === 'number' && Number.isFinite(row.ts)) return { row: row as LedgerRow };
  if (typeof packed === 'string' && typeof rows === 'number') return { packed: { json: packed, rows } };
  return undefined;
}

function appendSynced(path: string, lines: string[]): void {
  const fd = openSync(path, 'a', 0o600);
  try {
    writeLinesSynced(fd, lines);
  } finally {
    closeSync(fd);
  }
}
