// A spill file on a disk that fills up. Regression tests from a QA pass on the ledger: a write the disk
// took only part of (write(2) returns a short count before ENOSPC) was counted as done, so the rows whose
// bytes did not fit were reported as kept ("kept in <file>", exit 0) and gone: on a 3 MiB tmpfs with
// 172 KiB free, 100 rows appended as 100 lines left 87 whole lines and a torn one, and a SQLite ledger
// spills each batch (up to `batch_size` rows) as one line. The filling disk is made here with a file size
// limit on this process (RLIMIT_FSIZE, set with prlimit), which cuts writes the same way.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LedgerWriter } from '../src/ledger/batch-writer.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { SpillFile, ledgerTag } from '../src/ledger/spill-file.js';
import { replaySpills } from '../src/ledger/spill-replay.js';
import { sqlitePlace, stallablePostgres } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';

const TAG = ledgerTag('spill-short-write');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-spill-short-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` with this process's files limited to `bytes` (writes past it are cut short, then fail with EFBIG). */
async function withFileSizeLimit<T>(bytes: number, body: () => T | Promise<T>): Promise<T> {
  execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${bytes}:unlimited`]);
  try {
    return await body();
  } finally {
    execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=unlimited:unlimited']);
  }
}

const rowLines = (from: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ row: sampleRow({ ts: T0 + from + i, requestId: `spilled-${from + i}` }) }));

it('a write cut short throws and leaves the file as it was; the rows it did keep replay, each once', async () => {
  const spill = new SpillFile(dir, TAG);
  spill.append(rowLines(0, 10), 10);
  const kept = readFileSync(spill.path, 'utf8');
  // Room for a few of the next ten lines, not all of them.
  const err = await withFileSizeLimit(spill.bytes + 3000, () => {
    try {
      spill.append(rowLines(10, 10), 10);
    } catch (e) {
      return e as Error;
    }
  });
  expect(err?.message).toMatch(/EFBIG/);
  expect(spill.rows).toBe(10);
  expect(readFileSync(spill.path, 'utf8')).toBe(kept);
  // The disk has room again: the next rows follow on a line of their own.
  spill.append(rowLines(20, 5), 5);
  spill.close();

  const place = sqlitePlace();
  const ledger = await openLedger(place.url);
  try {
    const report = await replaySpills(dir, ledger, TAG);
    expect(report.files.map((f) => [f.rows, f.rejected])).toEqual([[15, 0]]);
    expect((await ledger.rows({})).map((r) => r.requestId).sort()).toEqual([...rowLines(0, 10), ...rowLines(20, 5)].map((l) => JSON.parse(l).row.requestId).sort());
  } finally {
    await ledger.close();
    await place.drop();
  }
});

it('a shutdown whose spill is cut short says the rows were not kept, instead of resolving as if they were', async () => {
  const pg = await stallablePostgres();
  const ledger = await openLedger(pg.url);
  try {
    const spill = new SpillFile(dir, TAG);
    const writer = new LedgerWriter(ledger, { flushIntervalMs: 20, batchSize: 100, maxBufferedRows: 1000, writeTimeoutMs: 300, spill });
    pg.proxy.setDelay(60_000);
    for (let i = 0; i < 40; i++) writer.push(sampleRow({ ts: T0 + i, requestId: `late-${i}` }));
    // 40 rows of about 1 KiB each, and room for 8 KiB of them.
    const closed = await withFileSizeLimit(8192, () => writer.close(400)).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    spill.close();
    expect(closed).toMatch(/^40 rows could not be written: .*; nor kept in .*EFBIG/);
    expect(writer.stats().spilled).toBe(0);
    expect(readFileSync(spill.path, 'utf8')).toBe('');
  } finally {
    pg.proxy.setDelay(0);
    await ledger.close();
    await pg.close();
  }
});
