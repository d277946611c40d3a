// Review of the SQLite reader thread (src/ledger/sqlite-reader-thread.ts): many reads at once, a visitor
// that throws while others wait, chunk-boundary sizes, the same SQL twice at once. Real SQLite files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_CHUNK_ROWS, SqliteReaderThread } from '../src/ledger/sqlite-reader-thread.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

/** Rows 1..n made by SQLite, each tagged with `tag` so a row from another read shows. */
const COUNT = (n: number, tag: string) =>
  `WITH RECURSIVE c(x) AS (SELECT 1 WHERE ${n} > 0 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT x, '${tag}' AS tag FROM c`;

describe('SqliteReaderThread: concurrent reads on one thread', () => {
  let dir: string;
  let path: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tg-review-reader-'));
    path = join(dir, 'r.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('20 reads at once of sizes around the chunk and look-ahead edges each get exactly their own rows, in order', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      const C = READ_CHUNK_ROWS;
      const sizes = [0, 1, C - 1, C, C + 1, 2 * C, 3 * C - 1, 3 * C, 3 * C + 1, 4 * C, 4 * C + 1, 7 * C + 13, 10 * C, 1, 0, C, 3 * C, 5 * C, 12_345, 2];
      const chunkSizes: number[][] = sizes.map(() => []);
      const results = await Promise.all(
        sizes.map((n, i) => {
          const got: Array<{ x: number; tag: string }> = [];
          return reader
            .each(COUNT(n, `r${i}`), [], (rows) => {
              chunkSizes[i].push(rows.length);
              for (const r of rows) got.push(r as { x: number; tag: string });
            })
            .then(() => got);
        }),
      );
      results.forEach((got, i) => {
        expect(got.length, `read ${i} (${sizes[i]} rows)`).toBe(sizes[i]);
        expect(got.every((r) => r.tag === `r${i}`)).toBe(true);
        expect(got.map((r) => r.x)).toEqual(Array.from({ length: sizes[i] }, (_, k) => k + 1));
        // Every chunk but the last is full.
        expect(chunkSizes[i].slice(0, -1).every((s) => s === READ_CHUNK_ROWS)).toBe(true);
      });
    } finally {
      await reader.close();
    }
  });

  it('a visitor that throws mid-read (at every chunk position) fails only that read; the reads queued behind it complete', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      for (const throwAt of [1, 2, 3, 4, 6]) {
        let chunk = 0;
        const failing = reader.each(COUNT(20 * READ_CHUNK_ROWS, 'bad'), [], () => {
          if (++chunk === throwAt) throw new Error(`visitor broke at chunk ${throwAt}`);
        });
        const queued = [3 * READ_CHUNK_ROWS, 1, 0, 4 * READ_CHUNK_ROWS + 5].map((n, i) => reader.all(COUNT(n, `q${i}`), []).then((rows) => ({ n, i, rows })));
        await expect(failing).rejects.toThrow(`visitor broke at chunk ${throwAt}`);
        for (const { n, i, rows } of await Promise.all(queued)) {
          expect(rows.length).toBe(n);
          expect(rows.every((r) => r.tag === `q${i}`)).toBe(true);
          expect(rows.map((r) => r.x)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
        }
        // It stopped early: the worker sends at most 3 chunks ahead of the one that threw.
        expect(chunk).toBe(throwAt);
      }
    } finally {
      await reader.close();
    }
  });

  it('the same SQL twice (and ten times) at once: each read gets every row, once', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      const sql = COUNT(5 * READ_CHUNK_ROWS + 7, 'same');
      const reads = await Promise.all(Array.from({ length: 10 }, () => reader.all(sql, [])));
      for (const rows of reads) expect(rows.map((r) => r.x)).toEqual(Array.from({ length: 5 * READ_CHUNK_ROWS + 7 }, (_, k) => k + 1));
    } finally {
      await reader.close();
    }
  });

  it('a SQL error in one of many queued reads fails only that read', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      const reads = [reader.all(COUNT(3500, 'a'), []), reader.all('SELECT nope FROM t', []), reader.all(COUNT(2000, 'b'), [])];
      const [a, bad, b] = await Promise.allSettled(reads);
      expect(a.status === 'fulfilled' && a.value.length).toBe(3500);
      expect(bad.status === 'rejected' && String(bad.reason)).toMatch(/no such column: nope/);
      expect(b.status === 'fulfilled' && b.value.length).toBe(2000);
    } finally {
      await reader.close();
    }
  });

  it('a visitor that starts another read from inside the visit (nested) does not deadlock', async () => {
    const reader = new SqliteReaderThread(path);
    try {
      const inner: Array<Promise<unknown[]>> = [];
      let outer = 0;
      await reader.each(COUNT(5 * READ_CHUNK_ROWS, 'outer'), [], (rows) => {
        outer += rows.length;
        inner.push(reader.all(COUNT(1500, 'inner'), []));
      });
      expect(outer).toBe(5 * READ_CHUNK_ROWS);
      for (const rows of await Promise.all(inner)) expect(rows.length).toBe(1500);
    } finally {
      await reader.close();
    }
  });
});

const NOW = Date.UTC(2026, 11, 6, 12);
const ROWS = 7_500;

describe('SqliteLedger: 20 mixed reads at once through the reader thread', () => {
  const { ledger } = useLedger({
    seed: async (l: Ledger) => {
      await l.append(
        Array.from({ length: ROWS }, (_, i) =>
          sampleRow({ requestId: `r${i}`, ts: NOW - (ROWS - i) * 10, user: `u${i % 37}`, organization: i % 3 === 0 ? 'acme' : 'globex', inputTokens: i }),
        ),
      );
    },
  });

  it('rows/events/eachGroup/summarize of different sizes at once equal the same reads done one at a time', async () => {
    const l = ledger();
    const makers: Array<() => Promise<unknown>> = [];
    for (let k = 0; k < 5; k++) {
      const since = NOW - (ROWS - k * 1500) * 10;
      makers.push(() => l.rows({ sinceMs: since }).then((rs) => rs.map((r) => r.requestId)));
      makers.push(() => l.events(since, k % 2 ? 'acme' : undefined).then((es) => es.map((e) => `${e.ts}/${e.organization}/${e.user}`)));
      makers.push(async () => {
        const gs: string[] = [];
        await l.eachGroup({ groupBy: ['user', 'organization'], sinceMs: since }, (g) => gs.push(`${g.keys.user}/${g.keys.organization}/${g.calls}/${g.inputTokens}`));
        return gs;
      });
      makers.push(() => l.rows({ sinceMs: since, limit: 3000 + k }).then((rs) => rs.map((r) => r.requestId)));
    }
    expect(makers.length).toBe(20);
    const alone: unknown[] = [];
    for (const m of makers) alone.push(await m());
    const together = await Promise.all(makers.map((m) => m()));
    expect(together).toEqual(alone);
    expect((alone[0] as string[]).length).toBe(ROWS);
    expect((alone[0] as string[])[ROWS - 1]).toBe(`r${ROWS - 1}`);
  });
});
