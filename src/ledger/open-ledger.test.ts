// Reports open the ledger read-only: they never create a file, run DDL or start a writer.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postgresPlace, sqlitePlace, type LedgerPlace } from '../../test/helpers/ledgers.js';
import { sampleRow, T0 } from '../../test/helpers/sample-row.js';
import { holdWriteLock } from '../../test/helpers/sqlite-writer-elsewhere.js';
import { LedgerNotFoundError, openLedger, sqlitePath } from './open-ledger.js';

const places: LedgerPlace[] = [];
afterAll(async () => {
  for (const p of places.splice(0)) await p.drop();
});

async function withLedger(place: LedgerPlace, rows = 1): Promise<void> {
  const ledger = await openLedger(place.url);
  await ledger.append(Array.from({ length: rows }, (_, i) => sampleRow({ ts: T0 - 1000 * (i + 1) })));
  await ledger.close();
}

describe('read-only open: SQLite', () => {
  it('a missing file is a LedgerNotFoundError naming the path, and nothing is created', async () => {
    const place = sqlitePlace();
    places.push(place);
    const missing = path.join(path.dirname(sqlitePath(place.url)!), 'sub/typo.db');
    const err = await openLedger(`sqlite:${missing}`, { readonly: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(LedgerNotFoundError);
    expect((err as Error).message).toBe(`no ledger at ${missing}: the file does not exist`);
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(path.dirname(missing))).toBe(false);
  });

  it('a file without the ledger is a LedgerNotFoundError; an in-memory ledger is refused', async () => {
    const place = sqlitePlace();
    places.push(place);
    const file = sqlitePath(place.url)!;
    writeFileSync(file, '');
    await expect(openLedger(place.url, { readonly: true })).rejects.toThrow(LedgerNotFoundError);
    await expect(openLedger('sqlite::memory:', { readonly: true })).rejects.toThrow(/in-memory/);
  });

  it('reads an existing ledger and refuses to write to it', async () => {
    const place = sqlitePlace();
    places.push(place);
    await withLedger(place, 3);
    const ledger = await openLedger(place.url, { readonly: true });
    try {
      expect(await ledger.rows({})).toHaveLength(3);
      await expect(ledger.append([sampleRow()])).rejects.toThrow(/read-only/);
    } finally {
      await ledger.close();
    }
  });
});

describe('read-only open: PostgreSQL', () => {
  const roles: string[] = [];
  let admin: postgres.Sql | undefined;
  const sqlFor = (url: string): postgres.Sql => postgres(url, { max: 1, onnotice: () => {} });
  afterEach(async () => {
    await admin?.end();
    admin = undefined;
  });
  afterAll(async () => {
    for (const p of places.splice(0)) await p.drop();
    const a = sqlFor(process.env.TOLLGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    for (const r of roles) await a.unsafe(`DROP ROLE IF EXISTS ${r}`);
    await a.end();
  });

  it('a database without the ledger table is a LedgerNotFoundError, and no DDL ran', async () => {
    const place = await postgresPlace();
    places.push(place);
    const err = await openLedger(place.url, { readonly: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(LedgerNotFoundError);
    expect((err as Error).message).toMatch(/^no tollgate_ledger table in postgres:\/\/.*tollgate_test_/);
    admin = sqlFor(place.url);
    expect(await admin`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`).toHaveLength(0);
  });

  it('a role that may only SELECT the ledger can report from it', async () => {
    const place = await postgresPlace();
    places.push(place);
    await withLedger(place, 2);
    const role = `tollgate_reader_${randomBytes(4).toString('hex')}`;
    roles.push(role);
    admin = sqlFor(place.url);
    await admin.unsafe(`CREATE ROLE ${role} LOGIN`);
    await admin.unsafe(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    await admin.unsafe(`GRANT SELECT ON tollgate_ledger TO ${role}`);
    const url = new URL(place.url);
    url.username = role;
    // Migrating (what a plain open does) needs more than SELECT: it takes the lock and creates tables.
    const ledger = await openLedger(url.toString(), { readonly: true });
    try {
      expect(await ledger.rows({})).toHaveLength(2);
      const groups = await ledger.summarize({ groupBy: ['project'] });
      expect(groups.reduce((n, g) => n + g.calls, 0)).toBe(2);
      await expect(ledger.append([sampleRow()])).rejects.toThrow(/read-only/);
    } finally {
      await ledger.close();
    }
    await admin.unsafe(`REVOKE ALL ON tollgate_ledger FROM ${role}`);
  });
});

// Regression test: libpq (psql, every PostgreSQL tool) reads credentials from the query too; the driver
// connected as the OS user and sent `dbname` and `password` to the server as settings.
describe('PostgreSQL URLs with libpq query parameters', () => {
  it('connects with the user, password and database given as ?user=&password=&dbname=', async () => {
    const place = await postgresPlace();
    places.push(place);
    await withLedger(place, 2);
    const url = new URL(place.url);
    const database = url.pathname.slice(1);
    const viaQuery = `postgres://${url.host}/?dbname=${database}&user=${url.username}&password=${encodeURIComponent('p@ss/word&more')}`;
    const ledger = await openLedger(viaQuery, { readonly: true });
    try {
      expect(await ledger.rows({})).toHaveLength(2);
    } finally {
      await ledger.close();
    }
  });
});

describe('SQLite: opening next to another process', () => {
  it('waits for a process writing the fresh file instead of failing at its conversion to WAL', async () => {
    // SQLite fails the conversion at once ("database is locked", no busy handler): gateways of a fleet
    // starting together on a new file met this.
    const place = sqlitePlace();
    places.push(place);
    const file = sqlitePath(place.url)!;
    const other = await holdWriteLock(file, 300);
    const t0 = performance.now();
    const ledger = await openLedger(place.url);
    const waited = performance.now() - t0;
    try {
      await other.released;
      expect(waited).toBeGreaterThan(150);
      await ledger.append([sampleRow({ ts: T0 })]);
      expect(await ledger.rows({})).toHaveLength(1);
    } finally {
      await ledger.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('wal');
    check.close();
  });
});
