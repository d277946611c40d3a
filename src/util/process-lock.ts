// An exclusive lock on a file, held for as long as this process keeps it (or lives). Node has no flock of
// its own; SQLite's exclusive locking mode is one, and the operating system drops it however the process
// ends (kill -9 included), so a free lock means its last holder is gone and no pid check (pids are reused
// in containers) is needed. Used to claim a SQLite ledger for memory counters and to own a spill file.
import Database from 'better-sqlite3';

export interface ProcessLock {
  /** False when another running process holds it. */
  readonly held: boolean;
  release(): void;
}

/** Takes the lock on `path` (created if missing) without waiting. */
export function tryProcessLock(path: string): ProcessLock {
  // timeout 0: a lock held elsewhere is answered at once, not after better-sqlite3's default 5 s.
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if (String((err as { code?: unknown }).code).startsWith('SQLITE_BUSY')) return { held: false, release: () => {} };
    throw err;
  }
  return { held: true, release: () => db.close() };
}
