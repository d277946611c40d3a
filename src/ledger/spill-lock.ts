// Whose spill file is this? A spill file is appended to by one running gateway and replayed by the next
// one to start, possibly while the first still runs (a rolling update on a shared volume). The writer
// holds an exclusive SQLite lock on a file beside its spill file for as long as it lives; the operating
// system drops the lock however the process ends (kill -9 included), so a free lock means "nobody writes
// this any more" and a pid check (reused pids in containers) is not needed. Node has no flock of its own.
import Database from 'better-sqlite3';

export interface SpillLock {
  /** False when a running process holds it. */
  readonly held: boolean;
  release(): void;
}

/** The lock file of a spill file. */
export function lockFileFor(spillPath: string): string {
  return `${spillPath}.lock`;
}

/** Takes the lock of `spillPath` without waiting. */
export function lockSpill(spillPath: string): SpillLock {
  // timeout 0: a lock held elsewhere is answered at once, not after better-sqlite3's default 5 s.
  const db = new Database(lockFileFor(spillPath), { timeout: 0 });
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
