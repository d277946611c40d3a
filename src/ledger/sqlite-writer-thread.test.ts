// A SQLite writer thread that dies is replaced: the batch it held fails (and is retried by the ledger
// writer), and the next batch starts a new thread on the same file.
import { afterEach, describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { sqlitePlace, type LedgerPlace } from '../../test/helpers/ledgers.js';
import { sampleRow, T0 } from '../../test/helpers/sample-row.js';
import type { Ledger } from './ledger.js';
import { openLedger } from './open-ledger.js';
import type { SqliteWriterThread } from './sqlite-writer-thread.js';

let place: LedgerPlace | undefined;
let ledger: Ledger | undefined;
afterEach(async () => {
  await ledger?.close();
  await place?.drop();
  ledger = place = undefined;
});

/** The ledger's writer thread, reached inside it: the test plays the crash a bug or an out-of-memory would cause. */
function writerOf(l: Ledger): { worker?: Worker; restarts: SqliteWriterThread['restarts'] } {
  return (l as unknown as { writer: { worker?: Worker; restarts: number } }).writer;
}

const rowsFrom = (first: number, n: number) => Array.from({ length: n }, (_, i) => sampleRow({ requestId: `w${first + i}`, ts: T0 + first + i }));

describe('SQLite writer thread', () => {
  it('is started again after it dies, and the rows written before and after are all there', async () => {
    place = sqlitePlace();
    ledger = await openLedger(place.url);
    await ledger.append(rowsFrom(0, 3));
    const writer = writerOf(ledger);
    const exited = new Promise((resolve) => writer.worker!.once('exit', resolve));
    await writer.worker!.terminate();
    await exited;
    await ledger.append(rowsFrom(3, 2));
    expect(writer.restarts).toBe(1);
    expect((await ledger.rows({})).map((r) => r.requestId)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
  });

  it('fails the batch it held when it dies; the same batch written again lands once', async () => {
    place = sqlitePlace();
    ledger = await openLedger(place.url);
    const writer = writerOf(ledger);
    const batch = rowsFrom(0, 50);
    const held = ledger.append(batch);
    void writer.worker!.terminate();
    const outcome = await held.then(
      () => 'written',
      (err: Error) => err.message,
    );
    // Either it committed before the thread went, or it failed whole (a transaction never half-lands).
    const before = (await ledger.rows({})).length;
    expect(outcome === 'written' ? before === 50 : /exited/.test(outcome) && before === 0).toBe(true);
    await ledger.append(batch); // the retry: rows already there are ignored
    expect((await ledger.rows({})).map((r) => r.requestId)).toEqual(batch.map((r) => r.requestId));
  });
});
