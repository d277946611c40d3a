// One gateway per SQLite ledger when counters are kept in memory. Two such gateways on one file (a second
// replica given the same volume, a unit started twice on another port) each count every limit on their
// own, so together they admit up to twice a budget, and nothing said so. The first one holds an exclusive
// SQLite lock on a file beside the ledger for as long as it runs; the operating system drops the lock
// when the process ends however it ends, so a killed gateway leaves nothing stale behind.
import Database from 'better-sqlite3';

export interface MemoryCountersClaim {
  /** False when another running gateway holds the claim. */
  readonly held: boolean;
  release(): void;
}

/** The lock file beside a SQLite ledger. */
export function claimFileFor(ledgerPath: string): string {
  return `${ledgerPath}-memory-counters.lock`;
}

/** Claims the ledger at `ledgerPath` for this process's memory counters, without waiting. */
export function claimMemoryCounters(ledgerPath: string): MemoryCountersClaim {
  // timeout 0: a lock held elsewhere is answered at once, not after better-sqlite3's default 5 s.
  const db = new Database(claimFileFor(ledgerPath), { timeout: 0 });
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
