// SQLite inserts run on a worker thread: parsing and binding a row costs a few µs (2.7 µs for the 20
// columns sqlite-rows.ts had then, on the development VM), which on the gateway's event loop would cost
// throughput. The main thread only packs each row into JSON text (when its call ends) and sends a
// batch's JSON array as one message. The ledger's other writes (a conversation's owner) run here too:
// waiting for the write lock is the worker's, never the event loop's.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BATCH_WRITER_BODY, BATCH_WRITER_SCHEMA } from './sqlite-rows.js';
import { WAL_SWITCH_BODY, WAL_SWITCH_TIMEOUT_MS } from './sqlite-wal.js';

// The worker's code is inline (CommonJS, `eval`) so it runs the same from dist/ and from the TypeScript
// sources under the test runner, which cannot start a worker from a .ts file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
if (workerData.nice) {
  try {
    // Linux: this thread's id, and a niceness of its own (a thread's, not the process's).
    const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    require('node:os').setPriority(tid, workerData.nice);
  } catch {} // elsewhere, the normal priority
}
let db, write;
try {
  db = new Database(workerData.path);
  (function (db, timeoutMs) {${WAL_SWITCH_BODY}})(db, ${WAL_SWITCH_TIMEOUT_MS});
  db.pragma('synchronous = ' + workerData.synchronous);
  db.pragma('busy_timeout = 5000');
  write = (function (db, schema) {${BATCH_WRITER_BODY}})(db, workerData.schema);
} catch (err) {
  // A SqliteError reaches the main thread without its message: send a plain Error that keeps it.
  throw new Error('the SQLite writer thread could not open ' + workerData.path + ': ' + err.message);
}
const statements = new Map();
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ id: m.id });
    return;
  }
  try {
    if (m.sql !== undefined) {
      let statement = statements.get(m.sql);
      if (statement === undefined) statements.set(m.sql, (statement = db.prepare(m.sql)));
      parentPort.postMessage({ id: m.id, changes: statement.run(...m.params).changes });
      return;
    }
    write(JSON.parse(m.json));
    parentPort.postMessage({ id: m.id });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

/**
 * The writer thread's niceness with batched durability (Linux). No request waits for those commits, so
 * when the cores are all busy, serving requests comes first: at 7,000 requests/s the writer needs ~3% of
 * a core, and at niceness 10 it still gets ~10% of one it shares with a busy thread (CFS weights 110
 * and 1024), so it keeps up; batches only grow while it waits. Measured with the ledger bench on the
 * 2-core development VM (`node dist/bench/ledger-bench.js`, 12 rounds): throughput with the ledger on
 * was 0.944 and 0.976 of ledger off, against 0.917 and 0.927 at normal priority. With strict
 * durability requests wait for the commit, and the writer keeps the normal priority.
 */
export const BATCHED_WRITER_NICENESS = 10;

/** A batch of packed rows, or one statement with its parameters. */
type WorkerMessage = { json: string } | { sql: string; params: Array<string | number | null> };

interface Pending {
  /** With the rows a statement changed (none for a batch). */
  resolve: (changes: number) => void;
  reject: (err: Error) => void;
}

/**
 * The writer thread of one SQLite file. A thread that dies (an uncaught error, running out of memory)
 * fails the batches it held, which the ledger writer keeps and retries, and a new thread is started for
 * the next batch: the ledger never stops recording until the process restarts. The ledger writer's
 * retry back-off paces the restarts of a thread that cannot start.
 */
export class SqliteWriterThread {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private restarted = 0;

  constructor(
    private readonly path: string,
    private readonly synchronousFull: boolean,
  ) {
    this.start();
  }

  /** Threads started after the first one died. */
  get restarts(): number {
    return this.restarted;
  }

  /** Inserts a batch of packed rows (RowPacker; Ledger.appendPacked) in one transaction on the worker; resolves once committed. */
  write(json: string): Promise<void> {
    return this.send({ json }).then(() => {});
  }

  /**
   * Runs one short write statement on the worker (a conversation's owner): on the main thread it would wait
   * there, event loop and all, for a batch's commit to end. Resolves with the number of rows it changed.
   */
  run(sql: string, params: Array<string | number | null>): Promise<number> {
    return this.send({ sql, params });
  }

  /** Closes the worker's connection and stops it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    await this.post(worker, { close: true }).catch(() => {});
    await worker.terminate();
  }

  private start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path: this.path,
        synchronous: this.synchronousFull ? 'FULL' : 'NORMAL',
        schema: BATCH_WRITER_SCHEMA,
        nice: this.synchronousFull ? 0 : BATCHED_WRITER_NICENESS,
      },
    });
    this.worker = worker;
    // An idle writer must not keep a finished process (a CLI, a test) alive.
    worker.unref();
    worker.on('message', (m: { id: number; error?: string; changes?: number }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error));
      else p?.resolve(m.changes ?? 0);
    });
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => {
      fail(err);
      void worker.terminate();
    });
    worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (${code})`)));
    return worker;
  }

  private send(msg: WorkerMessage): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the SQLite ledger is closed'));
    let worker = this.worker;
    if (!worker) {
      worker = this.start();
      this.restarted++;
    }
    return this.post(worker, msg);
  }

  private post(worker: Worker, msg: WorkerMessage | { close: true }): Promise<number> {
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, ...msg });
    }).finally(() => {
      if (this.pending.size === 0) worker.unref();
    });
  }
}
