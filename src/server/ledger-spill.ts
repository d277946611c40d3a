// The ledger's spill file as a gateway uses it: where it lives, the rows of earlier processes replayed
// into the ledger at start (before counters are rebuilt from it), and the lines that say so.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Policy } from '../config/policy.js';
import type { Ledger } from '../ledger/ledger.js';
import { driverUrl } from '../ledger/libpq-url.js';
import { sqlitePath } from '../ledger/open-ledger.js';
import { ledgerTag, SpillFile } from '../ledger/spill-file.js';
import { replaySpills } from '../ledger/spill-replay.js';

/** Where a gateway spills, and the tag of the ledger its files belong to. */
export interface SpillPlace {
  dir: string;
  tag: string;
}

/**
 * `ledger.spill_dir` against the config's directory (as `storage.ledger`); unset, the SQLite file's
 * directory, or for PostgreSQL `./data` there (where the default SQLite ledger would be). Undefined when
 * turned off, or for an in-memory SQLite ledger, which keeps nothing across a restart anyway.
 */
export function spillPlaceFor(policy: Policy, baseDir: string): SpillPlace | undefined {
  const set = policy.ledger.spillDir;
  if (set === false) return undefined;
  const url = policy.storage.ledger;
  const file = sqlitePath(url, baseDir);
  if (file === ':memory:') return undefined;
  const dir = set !== undefined ? resolve(baseDir, set) : file !== undefined ? dirname(file) : resolve(baseDir, 'data');
  return { dir, tag: ledgerTag(file !== undefined ? `sqlite:${file}` : `postgres:${databaseName(url)}`) };
}

/** The database a PostgreSQL URL names (libpq's default: the user's name). */
function databaseName(url: string): string {
  try {
    const u = new URL(driverUrl(url));
    return decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username);
  } catch {
    return url;
  }
}

/** This process's spill file (created at its first row); warns at once when it could not be created. */
export function openSpill(place: SpillPlace | undefined, maxMb: number, log: Logger): SpillFile | undefined {
  if (place === undefined) return undefined;
  // The nearest directory that exists must take new files; nothing is created until a row is spilled.
  let dir = place.dir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    // A warning, not a refusal: the spill matters only once the ledger fails, and the gateway serves without it.
    log.warn({ spillDir: place.dir, error: (err as Error).message }, 'ledger.spill_dir is not writable: rows the ledger cannot take at shutdown would be lost');
  }
  return new SpillFile(place.dir, place.tag, maxMb * 1024 * 1024);
}

/** Replays this ledger's spill files into `ledger`, logged; never throws (the files stay for the next start). */
export async function replaySpillsLogged(place: SpillPlace | undefined, ledger: Ledger, log: Logger): Promise<void> {
  if (place === undefined) return;
  try {
    const report = await replaySpills(place.dir, ledger, place.tag);
    for (const f of report.files) {
      log.info({ file: f.path, rows: f.rows }, `replayed ${f.rows} spilled ledger rows into the ledger (rows already there are skipped) and removed the spill file`);
      if (f.rejected > 0) {
        log.error({ file: f.path, lines: f.rejected, keptIn: f.rejectedPath }, `${f.rejected} lines of a spill file could not be replayed (unreadable, e.g. torn by a crash, or refused by the database); kept aside in ${f.rejectedPath}`);
      }
    }
    for (const busy of report.busy) log.info({ file: busy }, 'a spill file is held by a running gateway; it is replayed at a later start');
    if (report.others > 0) log.info({ spillDir: place.dir, files: report.others }, 'spill files of another ledger are in the spill directory; left alone');
  } catch (err) {
    log.error({ spillDir: place.dir, error: (err as Error).message }, 'could not replay spilled ledger rows; the spill files are kept and replayed at the next start');
  }
}

/**
 * For when the ledger's writes succeed again: the rows this process moved to its spill file while the
 * database was away (its buffer full) are replayed now, not at the next start, which may be weeks away
 * (reports and counter rebuilds would miss them until then). Later spills go to a new file.
 */
export function spilledRowsReplayer(spill: SpillFile | undefined, place: SpillPlace | undefined, ledger: Ledger, log: Logger): () => void {
  let replays = Promise.resolve();
  return () => {
    if (!spill || !place || spill.rows === 0) return;
    spill.rotate();
    // One after the other: a replay still running holds the lock of the file the next one would find.
    replays = replays.then(() => replaySpillsLogged(place, ledger, log));
  };
}
