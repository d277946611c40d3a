// The ledger writer while another session holds the PostgreSQL ledger table locked (a migration, an
// operator's `LOCK TABLE`, a forgotten transaction). Regression test from a QA pass on the ledger: each
// retry of a write the database had not answered sent one more insert, which queued in the driver behind
// the earlier ones with its whole batch, however long the lock lasted: 14 unanswered inserts after 40 s
// (26 MB more heap, for 3,000 rows buffered), one more every retry (~15 s with the default timeout); and
// once four waited, every connection of the pool was taken, so reads (reports, a stored response's owner
// looked up on a call's path) waited too, even behind a lock that lets reads through.
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LedgerWriter, MAX_UNANSWERED_WRITES } from '../src/ledger/batch-writer.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import { until } from './helpers/until.js';
import { withTimeout } from '../src/util/with-timeout.js';

let place: LedgerPlace;
let ledger: Ledger;
let locker: postgres.Sql;
beforeAll(async () => {
  place = await postgresPlace();
  ledger = await openLedger(place.url);
  locker = postgres(place.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await ledger?.close();
  await locker?.end();
  await place?.drop();
});

it('sends no more writes than the database can be running while it answers none, leaves reads a connection, and loses nothing', async () => {
  // Counts the inserts sent and not yet answered (the real ledger's, unchanged).
  let unanswered = 0;
  let mostUnanswered = 0;
  const append = ledger.append.bind(ledger);
  ledger.append = (rows) => {
    mostUnanswered = Math.max(mostUnanswered, ++unanswered);
    const write = append(rows);
    write.then(
      () => unanswered--,
      () => unanswered--,
    );
    return write;
  };
  const failures: string[] = [];
  const writer = new LedgerWriter(ledger, { flushIntervalMs: 20, batchSize: 500, maxBufferedRows: 100_000, writeTimeoutMs: 200, onError: (e) => failures.push(e.message) });
  const release = await lockLedgerTable(locker, 'EXCLUSIVE'); // inserts wait; reads go on
  try {
    for (let i = 0; i < 1000; i++) writer.push(sampleRow({ ts: T0 + i, requestId: `locked-${i}` }));
    // Retries back off from 40 ms to 5 s: by the eighth failure, seven inserts had been sent and left waiting.
    await until(() => failures.length >= 8, 15_000);
    expect(mostUnanswered).toBe(MAX_UNANSWERED_WRITES);
    expect(failures.at(-1)).toBe(`the ledger has not answered the last ${MAX_UNANSWERED_WRITES} writes; no more are sent until it does`);
    // A connection is left for reads: this one answers while the inserts still wait.
    expect(await withTimeout(ledger.rows({ limit: 1 }), 5000, 'the read waited for a connection')).toEqual([]);
  } finally {
    release();
  }
  await writer.close();
  const rows = await ledger.rows({});
  expect(rows).toHaveLength(1000);
  expect(new Set(rows.map((r) => r.requestId)).size).toBe(1000);
}, 30_000);
