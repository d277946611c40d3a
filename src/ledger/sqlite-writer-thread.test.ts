// A SQLite writer thread that dies is replaced: the batch it held fails (and is retried by the ledger
// writer), and the next batch starts a new thread on the same file. Conversation owners are written by
// it too, off the event loop.
import { readdirSync, readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqlitePlace, type LedgerPlace } from '../../test/helpers/ledgers.js';
import { sampleRow, T0 } from '../../test/helpers/sample-row.js';
import { holdWriteLock } from '../../test/helpers/sqlite-writer-elsewhere.js';
import type { Ledger } from './ledger.js';
import { openLedger } from './open-ledger.js';
import { BATCHED_WRITER_NICENESS, SqliteWriterThread } from './sqlite-writer-thread.js';

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

describe('a conversation owner on the SQLite ledger', () => {
  it('is written by the writer thread: while another connection holds the write lock, the event loop goes on', async () => {
    place = sqlitePlace();
    ledger = await openLedger(place.url);
    const other = new Database(place.url.slice('sqlite:'.length));
    other.pragma('busy_timeout = 5000');
    other.exec('BEGIN IMMEDIATE');
    let recorded = false;
    const recording = ledger.recordConversation('conv_locked', { organization: 'acme', project: 'web', provider: 'openai' }, T0).then(() => (recorded = true));
    // On the main thread the insert would wait here, event loop and all, for the lock (and time out).
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 50));
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(recorded).toBe(false);
    other.exec('COMMIT');
    other.close();
    await recording;
    expect(await ledger.conversationOwner('conv_locked')).toEqual({ organization: 'acme', project: 'web', provider: 'openai' });
  });

  // Linux: each thread's niceness is field 19 of /proc/self/task/<tid>/stat (after the name in parentheses).
  const niceness = (): number[] =>
    readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });

  it.runIf(process.platform === 'linux')('yields the CPU to request serving with batched durability, and not when requests wait for its commits (strict)', async () => {
    expect(niceness().filter((n) => n === BATCHED_WRITER_NICENESS)).toHaveLength(0);
    place = sqlitePlace();
    ledger = await openLedger(place.url);
    await ledger.append(rowsFrom(0, 1)); // the thread has started and answered
    expect(niceness().filter((n) => n === BATCHED_WRITER_NICENESS)).toHaveLength(1);
    await ledger.close();
    await place.drop();
    place = sqlitePlace();
    ledger = await openLedger(place.url, { strict: true });
    await ledger.append(rowsFrom(1, 1));
    expect(niceness().filter((n) => n === BATCHED_WRITER_NICENESS)).toHaveLength(0);
  });
});

describe('the writer thread opening its file', () => {
  it('waits for another process writing a file not yet in WAL mode instead of dying at the conversion', async () => {
    place = sqlitePlace();
    const file = place.url.slice('sqlite:'.length);
    await (await openLedger(place.url)).close(); // the ledger's tables, which the thread's statements need
    const rollbackMode = new Database(file);
    rollbackMode.pragma('journal_mode = DELETE');
    rollbackMode.close();
    const other = await holdWriteLock(file, 300);
    // The thread starts while the other process holds the lock: its conversion to WAL must wait.
    const writer = new SqliteWriterThread(file, false);
    try {
      await writer.run('INSERT INTO elsewhere VALUES (?)', [2]);
      await other.released;
      expect(writer.restarts).toBe(0);
    } finally {
      await writer.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT x FROM elsewhere ORDER BY x').pluck().all()).toEqual([1, 2]);
    expect(check.pragma('journal_mode', { simple: true })).toBe('wal');
    check.close();
  });
});
