// Rows the ledger cannot take go to a spill file and are replayed at the next start (spill-file.ts,
// spill-replay.ts), against the real PostgreSQL and SQLite. Regression tests from a FinOps pass: a
// shutdown that could not reach PostgreSQL for 15 s, or a write buffer full while it was away, lost
// billing records for good.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postgresPlace, sqlitePlace, stallablePostgres, type LedgerPlace } from '../../test/helpers/ledgers.js';
import { startCuttableProxy } from '../../test/helpers/cuttable-proxy.js';
import { endPostgresNow } from '../../test/helpers/end-postgres-now.js';
import { sampleRow, T0 } from '../../test/helpers/sample-row.js';
import { LedgerWriter } from './batch-writer.js';
import type { Ledger } from './ledger.js';
import { openLedger } from './open-ledger.js';
import { rowQueueFor } from './row-queue.js';
import { ledgerTag, SPILL_PREFIX, SpillFile } from './spill-file.js';
import { replaySpills } from './spill-replay.js';

// The ledger's tag in spill file names (ledgerTag): these tests' ledgers share it; another does not.
const TAG = ledgerTag('postgres:spill-test');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-spill-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const spillFiles = (): string[] => readdirSync(dir).filter((n) => n.startsWith(SPILL_PREFIX) && n.endsWith('.ndjson'));
const lineCount = (path: string): number => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').length;

describe('spilling to PostgreSQL that is away', () => {
  let direct: Ledger;
  let place: LedgerPlace;
  beforeAll(async () => {
    place = await postgresPlace();
    direct = await openLedger(place.url);
  }, 30_000);
  afterAll(async () => {
    await direct?.close();
    await place?.drop();
  });

  it('keeps at close the rows not written, the unanswered batch too, and a replay writes each once', async () => {
    const pg = await stallablePostgres();
    const ledger = await openLedger(pg.url);
    try {
      const spill = new SpillFile(dir, TAG);
      const writer = new LedgerWriter(ledger, { flushIntervalMs: 20, batchSize: 100, maxBufferedRows: 1000, writeTimeoutMs: 400, spill });
      for (let i = 0; i < 3; i++) writer.push(sampleRow({ ts: T0 + i, requestId: `early-${i}` }));
      await writer.flush();
      pg.proxy.setDelay(60_000);
      for (let i = 0; i < 5; i++) writer.push(sampleRow({ ts: T0 + 10 + i, requestId: `late-${i}` }));
      // The five rows are one write the frozen database never answers: in flight, not in the queue.
      await new Promise((r) => setTimeout(r, 50));
      expect(writer.stats().pending).toBe(5);
      await writer.close(300); // resolves: nothing lost
      spill.close();
      expect(writer.stats().spilled).toBe(5);
      expect(lineCount(spill.path)).toBe(5);
    } finally {
      pg.proxy.setDelay(0);
      await endPostgresNow(ledger);
      await pg.close();
    }
    // The unanswered write might have committed after all: one of its rows is already there.
    await direct.append([sampleRow({ ts: T0 + 10, requestId: 'late-0' })]);
    const first = await replaySpills(dir, direct, TAG);
    expect(first.files.map((f) => [f.rows, f.rejected])).toEqual([[5, 0]]);
    expect(readdirSync(dir)).toEqual([]); // spill file and its lock gone once committed
    const ids = (await direct.rows({})).map((r) => r.requestId).filter((id) => id.startsWith('late-'));
    expect(ids.sort()).toEqual(['late-0', 'late-1', 'late-2', 'late-3', 'late-4']);
    expect((await replaySpills(dir, direct, TAG)).files).toEqual([]);
  }, 30_000);

  it('moves the oldest rows to the spill file when the buffer is full, instead of dropping them', async () => {
    const proxy = await startCuttableProxy(5432);
    const url = new URL(place.url);
    url.port = String(proxy.port);
    const ledger = await openLedger(url.toString());
    const spilled: number[] = [];
    try {
      const spill = new SpillFile(dir, TAG);
      const writer = new LedgerWriter(ledger, { flushIntervalMs: 20, batchSize: 2, maxBufferedRows: 4, spill, onSpill: (rows) => spilled.push(rows) });
      await proxy.cut();
      for (let i = 0; i < 9; i++) writer.push(sampleRow({ ts: T0 + 100 + i, requestId: `full-${i}` }));
      // 2 rows in flight, 7 queued for a buffer of 4: the oldest queued batches (2 rows each) go to the file.
      expect(writer.stats()).toMatchObject({ dropped: 0, pending: 5 });
      expect(spilled).toEqual([2, 2]);
      await writer.close(300);
      spill.close();
      expect(writer.stats().spilled).toBe(9);
      expect(lineCount(spill.path)).toBe(9);
    } finally {
      await endPostgresNow(ledger).catch(() => {});
    }
    await replaySpills(dir, direct, TAG);
    const ids = (await direct.rows({})).map((r) => r.requestId).filter((id) => id.startsWith('full-'));
    expect(ids.sort()).toEqual([...Array(9).keys()].map((i) => `full-${i}`));
  }, 30_000);

  it('takes overflowing rows only up to its cap (ledger.spill_max_mb): past it the oldest are dropped and counted, and at close the rest are still kept', async () => {
    const proxy = await startCuttableProxy(5432);
    const url = new URL(place.url);
    url.port = String(proxy.port);
    const ledger = await openLedger(url.toString());
    const rows = [...Array(9).keys()].map((i) => sampleRow({ ts: T0 + 700 + i, requestId: `capped-${i}` }));
    // Room for one overflowing batch (rows 2 and 3; 0 and 1 are the write in flight), as the file writes them.
    const cap = [2, 3].reduce((n, i) => n + Buffer.byteLength(JSON.stringify({ row: rows[i] })) + 1, 0);
    const spilled: number[] = [];
    const dropped: Array<[number, string]> = [];
    let spill: SpillFile | undefined;
    try {
      spill = new SpillFile(dir, TAG, cap);
      const writer = new LedgerWriter(ledger, { flushIntervalMs: 20, batchSize: 2, maxBufferedRows: 4, spill, onSpill: (n) => spilled.push(n), onDrop: (n, why) => dropped.push([n, why]) });
      await proxy.cut();
      for (const row of rows) writer.push(row);
      expect(spilled).toEqual([2]);
      expect(spill.bytes).toBe(cap);
      const lost = dropped.reduce((n, [k]) => n + k, 0);
      expect(lost).toBeGreaterThan(0);
      expect(new Set(dropped.map(([, why]) => why))).toEqual(new Set(['spill_full']));
      expect(writer.stats()).toMatchObject({ dropped: lost, pending: 9 - 2 - lost });
      // At close the rows still waiting go to the file past its cap: they are few (max_buffered_rows).
      await writer.close(300);
      expect(writer.stats().spilled).toBe(9 - lost);
      expect(lineCount(spill.path)).toBe(9 - lost);
    } finally {
      spill?.close();
      await endPostgresNow(ledger).catch(() => {});
    }
    await replaySpills(dir, direct, TAG);
    const ids = (await direct.rows({})).map((r) => r.requestId).filter((id) => id.startsWith('capped-'));
    expect(ids).toHaveLength(9 - dropped.reduce((n, [k]) => n + k, 0));
    expect(ids).toEqual(expect.arrayContaining(['capped-0', 'capped-1', 'capped-2', 'capped-3', 'capped-8']));
  }, 30_000);

  it('drops, and says at close that rows are lost, only when the spill file cannot be written either', async () => {
    const proxy = await startCuttableProxy(5432);
    const url = new URL(place.url);
    url.port = String(proxy.port);
    const ledger = await openLedger(url.toString());
    try {
      writeFileSync(join(dir, 'not-a-dir'), '');
      const spill = new SpillFile(join(dir, 'not-a-dir', 'spill'), TAG);
      const writer = new LedgerWriter(ledger, { flushIntervalMs: 20, batchSize: 2, maxBufferedRows: 4, spill });
      await proxy.cut();
      for (let i = 0; i < 9; i++) writer.push(sampleRow({ ts: T0 + 500 + i, requestId: `lost-${i}` }));
      expect(writer.stats()).toMatchObject({ dropped: 3, pending: 6 });
      await expect(writer.close(200)).rejects.toThrow(/^6 rows could not be written: .*; nor kept in .*not-a-dir\/spill\/tollgate-ledger-spill-.*ENOTDIR/);
      expect(writer.stats().spilled).toBe(0);
    } finally {
      await endPostgresNow(ledger).catch(() => {});
    }
  }, 30_000);

  it('replays the good lines of a torn file and keeps the bad ones aside', async () => {
    const good = [0, 1].map((i) => JSON.stringify({ row: sampleRow({ ts: T0 + 200 + i, requestId: `torn-${i}` }) }));
    const torn = JSON.stringify({ row: sampleRow({ ts: T0 + 202, requestId: 'torn-2' }) }).slice(0, 40);
    const path = join(dir, `${SPILL_PREFIX}${TAG}-1-1-aa.ndjson`);
    writeFileSync(path, [...good, torn].join('\n'));
    const report = await replaySpills(dir, direct, TAG);
    expect(report.files).toEqual([{ path, rows: 2, rejected: 1, rejectedPath: `${path}.rejected` }]);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(`${path}.rejected`, 'utf8')).toBe(`${torn}\n`);
    const ids = (await direct.rows({})).map((r) => r.requestId).filter((id) => id.startsWith('torn-'));
    expect(ids.sort()).toEqual(['torn-0', 'torn-1']);
    // The kept-aside file is not replayed again at the next start.
    expect((await replaySpills(dir, direct, TAG)).files).toEqual([]);
  }, 30_000);

  it('leaves alone a file that a running process still writes', async () => {
    const spill = new SpillFile(dir, TAG);
    spill.append([JSON.stringify({ row: sampleRow({ ts: T0 + 300, requestId: 'busy-0' }) })], 1);
    expect(await replaySpills(dir, direct, TAG)).toEqual({ files: [], busy: [spill.path], others: 0 });
    expect(spillFiles()).toHaveLength(1);
    spill.close();
    expect((await replaySpills(dir, direct, TAG)).files.map((f) => f.rows)).toEqual([1]);
    expect((await direct.rows({})).some((r) => r.requestId === 'busy-0')).toBe(true);
  }, 30_000);

  it("leaves alone the files of another ledger sharing the directory", async () => {
    const other = new SpillFile(dir, ledgerTag('postgres:another-db'));
    other.append([JSON.stringify({ row: sampleRow({ ts: T0 + 400, requestId: 'other-0' }) })], 1);
    other.close();
    expect(await replaySpills(dir, direct, TAG)).toEqual({ files: [], busy: [], others: 1 });
    expect(existsSync(other.path)).toBe(true);
    expect((await direct.rows({})).some((r) => r.requestId === 'other-0')).toBe(false);
  }, 30_000);
});

describe('spilling a SQLite ledger\'s packed rows', () => {
  it('replays a packed batch into the SQLite ledger as it was', async () => {
    const place = sqlitePlace();
    const ledger = await openLedger(place.url);
    try {
      const queue = rowQueueFor(ledger, 10);
      const rows = [0, 1, 2].map((i) => sampleRow({ ts: T0 + i, requestId: `packed-${i}` }));
      for (const r of rows) queue.push(r);
      const spill = new SpillFile(dir, TAG);
      spill.append(queue.lines(queue.take()), 3);
      spill.close();
      expect(lineCount(spill.path)).toBe(1);
      expect((await replaySpills(dir, ledger, TAG)).files.map((f) => f.rows)).toEqual([3]);
      expect(await ledger.rows({})).toEqual(rows);
    } finally {
      await ledger.close();
      await place.drop();
    }
  });
});
