// SQLite inserts run on a worker thread: binding ~30 columns costs several µs a row (4 µs on a quiet
// development VM, 9 µs on a slow one), which on the gateway's event loop would cost throughput. The
// main thread only packs each row into the JSON text of its column values (when its call ends) and
// sends a batch's JSON array as one message.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { LedgerRow } from './ledger.js';
import { COLUMNS, encodeRow } from './ledger-sql.js';

// The worker's code is inline (CommonJS, `eval`) so it runs the same from dist/ and from the TypeScript
// sources under the test runner, which cannot start a worker from a .ts file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('busy_timeout = 5000');
const width = workerData.width;
const one = '(' + new Array(width).fill('?').join(',') + ')';
// Sixteen rows per statement: about a fifth less CPU per row than one statement per row.
const PER = 16;
const insertOne = db.prepare(workerData.sql + ' VALUES ' + one);
const insertMany = db.prepare(workerData.sql + ' VALUES ' + new Array(PER).fill(one).join(','));
// Rows arrive as arrays of final column values, in column order (half the JSON of objects with keys).
const write = db.transaction((rows) => {
  let i = 0;
  for (; i + PER <= rows.length; i += PER) {
    const values = [];
    for (let j = i; j < i + PER; j++) for (const v of rows[j]) values.push(v);
    insertMany.run(values);
  }
  for (; i < rows.length; i++) insertOne.run(rows[i]);
});
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ id: m.id });
    return;
  }
  try {
    write(JSON.parse(m.json));
    parentPort.postMessage({ id: m.id });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SqliteWriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure?: Error;

  /** `insertSql` is `INSERT ... (columns)` without its VALUES clause. */
  constructor(path: string, insertSql: string, synchronousFull: boolean) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path,
        sql: insertSql,
        synchronous: synchronousFull ? 'FULL' : 'NORMAL',
        width: COLUMNS.length,
      },
    });
    // An idle writer must not keep a finished process (a CLI, a test) alive.
    this.worker.unref();
    this.worker.on('message', (m: { id: number; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error));
      else p?.resolve();
    });
    const fail = (err: Error): void => {
      this.failure = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (${code})`)));
  }

  /** Inserts a JSON array of packed rows (packRow) in one transaction on the worker; resolves once committed. */
  write(json: string): Promise<void> {
    return this.send({ json });
  }

  /** Closes the worker's connection and stops it. */
  async close(): Promise<void> {
    if (this.failure) return;
    await this.send({ close: true }).catch(() => {});
    await this.worker.terminate();
  }

  private send(msg: { json?: string; close?: boolean }): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, ...msg });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }
}

/** A row as the writer thread takes it: its database values, as JSON text. */
export function packRow(row: LedgerRow): string {
  return JSON.stringify(rowValues(row));
}

/** A row's database values in COLUMNS order (JSON as text, booleans as 0/1), written out field by field: several times faster than mapping COLUMNS. */
function rowValues(r: LedgerRow): unknown[] {
  return [
    r.ts, r.requestId, r.organization, r.project, r.user, r.keyId, sharedJson(r.groups), r.route, r.modelId, r.provider, r.model, r.endpoint,
    r.stream ? 1 : 0, r.streamEnd, JSON.stringify(r.tags), r.status, r.decision, r.blockedBy, sharedJson(r.limits),
    r.shadowBlocked.length === 0 ? '[]' : JSON.stringify(r.shadowBlocked), r.fallback, r.inputTokens, r.outputTokens, r.cachedInputTokens,
    r.reservedInput, r.reservedOutput, r.costUsd, r.usageSource, r.latencyMs, r.upstreamLatencyMs,
  ];
}

// A key's groups and a (key, route)'s limit ids are the same array call after call (built once per
// policy), so their JSON text is built once too.
const jsonOfShared = new WeakMap<readonly string[], string>();
function sharedJson(list: readonly string[]): string {
  let text = jsonOfShared.get(list);
  if (text === undefined) {
    text = JSON.stringify(list);
    jsonOfShared.set(list, text);
  }
  return text;
}

/** Guards rowValues against a column added to COLUMNS but not here (or encoded differently). */
export function rowValuesMatchColumns(sample: LedgerRow): boolean {
  const values = rowValues(sample);
  const expected = encodeRow(sample, true);
  return values.length === expected.length && expected.every((v, i) => Object.is(v, values[i]));
}
