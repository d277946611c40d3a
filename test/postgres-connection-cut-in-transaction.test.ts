// A PostgreSQL ledger read whose connection is cut mid-transaction (the backend killed, the server restarted):
// postgres.js 3.4 wrote its ROLLBACK to the closed socket from a timer, and the TypeError ended the gateway
// (found by scripts/soak.mjs, killing backends during a gateway's start-up rebuild). Reads run on the
// ledger's reader thread (src/ledger/postgres-reader-thread.ts), whose worker does as inTransaction does:
// the read must fail with the connection's error, and the thread and its next reads must go on.
import { afterAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { PostgresReaderThread } from '../src/ledger/postgres-reader-thread.js';
import { PG_ADMIN_URL } from './helpers/ledgers.js';

describe('a ledger read whose PostgreSQL connection is cut', () => {
  const reader = new PostgresReaderThread(PG_ADMIN_URL, undefined);
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  afterAll(async () => {
    await reader.close();
    await admin.end({ timeout: 1 });
  });

  /** Kills the backend running the statement tagged `marker` once it is running. */
  async function killBackendOf(marker: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const killed = await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [`%${marker}%`]);
      if (killed.length > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no backend ran ${marker}`);
  }

  it.each([
    ['collected', (marker: string) => reader.all(`SELECT pg_sleep(5), '${marker}' AS m`, [])],
    ['visited chunk by chunk', (marker: string) => reader.each(`SELECT pg_sleep(5), '${marker}' AS m`, [], () => {})],
  ])('%s: fails with the connection error, and the thread goes on', async (_, read) => {
    const marker = `cut-probe-${Math.random().toString(36).slice(2)}`;
    const reading = read(marker).then(
      () => 'read',
      (err: { code?: string }) => err.code,
    );
    await killBackendOf(marker);
    expect(await reading).toBe('CONNECTION_CLOSED');
    // The driver's ROLLBACK would have gone out on the next turn of the thread's event loop, and ended it.
    await new Promise((r) => setTimeout(r, 100));
    expect(reader.running).toBe(true);
    // postgres.js 3.4 keeps the server's FATAL of the cut and fails the first query on that connection's
    // reconnection with it: one more read may fail so, the one after must be served.
    const next = () => reader.all('SELECT 1 AS one', []).then(([row]) => row, (err: { severity?: string }) => err.severity);
    const first = await next();
    if (first !== 'FATAL') expect(first).toEqual({ one: 1 });
    expect(await next()).toEqual({ one: 1 });
  });
});
