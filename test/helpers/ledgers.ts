// Both ledger implementations for contract tests: a SQLite file in a temp dir, and a fresh database on
// the local PostgreSQL (dropped afterwards).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startDelayProxy, type DelayProxy } from './redis-delay-proxy.js';

export const PG_ADMIN_URL = process.env.TOLLGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A ledger URL to hand to openLedger / a config, and how to clean it up. */
export interface LedgerPlace {
  kind: 'sqlite' | 'postgres';
  url: string;
  drop: () => Promise<void>;
}

/** A new SQLite ledger file in a temp directory. */
export function sqlitePlace(): LedgerPlace {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-ledger-'));
  return { kind: 'sqlite', url: `sqlite:${path.join(dir, 'ledger.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A new, empty PostgreSQL database with a unique name. */
export async function postgresPlace(): Promise<LedgerPlace> {
  const name = `tollgate_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    url: url.toString(),
    drop: async () => {
      const a = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Both places, for `describe.each`. */
export const LEDGER_KINDS = [
  { kind: 'sqlite' as const, place: async (): Promise<LedgerPlace> => sqlitePlace() },
  { kind: 'postgres' as const, place: postgresPlace },
];

/** A fresh PostgreSQL ledger database reached through a delay proxy, to stall it at will (`proxy.setDelay`). */
export async function stallablePostgres(): Promise<{ place: LedgerPlace; proxy: DelayProxy; url: string; close(): Promise<void> }> {
  const place = await postgresPlace();
  const url = new URL(place.url);
  const proxy = await startDelayProxy(Number(url.port || 5432));
  url.port = String(proxy.port);
  return {
    place,
    proxy,
    url: url.toString(),
    close: async () => {
      proxy.setDelay(0);
      await proxy.close();
      await place.drop();
    },
  };
}
