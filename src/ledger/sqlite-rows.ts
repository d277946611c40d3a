// How the SQLite ledger stores a row. The eleven columns fixed by a call's key, route, model and
// endpoint (its context) are stored once per distinct context, in their own table; a call's row keeps
// the others (25 since schema version 6) and the context's id. Binding all 30 columns (as there were
// then) was most of the writer thread's cost per row; with 20 the insert fell from 5.4 to 3.8 µs of CPU
// per row. Readers do not see this: `tollgate_ledger` is a view joining the two.
import type { LedgerRow } from './ledger.js';
import { COLUMNS, encodeRow } from './ledger-sql.js';

export const CONTEXTS_TABLE = 'tollgate_call_contexts';
export const CALLS_TABLE = 'tollgate_calls';

/** Context columns, in the order a packed row lists them. */
export const CONTEXT_COLUMNS = ['organization', 'project', 'user_id', 'key_id', 'key_groups', 'route', 'model_id', 'provider', 'model', 'endpoint', 'limits'] as const;
/** The columns of a call's own row (after its context_id), in the order a packed row lists them. */
export const CALL_COLUMNS = COLUMNS.map(([c]) => c).filter((c) => !(CONTEXT_COLUMNS as readonly string[]).includes(c));

/**
 * Packs rows as the writer takes them: the JSON text of `[n, ...call values]`, database values
 * throughout (JSON columns as text, booleans as 0/1), where n numbers the distinct contexts this packer
 * has seen. A context's own text, `[n, ...its eleven values]`, is built once and added to the batch's
 * `contexts` set; a batch carries each of its contexts once, after its rows (Ledger.appendPacked). Sending
 * the eleven values with every row made parsing them half of the writer's JSON.parse time, for values
 * the writer only needs when a context is new to it. The writer finds a known context's id by n.
 */
export class RowPacker {
  private readonly contextsByKey = new Map<string, PackedContext[]>();
  private nextContext = 1;

  pack(r: LedgerRow, contexts: Set<string>): string {
    const c = this.contextOf(r);
    contexts.add(c.text);
    return JSON.stringify([
      c.n, r.ts, r.requestId, r.stream ? 1 : 0, r.streamEnd, JSON.stringify(r.tags), r.status, r.decision, r.blockedBy,
      r.shadowBlocked.length === 0 ? '[]' : JSON.stringify(r.shadowBlocked), r.fallback, r.inputTokens, r.outputTokens, r.cachedInputTokens,
      r.cacheWriteInputTokens, r.cacheWrite1hInputTokens, r.reservedInput, r.reservedOutput, r.costUsd, r.inputCostUsd, r.toolFeesUsd, r.serviceTier,
      r.usageSource, r.latencyMs, r.upstreamLatencyMs, r.providerResponseId, r.inferenceGeo, r.audioInputTokens, r.audioOutputTokens,
    ]);
  }

  private contextOf(r: LedgerRow): PackedContext {
    const groups = sharedJson(r.groups);
    const limits = sharedJson(r.limits);
    let known = this.contextsByKey.get(r.keyId);
    if (known === undefined) {
      // Few contexts per key; the bound only guards memory against an unusual number of keys.
      if (this.contextsByKey.size >= MAX_KEYS) this.contextsByKey.clear();
      known = [];
      this.contextsByKey.set(r.keyId, known);
    }
    for (const c of known) {
      const v = c.values;
      if (v[0] === r.organization && v[1] === r.project && v[2] === r.user && v[4] === groups && v[5] === r.route && v[6] === r.modelId && v[7] === r.provider && v[8] === r.model && v[9] === r.endpoint && v[10] === limits) {
        return c;
      }
    }
    const values = [r.organization, r.project, r.user, r.keyId, groups, r.route, r.modelId, r.provider, r.model, r.endpoint, limits];
    const n = this.nextContext++;
    const c = { n, values, text: JSON.stringify([n, ...values]) };
    known.push(c);
    return c;
  }
}

interface PackedContext {
  n: number;
  /** The eleven context values, in CONTEXT_COLUMNS order. */
  values: ReadonlyArray<string | null>;
  /** `[n, ...values]` as JSON. */
  text: string;
}

const MAX_KEYS = 10_000;

// A key's groups and a (key, route)'s limit ids are the same array call after call (built once per
// policy), so their JSON text is built once too.
const jsonOfShared = new WeakMap<readonly string[], string>();
function sharedJson(list: readonly string[]): string {
  if (list.length === 0) return '[]';
  let text = jsonOfShared.get(list);
  if (text === undefined) {
    text = JSON.stringify(list);
    jsonOfShared.set(list, text);
  }
  return text;
}

/** Guards RowPacker against a column added to COLUMNS but not there (or encoded differently). */
export function packedRowMatchesColumns(sample: LedgerRow): boolean {
  const contexts = new Set<string>();
  const [n, ...call] = JSON.parse(new RowPacker().pack(sample, contexts)) as unknown[];
  const [[m, ...context]] = [...contexts].map((t) => JSON.parse(t) as unknown[]);
  const encoded = encodeRow(sample, true);
  const valueOf = (column: string): unknown => encoded[COLUMNS.findIndex(([c]) => c === column)];
  const expected = [...CONTEXT_COLUMNS.map(valueOf), ...CALL_COLUMNS.map(valueOf)];
  const values = [...context, ...call];
  return n === m && contexts.size === 1 && values.length === COLUMNS.length && expected.every((v, i) => Object.is(v, values[i]));
}

/** What the batch writer needs to know about the schema. */
export interface BatchWriterSchema {
  contextsTable: string;
  callsTable: string;
  contextColumns: readonly string[];
  callColumns: readonly string[];
}

export const BATCH_WRITER_SCHEMA: BatchWriterSchema = {
  contextsTable: CONTEXTS_TABLE,
  callsTable: CALLS_TABLE,
  contextColumns: CONTEXT_COLUMNS,
  callColumns: CALL_COLUMNS,
};

/**
 * The body of `function (db, schema)` returning `write(batch)`, which inserts a parsed batch (its packed
 * rows, then the array of their contexts: Ledger.appendPacked) in one transaction. Plain JavaScript in
 * a string: the writer thread runs it (a worker cannot start from the TypeScript sources under the test
 * runner), and an in-memory database runs it on the main thread.
 */
export const BATCH_WRITER_BODY = `
const { contextsTable, callsTable, contextColumns, callColumns } = schema;
const marks = (n) => '(' + new Array(n).fill('?').join(',') + ')';
// The writer looks up or inserts every row's context in the row's own transaction, so SQLite's check of
// the foreign key (a B-tree search per row, ~4% of the writer's instructions) never finds anything wrong.
db.pragma('foreign_keys = OFF');
// Sixteen rows per statement: about a fifth less CPU per row than one statement per row.
const PER = 16;
const WIDTH = callColumns.length + 1;
const insertSql = 'INSERT OR IGNORE INTO ' + callsTable + ' (context_id,' + callColumns.join(',') + ') VALUES ';
const one = marks(WIDTH);
const insertOne = db.prepare(insertSql + one);
const insertMany = db.prepare(insertSql + new Array(PER).fill(one).join(','));
// Values are passed as arguments (run(...values)), not as one array: better-sqlite3 reads an array's
// elements through V8's generic property lookup, which cost ~0.4 µs more per row of 20 values. As
// arguments, though, an object would be taken for named parameters and an array flattened, so each row
// is checked here as binding it from an array would have: its width, and no object or array values.
const values = new Array(PER * WIDTH);
const copyRow = (row, into, at) => {
  if (row.length !== WIDTH) throw new Error('a packed ledger row has ' + row.length + ' values, not ' + WIDTH);
  for (let c = 0; c < WIDTH; c++) {
    const v = row[c];
    if (typeof v === 'object' && v !== null) throw new TypeError('SQLite3 can only bind numbers, strings, bigints, buffers, and null');
    into[at + c] = v;
  }
};
const addContext = db.prepare('INSERT INTO ' + contextsTable + ' (context_key,' + contextColumns.join(',') + ') VALUES ' +
  marks(contextColumns.length + 1) + ' ON CONFLICT (context_key) DO NOTHING');
const contextIdOf = db.prepare('SELECT id FROM ' + contextsTable + ' WHERE context_key = ?').pluck();
// Context ids by the packer's number for the context, with the values it had. A number is only one
// process's: a spill file replayed at start was packed by an earlier process, whose numbers name other
// contexts, so a known number counts only with the same values (its rows were written under the earlier
// process's organization, project, user, key, route and model: test/ledger-sqlite-batch-rows.test.ts). A
// context new to this writer is looked up by its key, the JSON text of its values: another process (or an
// earlier run) may have written it already. Its values come from the batch's contexts, which every batch
// carries for its own rows: a batch never depends on an earlier one (which may have been dropped, or
// rolled back).
const known = new Map();
const sameValues = (a, b) => {
  if (a.length !== b.length) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};
const write = db.transaction((rows) => {
  const contexts = rows.pop();
  const ids = new Map();
  for (const context of contexts) {
    let k = known.get(context[0]);
    if (k === undefined || !sameValues(k.context, context)) {
      const contextValues = context.slice(1);
      const key = JSON.stringify(contextValues);
      addContext.run(key, ...contextValues);
      k = { context, id: contextIdOf.get(key) };
      if (known.size >= 100000) known.clear();
      known.set(context[0], k);
    }
    ids.set(context[0], k.id);
  }
  for (const row of rows) {
    const id = ids.get(row[0]);
    if (id === undefined) throw new Error('a ledger batch names context ' + row[0] + ' without its values');
    row[0] = id;
  }
  let i = 0;
  for (; i + PER <= rows.length; i += PER) {
    for (let j = 0; j < PER; j++) copyRow(rows[i + j], values, j * WIDTH);
    insertMany.run(...values);
  }
  for (; i < rows.length; i++) {
    const row = new Array(WIDTH);
    copyRow(rows[i], row, 0);
    insertOne.run(...row);
  }
});
return (batch) => {
  try {
    write(batch);
  } catch (err) {
    // The transaction rolled back: contexts it added are gone, so their cached ids are wrong.
    known.clear();
    throw err;
  }
};
`;
