// Review of the SQLite reader thread: the file locked by another connection, deleted or replaced under a
// running ledger. Every read must end (rows, or a clear error) in bounded time. Real SQLite files.
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger, sqlitePath } from '../src/ledger/open-ledger.js';
import { SqliteReaderThread } from '../src/ledger/sqlite-reader-thread.js';
import { sampleRow } from './helpers/sample-row.js';
import { sqlitePlace } from './helpers/ledgers.js';

const NOW = Date.UTC(2026, 11, 6, 12);

function within<T>(p: Promise<T>, ms: number): Promise<T | 'hang'> {
  return Promise.race([p, new Promise<'hang'>((r) => setTimeout(() => r('hang'), ms).unref())]);
}

async function seeded(): Promise<{ ledger: Ledger; path: string; drop: () => Promise<void>; url: string }> {
  const place = sqlitePlace();
  const ledger = await openLedger(place.url);
  await ledger.append(Array.from({ length: 2500 }, (_, i) => sampleRow({ requestId: `r${i}`, ts: NOW + i })));
  return { ledger, path: sqlitePath(place.url)!, drop: place.drop, url: place.url };
}

/**
 * A plain file `t (id, v)` holding `values`, a reader thread on it, and another connection that has taken an
 * EXCLUSIVE lock and inserted 'b' under it; `done` closes both and removes the file.
 */
function lockedByAnother(name: string, values: string[]): { reader: SqliteReaderThread; other: Database.Database; done: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `tg-review-reader-${name}-`));
  const path = join(dir, 'locked.db');
  const setup = new Database(path);
  setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  for (const v of values) setup.prepare('INSERT INTO t (v) VALUES (?)').run(v);
  setup.close();
  const reader = new SqliteReaderThread(path);
  const other = new Database(path);
  other.exec('BEGIN EXCLUSIVE');
  other.exec("INSERT INTO t (v) VALUES ('b')");
  return {
    reader,
    other,
    done: async () => {
      if (other.open) other.close();
      await reader.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the SQLite reader thread and a file others hold, delete or replace', () => {
  it('a long write transaction of another connection (WAL): reads go on at once, seeing the last commit', async () => {
    const { ledger, path, drop } = await seeded();
    const other = new Database(path);
    try {
      other.pragma('busy_timeout = 5000');
      other.exec('BEGIN IMMEDIATE');
      other.exec(`DELETE FROM tollgate_calls`);
      const t0 = performance.now();
      const rows = await within(ledger.rows({ sinceMs: 0 }), 4000);
      expect(rows === 'hang' ? 'hang' : rows.length).toBe(2500);
      expect(performance.now() - t0).toBeLessThan(1000);
      other.exec('ROLLBACK');
    } finally {
      other.close();
      await ledger.close();
      await drop();
    }
  });

  it('a file (rollback journal, as a ledger copied elsewhere may be) under an EXCLUSIVE lock of another connection: the read waits busy_timeout, then fails clearly; reads work again after', async () => {
    const { reader, other, done } = lockedByAnother('lock', ['a']);
    try {
      const t0 = performance.now();
      const outcome = await within(
        reader.all('SELECT v FROM t ORDER BY id', []).then(
          (r) => `read ${r.length}`,
          (e: Error) => `failed: ${e.message}`,
        ),
        9000,
      );
      const took = performance.now() - t0;
      expect(outcome).toMatch(/failed: .*(locked|busy)/i);
      expect(took).toBeGreaterThan(4500);
      expect(took).toBeLessThan(8000);
      other.exec('COMMIT');
      expect(await within(reader.all('SELECT v FROM t ORDER BY id', []), 8000)).toEqual([{ v: 'a' }, { v: 'b' }]);
    } finally {
      await done();
    }
  }, 30_000);

  it('a lock released while the read waits: the read gets the rows (it waited, it did not fail)', async () => {
    const { reader, other, done } = lockedByAnother('lock2', []);
    try {
      const read = reader.all('SELECT v FROM t', []);
      setTimeout(() => other.exec('COMMIT'), 1000);
      expect(await within(read, 8000)).toEqual([{ v: 'b' }]);
    } finally {
      await done();
    }
  }, 30_000);

  it('the file deleted after the ledger opened, before its first read: the read fails clearly in bounded time', async () => {
    const place = sqlitePlace();
    const path = sqlitePath(place.url)!;
    const ledger = await openLedger(place.url);
    try {
      await ledger.append([sampleRow({ requestId: 'x', ts: NOW })]);
      rmSync(path);
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
      const outcome = await within(
        ledger.rows({ sinceMs: 0 }).then(
          (r) => `read ${r.length}`,
          (e: Error) => `failed: ${e.message}`,
        ),
        8000,
      );
      // Recorded: the reader thread opens the path at its first read (lazily), so it no longer finds the file,
      // while the writer thread (opened at init) still writes the unlinked one. Not a hang.
      expect(outcome).not.toBe('hang');
      expect(outcome).toMatch(/failed: the SQLite reader thread could not open/);
    } finally {
      await ledger.close();
      await place.drop();
    }
  });

  it('the file replaced (another ledger renamed over it) before the first read: the read ends in bounded time', async () => {
    const mine = sqlitePlace();
    const theirs = sqlitePlace();
    const ledger = await openLedger(mine.url);
    const otherLedger = await openLedger(theirs.url);
    try {
      await otherLedger.append([sampleRow({ requestId: 'from-the-other-file', ts: NOW })]);
      await otherLedger.close();
      await ledger.append([sampleRow({ requestId: 'mine', ts: NOW })]);
      // e.g. an operator restoring a backup over the path of a running gateway.
      renameSync(sqlitePath(theirs.url)!, sqlitePath(mine.url)!);
      await ledger.append([sampleRow({ requestId: 'mine-after', ts: NOW + 1 })]);
      const ids = (await within(ledger.rows({ sinceMs: 0 }), 8000)) as Array<{ requestId: string }> | 'hang';
      expect(ids).not.toBe('hang');
      // Recorded, not asserted: the reader opens the *path* at its first read while the writer thread opened the
      // file at init; with the old -wal left at the path, what it reads is a mix of both files. It does not hang.
    } finally {
      await ledger.close();
      await mine.drop();
      await theirs.drop();
    }
  });
});
