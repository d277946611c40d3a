// The ledgers' long reads (the counter rebuild's sums and events, a dashboard's, a report's) run on a worker
// thread of their own, which hands rows over in chunks: on the event loop they held every request of the
// gateway for as long as the database took to read them (SQLite, synchronous: 13.3 s at 450,000 rows), or
// for as long as the driver took to parse what one burst of socket reads brought (PostgreSQL: 0.98 s).
// This is the main thread's half; each ledger's worker (sqlite-reader-thread.ts, postgres-reader-thread.ts)
// reads and posts chunks, never more than a few ahead of the one being folded here, so a read of millions
// of rows holds a few thousand in memory at a time.
//
// The worker counts the chunks not yet taken in memory shared with this thread, and waits on that count
// (Atomics.wait) rather than on a message: a PostgreSQL worker waits inside the driver's row callback,
// where its event loop cannot turn, and so stops reading the socket (the server then waits too: no cursor,
// whose few rows per fetch cost the read its parallel plan, 1.7x the time).
import { Worker } from 'node:worker_threads';

/** Rows per message: few enough that folding one chunk is a short task, many enough that the hand-overs cost little. */
export const READ_CHUNK_ROWS = 1000;
/** Chunks the worker sends ahead of the one being folded: how many a read holds in memory at once. */
export const CHUNKS_AHEAD = 3;
/**
 * How long the thread outlives its last read. Reads are rare (a rebuild, a dashboard, an audit): an idle
 * thread would keep its heap and connection for nothing, and starting one again costs tens of ms.
 */
const IDLE_MS = 10_000;

/** The shared flow counters: [chunks sent and not yet taken, 1 once the read under way is to stop]. */
export const UNTAKEN = 0;
export const STOP = 1;

/** What a worker is given besides its own data: `workerData.flow`, `chunkRows`, `ahead`. */
export interface ReaderWorker {
  /** The worker's source, CommonJS, run with `eval` (the same from dist/ and from the TypeScript sources under the test runner). */
  source: string;
  /** Its own `workerData`, beside the flow counters. */
  data: Record<string, unknown>;
  /** The database, in error messages ("the SQLite ledger is closed"). */
  name: string;
}

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

/** A failed read's error as the worker sends it: the message and the driver's fields (`code`, `severity`...). */
export type ReadError = { message: string } & Record<string, unknown>;

interface WorkerAnswer {
  id: number;
  rows?: unknown[][];
  columns?: string[];
  done?: boolean;
  error?: ReadError;
}

/**
 * The reader thread of one ledger, started at the first read. One read runs at a time, in the order
 * asked. A thread that dies fails the reads it held; the next read starts a new one.
 */
export class ReaderThread {
  private worker?: Worker;
  private flow?: Int32Array;
  private readonly readings = new Map<number, Reading>();
  private nextId = 1;
  private closed = false;
  private idle?: NodeJS.Timeout;

  constructor(
    private readonly spec: ReaderWorker,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Reads asked for and not ended: the one under way and those waiting their turn. */
  get pending(): number {
    return this.readings.size;
  }

  /** Whether a thread is running now (it stops once idle for `idleMs`). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Runs `sql` and hands its rows to `visit`, a chunk at a time, as the database returns them. */
  each(sql: string, params: unknown[], visit: (rows: Row[]) => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the ${this.spec.name} ledger is closed`));
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
    this.failAll(new Error(`the ${this.spec.name} ledger was closed before the read ended`));
    const worker = this.worker;
    if (!worker) return;
    this.stopReading();
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

  /** Wakes a worker waiting for its chunks to be taken, and has it stop the read under way. */
  private stopReading(): void {
    if (!this.flow) return;
    Atomics.store(this.flow, STOP, 1);
    Atomics.notify(this.flow, UNTAKEN);
  }

  private start(): Worker {
    const flow = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(this.spec.source, {
      eval: true,
      workerData: { ...this.spec.data, flow, chunkRows: READ_CHUNK_ROWS, ahead: CHUNKS_AHEAD },
    });
    this.worker = worker;
    this.flow = flow;
    worker.unref();
    // Each chunk is folded in a task of its own, after the I/O that came meanwhile: Node hands a port up to
    // a thousand messages in one go, and a worker answering each chunk taken at once kept the event loop
    // folding for 1.6 s without a break (a /health poll waited that long during a rebuild).
    worker.on('message', (m: WorkerAnswer) => setImmediate(() => this.answered(flow, m)));
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      // One stopped for idleness held no read, and reads since went to its successor.
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.flow = undefined;
      this.failAll(err);
    };
    worker.on('error', (err) => {
      fail(err);
      void worker.terminate();
    });
    worker.on('exit', (code) => fail(new Error(`the ${this.spec.name} reader thread exited (${code})`)));
    return worker;
  }

  private answered(flow: Int32Array, m: WorkerAnswer): void {
    const r = this.readings.get(m.id);
    if (r && m.columns) r.make = rowMaker(m.columns);
    if (r && m.rows && m.rows.length > 0 && !r.failure) {
      try {
        r.visit(m.rows.map(r.make!));
      } catch (err) {
        r.failure = err as Error;
      }
    }
    if (!m.done && m.error === undefined) {
      // Taken: the worker may read on, or stop (a failure, or a read failed by close). Every chunk is
      // answered, so the count is back at 0 when the read ends.
      if (!r || r.failure) Atomics.store(flow, STOP, 1);
      Atomics.sub(flow, UNTAKEN, 1);
      Atomics.notify(flow, UNTAKEN);
      return;
    }
    if (!r) return;
    this.readings.delete(m.id);
    if (m.error !== undefined) r.reject(Object.assign(new Error(m.error.message), m.error));
    else if (r.failure) r.reject(r.failure);
    else r.resolve();
  }
}

/**
 * Turns a row's values into the object the driver gives without `raw`: one literal with the columns'
 * names, compiled once per read, so every row gets the same shape (the names are the ledger's own SQL's).
 */
function rowMaker(columns: string[]): (values: unknown[]) => Row {
  const fields = columns.map((name, i) => `${JSON.stringify(name)}: v[${i}]`);
  return new Function('v', `return { ${fields.join(', ')} };`) as (values: unknown[]) => Row;
}

/**
 * The worker's half of the flow, as source for the workers' own: `begun()` as a read starts; `sent()` after
 * posting a chunk waits until fewer than `ahead` are untaken, and says whether the read is to stop;
 * `drained()` waits until every chunk is taken, before the read's last answer (that read's answers must not
 * count against the next one); `failure(err)` is what crosses to the main thread of an error (a driver's
 * error arrives without its fields otherwise).
 */
export const WORKER_FLOW = `
const flow = workerData.flow;
function begun() {
  Atomics.store(flow, ${STOP}, 0);
}
function sent() {
  Atomics.add(flow, ${UNTAKEN}, 1);
  let n;
  while ((n = Atomics.load(flow, ${UNTAKEN})) >= workerData.ahead && Atomics.load(flow, ${STOP}) === 0) Atomics.wait(flow, ${UNTAKEN}, n, 1000);
  return Atomics.load(flow, ${STOP}) === 1;
}
function drained() {
  let n;
  while ((n = Atomics.load(flow, ${UNTAKEN})) > 0) Atomics.wait(flow, ${UNTAKEN}, n, 1000);
}
function failure(err) {
  const out = { message: String((err && err.message) || err) };
  for (const field of ['code', 'severity', 'detail', 'hint']) if (err && typeof err[field] === 'string') out[field] = err[field];
  return out;
}
`;
