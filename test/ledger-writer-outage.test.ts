// The ledger writer against a PostgreSQL that stalls (bytes delayed by a TCP proxy). Regression tests
// from an audit: a frozen connection blocked the writer forever, so SIGTERM never exited (61 s and
// counting); a refused flush at shutdown gave up after one immediate retry and lost every buffered row
// to a one-second failover.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LedgerWriter } from '../src/ledger/batch-writer.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { stallablePostgres } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';

let pg: Awaited<ReturnType<typeof stallablePostgres>>;
let ledger: Ledger;

beforeAll(async () => {
  pg = await stallablePostgres();
  ledger = await openLedger(pg.url);
});
afterAll(async () => {
  pg?.proxy.setDelay(0);
  await ledger?.close();
  await pg?.close();
});

const writer = () => new LedgerWriter(ledger, { flushIntervalMs: 50, batchSize: 100, maxBufferedRows: 1000, writeTimeoutMs: 400 });
const rows = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => sampleRow({ ts: T0 + i, requestId: `${prefix}-${i}` }));
async function stored(prefix: string): Promise<number> {
  const found = await ledger.rows({ sinceMs: 0, untilMs: T0 + 1_000_000, limit: 1000 });
  return found.filter((r) => r.requestId.startsWith(prefix)).length;
}

it('a stall shorter than the shutdown deadline: the flush keeps retrying and writes every row once', async () => {
  const w = writer();
  for (const row of rows('brief', 5)) w.push(row);
  pg.proxy.setDelay(700); // a round trip now takes 1.4 s: each write times out at 400 ms
  setTimeout(() => pg.proxy.setDelay(0), 1000);
  await w.close(10_000);
  expect(w.stats()).toMatchObject({ pending: 0, written: 5 });
  expect(w.stats().failures).toBeGreaterThan(0);
  expect(await stored('brief')).toBe(5); // the writes that timed out and then committed are not doubled
});

it('a database that does not answer: close gives up at its deadline and says how many rows are lost', async () => {
  const w = writer();
  for (const row of rows('frozen', 7)) w.push(row);
  pg.proxy.setDelay(60_000);
  const started = Date.now();
  await expect(w.close(1500)).rejects.toThrow(/^7 rows could not be written/);
  expect(Date.now() - started).toBeLessThan(2500);
  pg.proxy.setDelay(0);
});
