// Whose spill file is this? A spill file is appended to by one running gateway and replayed by the next
// one to start, possibly while the first still runs (a rolling update on a shared volume). The writer
// holds a process lock on a file beside its spill file for as long as it lives: a free lock means
// "nobody writes this any more".
import { tryProcessLock, type ProcessLock } from '../util/process-lock.js';

export type SpillLock = ProcessLock;

/** The lock file of a spill file. */
export function lockFileFor(spillPath: string): string {
  return `${spillPath}.lock`;
}

/** Takes the lock of `spillPath` without waiting. */
export function lockSpill(spillPath: string): SpillLock {
  return tryProcessLock(lockFileFor(spillPath));
}
