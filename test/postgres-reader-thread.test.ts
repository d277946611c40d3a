// The PostgreSQL ledger's long reads on a thread of their own (src/ledger/postgres-reader-thread.ts): rows
// as the main thread's driver gives them, in chunks, the event loop free meanwhile, and the server held back
// while the main thread is behind (the worker waits in the driver's row callback), against the real
// PostgreSQL on this machine.
import { afterAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { PostgresReaderThread } from '../src/ledger/postgres-reader-thread.js';
import { eventLoopDuring } from './helpers/event-loop-during.js';
import { PG_ADMIN_URL } from './helpers/ledgers.js';
import { expectChunkedInOrder, expectVisitorFailureStops } from './helpers/reader-thread-checks.js';

const SERIES = (n: number) => `SELECT g AS x, g::float8 * g AS square FROM generate_series(1, ${n}) AS g`;

describe('PostgresReaderThread', () => {
  const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  afterAll(() => sql.end({ timeout: 1 }));

  it("hands every row over in chunks, in order, typed as the main thread's driver types them", async () => {
    const reader = new PostgresReaderThread(PG_ADMIN_URL, undefined);
    try {
      await expectChunkedInOrder(reader, SERIES);
      // bigint as text, jsonb parsed, float8 a number, NULL, a parameter: the same values, the same names.
      const typed = `SELECT $1::bigint AS big, '{"a":[1,"b"]}'::jsonb AS doc, 0.25::float8 AS f, NULL::text AS none, $2::text AS p`;
      const params = ['9007199254740993', 'x'];
      expect(await reader.all(typed, params)).toEqual([...(await sql.unsafe(typed, params))]);
      expect(await reader.all('SELECT 1 AS one WHERE false', [])).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('reads with JIT compilation off, even on a connection that asks for it', async () => {
    // Query parameters the driver does not know go to the server as settings: this connection's jit is on.
    const reader = new PostgresReaderThread(`${PG_ADMIN_URL}?jit=on`, undefined);
    try {
      expect(await reader.all(`SELECT current_setting('jit') AS jit`, [])).toEqual([{ jit: 'off' }]);
    } finally {
      await reader.close();
    }
  });

  it('keeps the event loop free while rows arrive: busy a third of the read, not all of it', async () => {
    // Read on the event loop (postgres.js's forEach), the same rows kept it busy 93-95% of the read, in
    // stretches of 35-146 ms (one burst of socket reads parsed); here 24-40%, at most 11-27 ms, also with
    // two CPU burners beside. The read itself takes 1.0-1.7x as long (rows are copied between threads).
    const wide = `SELECT g AS x, g + 1 AS a, g + 2 AS b, g + 3 AS c, g + 4 AS d, 'u' || (g % 100) AS u, (g % 7)::float8 AS k FROM generate_series(1, 200000) AS g`;
    const reader = new PostgresReaderThread(PG_ADMIN_URL, undefined);
    try {
      let rows = 0;
      const read = await eventLoopDuring(() => reader.each(wide, [], (r) => (rows += r.length)));
      expect(rows).toBe(200_000);
      expect(read.busy).toBeLessThan(0.7);
      expect(read.longestGap).toBeLessThan(read.took / 4);
    } finally {
      await reader.close();
    }
  });

  it('holds the server back while the main thread is behind, instead of reading everything into memory', async () => {
    const reader = new PostgresReaderThread(PG_ADMIN_URL, undefined);
    try {
      // clock_timestamp() is read as the server produces each row: rows made after the main thread's stall
      // ended were made because the worker read on only once chunks were taken. Read ahead freely, the
      // worker would have had all ~50 MB in well under the stall.
      const n = 1_000_000;
      let stallEnded = 0;
      let lastMadeAt = 0;
      let count = 0;
      await reader.each(`SELECT g, (extract(epoch from clock_timestamp()) * 1000)::float8 AS made_at FROM generate_series(1, ${n}) AS g`, [], (rows) => {
        if (count === 0) {
          const until = Date.now() + 3000;
          while (Date.now() < until); // the main thread busy with something else
          stallEnded = Date.now();
        }
        count += rows.length;
        lastMadeAt = rows[rows.length - 1].made_at as number;
      });
      expect(count).toBe(n);
      expect(lastMadeAt).toBeGreaterThan(stallEnded);
    } finally {
      await reader.close();
    }
  }, 30_000);

  it("stops a read whose visitor throws, fails reads with the server's message and code, and goes on", async () => {
    const reader = new PostgresReaderThread(PG_ADMIN_URL, undefined);
    try {
      await expectVisitorFailureStops(reader, SERIES);
      await expect(reader.all('SELECT nope', [])).rejects.toMatchObject({ message: 'column "nope" does not exist', code: '42703' });
      expect(await reader.all(SERIES(3), [])).toEqual([
        { x: 1, square: 1 },
        { x: 2, square: 4 },
        { x: 3, square: 9 },
      ]);
    } finally {
      await reader.close();
    }
    await expect(reader.all('SELECT 1', [])).rejects.toThrow('the PostgreSQL ledger is closed');
  });

  it('a read asked for while another runs waits its turn; closing fails both and ends the connection', async () => {
    const reader = new PostgresReaderThread(PG_ADMIN_URL, undefined);
    const marker = `reader-close-${Math.random().toString(36).slice(2)}`;
    const slow = reader.all(`SELECT pg_sleep(5), '${marker}' AS m`, []).then(
      () => 'read',
      (err: Error) => err.message,
    );
    const queued = reader.all('SELECT 1 AS one', []).then(
      () => 'read',
      (err: Error) => err.message,
    );
    const backends = () => sql.unsafe(`SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [`%${marker}%`]);
    for (let i = 0; i < 200 && (await backends()).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await backends()).length).toBe(1);
    await reader.close();
    expect(await slow).toBe('the PostgreSQL ledger was closed before the read ended');
    expect(await queued).toBe('the PostgreSQL ledger was closed before the read ended');
    // The thread's socket closed with it: the server ends the backend (after pg_sleep notices, at most 5 s).
    for (let i = 0; i < 400 && (await backends()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await backends()).toEqual([]);
  }, 20_000);
});
