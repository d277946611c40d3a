// Opens the ledger named by `storage.ledger`: `sqlite:PATH` or `postgres://...`.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Ledger } from './ledger.js';
import { TABLE } from './ledger-sql.js';
import { SqliteLedger } from './sqlite-ledger.js';
import { redactUrl } from '../util/redact-url.js';

export interface OpenLedgerOptions {
  /** Relative SQLite paths are resolved against this directory (the first config file's). */
  baseDir?: string;
  /** Strict durability: SQLite also fsyncs every commit. */
  strict?: boolean;
  /**
   * For reports: open an existing ledger to read it, never to create or migrate one. SQLite opens the
   * file read-only (it must exist) with no writer thread; PostgreSQL runs no DDL. A ledger that is
   * not there throws a LedgerNotFoundError.
   */
  readonly?: boolean;
}

/** A ledger opened read-only was not there: no SQLite file, or no ledger table in the database. */
export class LedgerNotFoundError extends Error {
  override readonly name = 'LedgerNotFoundError';
}

/** The SQLite file a `sqlite:` URL points at, resolved against `baseDir`; undefined for other URLs. */
export function sqlitePath(url: string, baseDir = process.cwd()): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  if (path === ':memory:' || isAbsolute(path)) return path;
  return resolve(baseDir, path);
}

/** Opens and migrates the ledger at `url` (or, with `readonly`, opens an existing one as it is). */
export async function openLedger(url: string, opts: OpenLedgerOptions = {}): Promise<Ledger> {
  const path = sqlitePath(url, opts.baseDir);
  const readonly = opts.readonly ?? false;
  if (readonly && path !== undefined) {
    if (path === ':memory:') throw new Error('an in-memory SQLite ledger has nothing to read');
    if (!existsSync(path)) throw new LedgerNotFoundError(`no ledger at ${path}: the file does not exist`);
  }
  // The PostgreSQL driver is loaded only when used: a SQLite gateway need not carry it.
  const ledger =
    path !== undefined
      ? new SqliteLedger(path, { synchronousFull: opts.strict, readonly })
      : new (await import('./postgres-ledger.js')).PostgresLedger(url, { readonly });
  try {
    await ledger.init();
    if (readonly && !(await ledger.hasLedgerTable())) {
      throw new LedgerNotFoundError(path !== undefined ? `${path} is not a Tollgate ledger: it has no ${TABLE}` : `no ${TABLE} table in ${redactUrl(url)}: has a gateway written to this ledger yet?`);
    }
  } catch (err) {
    await ledger.close().catch(() => {});
    throw err;
  }
  return ledger;
}
