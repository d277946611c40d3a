// A PostgreSQL connection cut under the ledger writer (a restart, a failover, `pg_terminate_backend`)
// while the database goes on taking writes on new connections. Regression test from a QA pass on the
// ledger: the first failed write was retried only after the back-off (twice `flush_interval_ms`, 400 ms
// by default), and while writes are failing strict calls are answered without waiting for their commit:
// one reset left a strict gateway's calls unprotected for 638 ms (849 calls in the test, each lost to a
// kill -9 then), and a gateway whose connections were cut 7 times in 5 s lost 900 of 1,742 answered
// strict calls to a kill -9 3 s after the last cut, its writes backing off for seconds.
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LedgerWriter } from '../src/ledger/batch-writer.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { lockLedgerTable } from './helpers/ledger-lock.js';
import { postgresPlace, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { until } from './helpers/until.js';

let place: LedgerPlace;
let ledger: Ledger;
let admin: postgres.Sql;
beforeAll(async () => {
  place = await postgresPlace();
  ledger = await openLedger(place.url);
  admin = postgres(place.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await ledger?.close();
  await admin?.end();
  await place?.drop();
});

it('retries a write whose connection was cut at once, not after the back-off', async () => {
  // A flush interval far longer than the test: only the writer's own retry can write the row.
  const writer = new LedgerWriter(ledger, { flushIntervalMs: 60_000, batchSize: 100, maxBufferedRows: 1000 });
  // The insert waits on a lock, so that its connection is the one cut while it is in flight.
  const release = await lockLedgerTable(admin);
  const row = sampleRow();
  const committed = writer.writeNow(row).then(
    () => 'committed',
    (err: Error) => err.message,
  );
  let waiting: number | undefined;
  await until(async () => {
    const [backend] = await admin.unsafe(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    waiting = backend?.pid;
    return waiting !== undefined;
  });
  await admin.unsafe('SELECT pg_terminate_backend($1)', [waiting!]);
  release();
  expect(await committed).toMatch(/terminating connection due to administrator command|ECONNRESET|CONNECTION_CLOSED/); // the cut, as the socket saw it
  await until(() => !writer.failing, 3000);
  expect((await ledger.rows({ requestIds: [row.requestId] })).length).toBe(1);
  await writer.close();
}, 20_000);
