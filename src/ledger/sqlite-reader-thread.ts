// The SQLite ledger's long reads run on a worker thread of their own. better-sqlite3 is synchronous: on the
// event loop, the counter rebuild's grouped sums (seconds at a million rows), a dashboard's or a report's
// held every request of the gateway for as long as SQLite worked. Measured before this thread: a Redis flush
// under a ledger of 450,000 rows (`scripts/seed-ledger.mjs`) left /health unanswered for 13.3 s while the
// rebuild read. The worker reads over a read-only connection of its own (WAL: never blocking the writer
// thread, nor blocked by it) and hands rows over in chunks, never more than a few ahead of the one being
// folded, so a read of millions of rows holds a few thousand in memory at a time, as iterating it here did.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Rows per message: few enough that folding one chunk is a short task, many enough that the hand-overs cost little. */
export const READ_CHUNK_ROWS = 1000;
/** Chunks the worker sends ahead of the one being folded: how many a read holds in memory at once. */
const CHUNKS_AHEAD = 3;
/**
 * How long the thread outlives its last read. Reads are rare (a rebuild, a dashboard, an audit): an idle
 * thread would keep its heap and connection for nothing, and starting one again costs tens of ms.
 */
const IDLE_MS = 10_000;

// Inline (CommonJS, `eval`) for the same reason as the writer's (sqlite-writer-thread.ts): it runs the same
// from dist/ and from the TypeScript sources under the test runner.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
} catch (err) {
  throw new Error('the SQLite reader thread could not open ' + workerData.path + ': ' + err.message);
}
const queue = [];
let running = false;
// Chunks sent and not yet taken; the read goes on while fewer than workerData.ahead are, so SQLite reads
// the next chunk while the main thread folds the last one.
let unanswered = 0;
let stop = false;
let wake; // resolves when the main thread takes a chunk
parentPort.on('message', (m) => {
  if (m.taken !== undefined) {
    unanswered--;
    if (m.taken === 'stop') stop = true;
    const resolve = wake;
    wake = undefined;
    if (resolve) resolve();
    return;
  }
  queue.push(m);
  if (!running) void run();
});
async function run() {
  running = true;
  while (queue.length > 0) {
    const m = queue.shift();
    if (m.close) {
      db.close();
      parentPort.postMessage({ id: m.id, done: true });
      return;
    }
    stop = false;
    try {
      const statement = db.prepare(m.sql);
      // Rows as arrays: cheaper to copy between threads than objects naming every column (the main
      // thread names them again, sqlite-reader-thread.ts rowMaker).
      statement.raw(true);
      // Named once the first row is read: SQLite notices a schema changed by another connection (a newer
      // release's migration recreating the ledger view) only when it steps, so names read before that
      // could be the old view's, in another order.
      let columns = [];
      let chunk = [];
      let first = true;
      const rows = statement.iterate(...m.params);
      for (const row of rows) {
        if (first && chunk.length === 0) columns = statement.columns().map((c) => c.name);
        chunk.push(row);
        if (chunk.length < workerData.chunkRows) continue;
        parentPort.postMessage({ id: m.id, rows: chunk, columns: first ? columns : undefined });
        first = false;
        chunk = [];
        unanswered++;
        while (unanswered >= workerData.ahead && !stop) await new Promise((resolve) => (wake = resolve));
        if (stop) {
          rows.return();
          break;
        }
      }
      // Every chunk taken before the next read: its answers must not be counted against that one.
      while (unanswered > 0) await new Promise((resolve) => (wake = resolve));
      parentPort.postMessage({ id: m.id, rows: stop ? [] : chunk, columns: first ? columns : undefined, done: true });
    } catch (err) {
      while (unanswered > 0) await new Promise((resolve) => (wake = resolve));
      // A SqliteError reaches the main thread without its message: send the text.
      parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
    }
  }
  running = false;
}
`;

type Row = Record<string, unknown>;

interface Reading {
  visit: (rows: Row[]) => void;
  /** Names a row's values by the read's columns (sent with its first chunk). */
  make?: (values: unknown[]) => Row;
  resolve: () => void;
  reject: (err: Error) => void;
  /** What `visit` threw: the rest of the read is stopped and the read fails with it. */
  failure?: Error;
}

interface WorkerAnswer {
  id: number;
  rows?: unknown[][];
  columns?: string[];
  done?: boolean;
  error?: string;
}

/**
 * The reader thread of one SQLite file, started at the first read. One read runs at a time, in the order
 * asked. A thread that dies fails the reads it held; the next read starts a new one.
 */
export class SqliteReaderThread {
  private worker?: Worker;
  private readonly readings = new Map<number, Reading>();
  private nextId = 1;
  private closed = false;
  private idle?: NodeJS.Timeout;

  constructor(
    private readonly path: string,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Whether a thread is running now (it stops once idle for `idleMs`). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Runs `sql` and hands its rows to `visit`, a chunk at a time, as SQLite returns them. */
  each(sql: string, params: unknown[], visit: (rows: Row[]) => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the SQLite ledger is closed'));
    clearTimeout(this.idle);
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.readings.set(id, { visit, resolve, reject });
      worker.ref();
      worker.postMessage({ id, sql, params });
    }).finally(() => {
      if (this.readings.size > 0 || this.closed) return;
      worker.unref();
      this.idle = setTimeout(() => this.stopIfIdle(worker), this.idleMs);
      this.idle.unref();
    });
  }

  /** Every row of `sql`. */
  async all(sql: string, params: unknown[]): Promise<Row[]> {
    const out: Row[] = [];
    await this.each(sql, params, (rows) => {
      for (const row of rows) out.push(row);
    });
    return out;
  }

  /** Closes the worker's connection and stops it; reads under way or asked for fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    this.failAll(new Error('the SQLite ledger was closed before the read ended'));
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ id: this.nextId++, close: true });
    await worker.terminate();
  }

  private stopIfIdle(worker: Worker): void {
    if (this.worker !== worker || this.readings.size > 0) return;
    this.worker = undefined;
    worker.postMessage({ id: this.nextId++, close: true });
    void worker.terminate();
  }

  private failAll(err: Error): void {
    for (const r of this.readings.values()) r.reject(err);
    this.readings.clear();
  }

  private start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), path: this.path, chunkRows: READ_CHUNK_ROWS, ahead: CHUNKS_AHEAD },
    });
    this.worker = worker;
    worker.unref();
    // Each chunk is folded in a task of its own, after the I/O that came meanwhile: Node hands a port up to
    // a thousand messages in one go, and a worker answering each chunk taken at once kept the event loop
    // folding for 1.6 s without a break (a /health poll waited that long during a rebuild).
    worker.on('message', (m: WorkerAnswer) => setImmediate(() => this.answered(worker, m)));
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      // One stopped for idleness held no read, and reads since went to its successor.
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on('error', (err) => {
      fail(err);
      void worker.terminate();
    });
    worker.on('exit', (code) => fail(new Error(`the SQLite reader thread exited (${code})`)));
    return worker;
  }

  private answered(worker: Worker, m: WorkerAnswer): void {
    const r = this.readings.get(m.id);
    if (!r) return;
    if (m.columns) r.make = rowMaker(m.columns);
    if (m.rows && m.rows.length > 0 && !r.failure) {
      try {
        r.visit(m.rows.map(r.make!));
      } catch (err) {
        r.failure = err as Error;
      }
    }
    if (!m.done && m.error === undefined) {
      worker.postMessage({ taken: r.failure ? 'stop' : 'more' });
      return;
    }
    this.readings.delete(m.id);
    if (m.error !== undefined) r.reject(new Error(m.error));
    else if (r.failure) r.reject(r.failure);
    else r.resolve();
  }
}

/**
 * Turns a row's values into the object better-sqlite3 gives without `raw`: one literal with the columns'
 * names, compiled once per read, so every row gets the same shape (the names are the ledger's own SQL's).
 */
function rowMaker(columns: string[]): (values: unknown[]) => Row {
  const fields = columns.map((name, i) => `${JSON.stringify(name)}: v[${i}]`);
  return new Function('v', `return { ${fields.join(', ')} };`) as (values: unknown[]) => Row;
}
