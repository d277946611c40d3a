// One gateway per SQLite ledger when counters are kept in memory. Two such gateways on one file (a second
// replica given the same volume, a unit started twice on another port) each count every limit on their
// own, so together they admit up to twice a budget, and nothing said so. The first one holds a process lock
// on a file beside the ledger for as long as it runs (util/process-lock.ts: a killed gateway leaves
// nothing stale behind).
import { tryProcessLock, type ProcessLock } from '../util/process-lock.js';

export type MemoryCountersClaim = ProcessLock;

/** The lock file beside a SQLite ledger. */
export function claimFileFor(ledgerPath: string): string {
  return `${ledgerPath}-memory-counters.lock`;
}

/** Claims the ledger at `ledgerPath` for this process's memory counters, without waiting. */
export function claimMemoryCounters(ledgerPath: string): MemoryCountersClaim {
  return tryProcessLock(claimFileFor(ledgerPath));
}
