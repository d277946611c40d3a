// The PostgreSQL ledger's long reads run on a worker thread of their own (reader-thread.ts). postgres.js
// parses rows as the socket brings them, and libuv reads a busy socket up to 32 times in a go: on the event
// loop, a Redis flush under a ledger of 450,000 rows left /health waiting 0.98 s while the rebuild's reads
// were parsed. A cursor (1,000 rows a fetch) cut that to 0.16 s, but PostgreSQL plans no parallel query for
// a portal fetched a few rows at a time, and the rebuild's grouped sums took 1.7x as long. Here the worker
// parses, and when the main thread is behind it waits inside the row callback, which stops it reading the
// socket: the server waits too, with the query's plan unchanged.
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import { connectionLost } from './postgres-transaction.js';
import { ReaderThread, WORKER_FLOW } from './reader-thread.js';

// Each read runs in a transaction of its own with JIT compilation off. Reads of up to millions of rows
// have an estimated cost past jit_above_cost, and PostgreSQL compiled each one to machine code first:
// ~100-260 ms per query on a 3M-row ledger, more than an index-only scan of a month of one organization
// takes, paid again by every query. Off for the read's transaction only (SET LOCAL), not for the
// connection, so it holds behind a transaction-pooling PgBouncer too, which does not pass settings given
// at connect time. A connection lost mid-read leaves the callback unsettled, begin() rejecting by itself,
// as inTransaction does on the main thread (postgres-transaction.ts: postgres.js 3.4 would otherwise write
// its ROLLBACK to the closed socket from a timer, and the TypeError would end the thread).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const postgres = require(workerData.driver);
${WORKER_FLOW}
const { url, ssl, verifyIdentity } = workerData.connection;
if (ssl) {
  // Certificates arrive as plain Uint8Arrays; tls takes Buffers.
  for (const k of ['ca', 'cert', 'key']) if (ssl[k]) ssl[k] = Buffer.from(ssl[k]);
  if (!verifyIdentity) ssl.checkServerIdentity = () => undefined;
}
const connect = () => postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10, ...(ssl ? { ssl } : {}) });
let sql = connect();
// The main thread's own test (postgres-transaction.ts), its source copied in.
${connectionLost.toString()}
let reads = Promise.resolve();
parentPort.on('message', (m) => {
  reads = reads.then(() => (m.close ? close(m) : read(m)));
});
async function close(m) {
  await sql.end({ timeout: 1 }).catch(() => {});
  parentPort.postMessage({ id: m.id, done: true });
}
async function read(m) {
  begun();
  // Rows as arrays (cheaper to copy between threads than objects naming every column), the names sent
  // with the first chunk: the main thread names them again (reader-thread.ts rowMaker).
  let columns;
  let chunk = [];
  let first = true;
  let stopped = false;
  try {
    await sql.begin(async (tx) => {
      try {
        await tx.unsafe('SET LOCAL jit = off');
        await tx.unsafe(m.sql, m.params).values().forEach((row, result) => {
          if (stopped) return; // the rest is read and dropped
          if (columns === undefined) columns = result.statement.columns.map((c) => c.name);
          chunk.push(row);
          if (chunk.length < workerData.chunkRows) return;
          parentPort.postMessage({ id: m.id, rows: chunk, columns: first ? columns : undefined });
          first = false;
          chunk = [];
          stopped = sent();
        });
      } catch (err) {
        if (connectionLost(err)) return new Promise(() => {});
        throw err;
      }
    });
    drained();
    parentPort.postMessage({ id: m.id, rows: stopped ? [] : chunk, columns: first ? columns : undefined, done: true });
  } catch (err) {
    drained();
    // A connection lost mid-read leaves postgres.js 3.4's pool in a state of its own: a ROLLBACK queued on
    // the dead connection (after a reset, every later read waited forever), or the server's FATAL kept to
    // fail the next, unrelated read. The next read gets a new pool.
    if (connectionLost(err)) {
      const old = sql;
      sql = connect();
      old.end({ timeout: 0 }).catch(() => {});
    }
    parentPort.postMessage({ id: m.id, error: failure(err) });
  }
}
`;

/** How the worker connects: the driver's URL and TLS options (withCertificateFiles), as cloneable data. */
function connectionData(url: string, ssl: ConnectionOptions | undefined): Record<string, unknown> {
  if (!ssl) return { url };
  // A function does not cross to a thread: verify-ca's "any name" check is made again there.
  const { checkServerIdentity, ...data } = ssl;
  return { url, ssl: data, verifyIdentity: checkServerIdentity === undefined };
}

/** The reader thread of one PostgreSQL ledger, on a connection of its own: one read at a time, in the order asked. */
export class PostgresReaderThread extends ReaderThread {
  constructor(url: string, ssl: ConnectionOptions | undefined, idleMs?: number) {
    super({ source: WORKER_SOURCE, data: { driver: createRequire(import.meta.url).resolve('postgres'), connection: connectionData(url, ssl) }, name: 'PostgreSQL' }, idleMs);
  }
}
