// A ledger as the release before `input_cost_usd` wrote it (SQLite schema version 2, PostgreSQL 1), with
// rows in it: what the migration to the next version must keep.
import Database from 'better-sqlite3';
import postgres from 'postgres';
import type { LedgerRow } from '../../src/ledger/ledger.js';
import { COLUMN_NAMES, encodeRow, TABLE } from '../../src/ledger/ledger-sql.js';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, VERSION_TABLE } from '../../src/ledger/migrations.js';
import { CALL_COLUMNS, CALLS_TABLE, CONTEXT_COLUMNS, CONTEXTS_TABLE } from '../../src/ledger/sqlite-rows.js';
import type { LedgerPlace } from './ledgers.js';

/** The schema versions before the column, per dialect. */
export const VERSION_BEFORE_INPUT_COST = { sqlite: 2, postgres: 1 } as const;

const without = (list: readonly string[]): string[] => list.filter((c) => c !== 'input_cost_usd');

/** Creates the ledger at `place` at the version before `input_cost_usd` and writes `rows` there (their inputCostUsd is not stored). */
export async function writeLedgerBeforeInputCost(place: LedgerPlace, rows: LedgerRow[]): Promise<void> {
  const version = VERSION_BEFORE_INPUT_COST[place.kind];
  const valuesOf = (row: LedgerRow, boolAsInt: boolean): Map<string, unknown> => {
    const encoded = encodeRow(row, boolAsInt);
    return new Map(COLUMN_NAMES.map((c, i) => [c, encoded[i]]));
  };
  if (place.kind === 'sqlite') {
    const db = new Database(place.url.slice('sqlite:'.length));
    try {
      db.exec(`CREATE TABLE ${VERSION_TABLE} (version INTEGER NOT NULL)`);
      for (let v = 0; v < version; v++) {
        for (const stmt of SQLITE_MIGRATIONS[v]) db.exec(stmt);
        db.prepare(`INSERT INTO ${VERSION_TABLE} (version) VALUES (?)`).run(v + 1);
      }
      // As the version-2 writer stored a row: its context once, keyed by the JSON of its values.
      const callColumns = without(CALL_COLUMNS);
      const addContext = db.prepare(
        `INSERT INTO ${CONTEXTS_TABLE} (context_key, ${CONTEXT_COLUMNS.join(', ')}) VALUES (${['?', ...CONTEXT_COLUMNS.map(() => '?')].join(', ')}) ON CONFLICT (context_key) DO NOTHING`,
      );
      const contextId = db.prepare(`SELECT id FROM ${CONTEXTS_TABLE} WHERE context_key = ?`).pluck();
      const addCall = db.prepare(`INSERT INTO ${CALLS_TABLE} (context_id, ${callColumns.join(', ')}) VALUES (${['?', ...callColumns.map(() => '?')].join(', ')})`);
      for (const row of rows) {
        const values = valuesOf(row, true);
        const context = CONTEXT_COLUMNS.map((c) => values.get(c));
        const key = JSON.stringify(context);
        addContext.run(key, ...context);
        addCall.run(contextId.get(key), ...callColumns.map((c) => values.get(c)));
      }
    } finally {
      db.close();
    }
    return;
  }
  const sql = postgres(place.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE TABLE ${VERSION_TABLE} (version INTEGER NOT NULL)`);
    for (let v = 0; v < version; v++) {
      for (const stmt of POSTGRES_MIGRATIONS[v]) await sql.unsafe(stmt);
      await sql.unsafe(`INSERT INTO ${VERSION_TABLE} (version) VALUES ($1)`, [v + 1]);
    }
    const columns = without(COLUMN_NAMES);
    for (const row of rows) {
      const values = valuesOf(row, false);
      // Untyped parameters: PostgreSQL takes each one's type from its column (JSON text into JSONB).
      await sql.unsafe(`INSERT INTO ${TABLE} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, columns.map((c) => values.get(c)) as never[]);
    }
  } finally {
    await sql.end();
  }
}

/** The schema version a ledger's database records. */
export async function schemaVersionOf(place: LedgerPlace): Promise<number> {
  if (place.kind === 'sqlite') {
    const db = new Database(place.url.slice('sqlite:'.length), { readonly: true });
    try {
      return (db.prepare(`SELECT max(version) AS v FROM ${VERSION_TABLE}`).get() as { v: number }).v;
    } finally {
      db.close();
    }
  }
  const sql = postgres(place.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql.unsafe(`SELECT max(version) AS v FROM ${VERSION_TABLE}`);
    return Number(row.v);
  } finally {
    await sql.end();
  }
}
