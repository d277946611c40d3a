// Whether a gateway can write its SQLite ledger. SQLite opens a file it may not write read-only without a
// word, so a gateway on such a file (a volume mounted with the wrong owner, a file copied in as 0444)
// started, served, and kept every call's row in memory until the buffer overflowed or the process exited:
// all of them lost, and with memory counters the next start handed out budgets the ledger never saw.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied for this user',
  EPERM: 'permission denied for this user',
  EROFS: 'on a read-only file system',
};

/**
 * Why the gateway could not write the SQLite ledger at `path`, or undefined when it can (as far as the
 * file system tells before trying). The file, its WAL and shared-memory files that exist, and the
 * directory where SQLite creates those that do not, must all be writable.
 */
export function sqliteUnwritable(path: string): string | undefined {
  if (path === ':memory:') return undefined;
  const dir = dirname(path);
  // A directory that does not exist yet is created by the ledger itself, which says so if it cannot.
  if (!existsSync(dir)) return undefined;
  const companions = [`${path}-wal`, `${path}-shm`];
  const needed = existsSync(path) ? [path, ...companions.filter((f) => existsSync(f))] : [];
  // SQLite creates the file, or a missing WAL / shared-memory file, in the directory.
  if (!existsSync(path) || companions.some((f) => !existsSync(f))) needed.push(dir);
  for (const file of needed) {
    try {
      accessSync(file, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      return `${file} is not writable (${REASONS[code] ?? code})`;
    }
  }
  return undefined;
}
