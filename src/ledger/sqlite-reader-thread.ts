// The SQLite ledger's long reads run on a worker thread of their own (reader-thread.ts). better-sqlite3 is
// synchronous: on the event loop, the counter rebuild's grouped sums (seconds at a million rows), a
// dashboard's or a report's held every request of the gateway for as long as SQLite worked. Measured before
// this thread: a Redis flush under a ledger of 450,000 rows (`scripts/seed-ledger.mjs`) left /health
// unanswered for 13.3 s while the rebuild read. The worker reads over a read-only connection of its own
// (WAL: never blocking the writer thread, nor blocked by it).
import { createRequire } from 'node:module';
import { ReaderThread, WORKER_FLOW } from './reader-thread.js';

export { READ_CHUNK_ROWS } from './reader-thread.js';

// Synchronous, as better-sqlite3 is: a read blocks the worker until its last chunk is taken, and the reads
// asked meanwhile wait in the port, in order.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
${WORKER_FLOW}
let db;
try {
  db = new Database(workerData.path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
} catch (err) {
  throw new Error('the SQLite reader thread could not open ' + workerData.path + ': ' + err.message);
}
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ id: m.id, done: true });
    return;
  }
  begun();
  try {
    const statement = db.prepare(m.sql);
    // Rows as arrays: cheaper to copy between threads than objects naming every column (the main thread
    // names them again, reader-thread.ts rowMaker).
    statement.raw(true);
    // Named once the first row is read: SQLite notices a schema changed by another connection (a newer
    // release's migration recreating the ledger view) only when it steps, so names read before that could
    // be the old view's, in another order.
    let columns = [];
    let chunk = [];
    let first = true;
    let stopped = false;
    const rows = statement.iterate(...m.params);
    for (const row of rows) {
      if (first && chunk.length === 0) columns = statement.columns().map((c) => c.name);
      chunk.push(row);
      if (chunk.length < workerData.chunkRows) continue;
      parentPort.postMessage({ id: m.id, rows: chunk, columns: first ? columns : undefined });
      first = false;
      chunk = [];
      if (sent()) {
        stopped = true;
        rows.return();
        break;
      }
    }
    drained();
    parentPort.postMessage({ id: m.id, rows: stopped ? [] : chunk, columns: first ? columns : undefined, done: true });
  } catch (err) {
    drained();
    parentPort.postMessage({ id: m.id, error: failure(err) });
  }
});
`;

/** The reader thread of one SQLite file: one read at a time, in the order asked. */
export class SqliteReaderThread extends ReaderThread {
  constructor(path: string, idleMs?: number) {
    super({ source: WORKER_SOURCE, data: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), path }, name: 'SQLite' }, idleMs);
  }
}
