// Opens the ledger named by `storage.ledger`: `sqlite:PATH` or `postgres://...`.
import { isAbsolute, resolve } from 'node:path';
import type { Ledger } from './ledger.js';
import { SqliteLedger } from './sqlite-ledger.js';

export interface OpenLedgerOptions {
  /** Relative SQLite paths are resolved against this directory (the first config file's). */
  baseDir?: string;
  /** Strict durability: SQLite also fsyncs every commit. */
  strict?: boolean;
}

/** The SQLite file a `sqlite:` URL points at, resolved against `baseDir`; undefined for other URLs. */
export function sqlitePath(url: string, baseDir = process.cwd()): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  if (path === ':memory:' || isAbsolute(path)) return path;
  return resolve(baseDir, path);
}

/** Opens and migrates the ledger at `url`. */
export async function openLedger(url: string, opts: OpenLedgerOptions = {}): Promise<Ledger> {
  const path = sqlitePath(url, opts.baseDir);
  // The PostgreSQL driver is loaded only when used: a SQLite gateway need not carry it.
  const ledger: Ledger = path !== undefined ? new SqliteLedger(path, { synchronousFull: opts.strict }) : new (await import('./postgres-ledger.js')).PostgresLedger(url);
  try {
    await ledger.init();
  } catch (err) {
    await ledger.close().catch(() => {});
    throw err;
  }
  return ledger;
}

/** The ledger URL with any password removed, for messages. */
export function redactLedgerUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/, '$1:***@');
}
