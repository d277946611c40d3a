import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectChunkedInOrder, expectVisitorFailureStops } from '../../test/helpers/reader-thread-checks.js';
import { SqliteReaderThread } from './sqlite-reader-thread.js';

// Rows made by SQLite itself, so the file needs no seeding: x = 1..n, and x * x.
const COUNT_TO = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT x, x * x AS square FROM c`;

describe('SqliteReaderThread', () => {
  let dir: string;
  let path: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tg-reader-'));
    path = join(dir, 'ledger.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
    db.prepare('INSERT INTO t (name) VALUES (?), (?)').run('a', null);
    db.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hands every row over, named by its columns, in chunks, in order', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      await expectChunkedInOrder(reader, COUNT_TO);
      expect(await reader.all('SELECT id, name FROM t WHERE id >= ? ORDER BY id', [1])).toEqual([
        { id: 1, name: 'a' },
        { id: 2, name: null },
      ]);
    } finally {
      await reader.close();
    }
  });

  it('keeps the event loop free while SQLite reads: a timer goes on firing during a long read', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      let last = performance.now();
      let longestGap = 0;
      let ticks = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        ticks++;
      }, 5);
      const t0 = performance.now();
      let rows = 0;
      await reader.each(`SELECT count(*) AS n FROM (${COUNT_TO(3_000_000)})`, [], (r) => (rows += r.length));
      const took = performance.now() - t0;
      clearInterval(timer);
      expect(rows).toBe(1);
      // On the event loop, the whole read would be one gap (and no tick would fire during it).
      expect(took).toBeGreaterThan(100);
      expect(ticks).toBeGreaterThan(3);
      expect(longestGap).toBeLessThan(took / 2);
    } finally {
      await reader.close();
    }
  });

  it('stops a read whose visitor throws, fails it with that error, and goes on with the next read', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      await expectVisitorFailureStops(reader, COUNT_TO);
      expect(await reader.all('SELECT count(*) AS n FROM t', [])).toEqual([{ n: 2 }]);
    } finally {
      await reader.close();
    }
  });

  it("fails a read with SQLite's own message, and a closed reader's reads at once", async () => {
    const reader = new SqliteReaderThread(path);
    await expect(reader.all('SELECT nope FROM t', [])).rejects.toThrow(/no such column: nope/);
    // Its connection is read-only.
    await expect(reader.all('INSERT INTO t (name) VALUES (?) RETURNING id', ['b'])).rejects.toThrow(/readonly database/);
    await reader.close();
    await expect(reader.all('SELECT 1', [])).rejects.toThrow(/closed/);
  });

  it('a read of a file that is not there fails, naming it; the next read starts a new thread', async () => {
    const missing = join(dir, 'missing.db');
    const reader = new SqliteReaderThread(missing);
    try {
      await expect(reader.all('SELECT 1', [])).rejects.toThrow(missing);
      const db = new Database(missing);
      db.close();
      expect(await reader.all('SELECT 1 AS one', [])).toEqual([{ one: 1 }]);
    } finally {
      await reader.close();
    }
  });

  it('stops its thread once idle, and starts another for the next read', async () => {
    const reader = new SqliteReaderThread(path, 50);
    try {
      expect(reader.running).toBe(false); // started by the first read, not before
      const reads = [reader.all('SELECT count(*) AS n FROM t', []), reader.all(COUNT_TO(5000), [])];
      expect(reader.running).toBe(true);
      expect((await reads[0])[0]).toEqual({ n: 2 });
      expect((await reads[1]).length).toBe(5000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(reader.running).toBe(false);
      expect(await reader.all('SELECT name FROM t ORDER BY id', [])).toEqual([{ name: 'a' }, { name: null }]);
      expect(reader.running).toBe(true);
    } finally {
      await reader.close();
    }
    await expect(reader.all('SELECT 1', [])).rejects.toThrow(/closed/);
    expect(reader.running).toBe(false);
  });
});
