// A ledger as an earlier release wrote it (SQLite schema version 2 or later, any PostgreSQL version),
// with rows in it: what the migrations after that version must keep.
import Database from 'better-sqlite3';
import postgres from 'postgres';
import type { LedgerRow } from '../../src/ledger/ledger.js';
import { COLUMN_NAMES, encodeRow, TABLE } from '../../src/ledger/ledger-sql.js';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, VERSION_TABLE } from '../../src/ledger/migrations.js';
import { CALL_COLUMNS, CALLS_TABLE, CONTEXT_COLUMNS, CONTEXTS_TABLE } from '../../src/ledger/sqlite-rows.js';
import type { LedgerPlace } from './ledgers.js';

/** The columns added to the ledger after its first release, and the schema version that added them, per dialect. */
const ADDED: ReadonlyArray<{ columns: readonly string[]; version: { sqlite: number; postgres: number } }> = [
  { columns: ['input_cost_usd'], version: { sqlite: 3, postgres: 2 } },
  { columns: ['cache_write_input_tokens', 'cache_write_1h_input_tokens', 'service_tier'], version: { sqlite: 4, postgres: 3 } },
  { columns: ['provider_response_id'], version: { sqlite: 5, postgres: 4 } },
  { columns: ['tool_fees_usd'], version: { sqlite: 6, postgres: 5 } },
  { columns: ['inference_geo'], version: { sqlite: 9, postgres: 8 } },
  { columns: ['audio_input_tokens', 'audio_output_tokens'], version: { sqlite: 10, postgres: 9 } },
];

/** The schema versions before `input_cost_usd`, per dialect. */
export const VERSION_BEFORE_INPUT_COST = { sqlite: 2, postgres: 1 } as const;
/** The schema versions before the cache-write and service-tier columns, per dialect. */
export const VERSION_BEFORE_CACHE_WRITES = { sqlite: 3, postgres: 2 } as const;
/** The schema versions before `provider_response_id`, per dialect. */
export const VERSION_BEFORE_RESPONSE_ID = { sqlite: 4, postgres: 3 } as const;
/** The schema versions before the tool-fees column, per dialect. */
export const VERSION_BEFORE_TOOL_FEES = { sqlite: 5, postgres: 4 } as const;
/** The schema versions before the inference-geo column, per dialect. */
export const VERSION_BEFORE_INFERENCE_GEO = { sqlite: 8, postgres: 7 } as const;
/** The schema versions before the audio-token columns, per dialect. */
export const VERSION_BEFORE_AUDIO_TOKENS = { sqlite: 9, postgres: 8 } as const;

/** The columns a ledger at `version` of `kind` does not have yet. */
export function columnsMissingAt(kind: 'sqlite' | 'postgres', version: number): string[] {
  return ADDED.filter((a) => a.version[kind] > version).flatMap((a) => a.columns);
}

/** Creates the ledger at `place` at schema `version` and writes `rows` there (the fields of later columns are not stored). */
export async function writeLedgerAtVersion(place: LedgerPlace, version: number, rows: LedgerRow[]): Promise<void> {
  const missing = new Set(columnsMissingAt(place.kind, version));
  const present = (list: readonly string[]): string[] => list.filter((c) => !missing.has(c));
  const valuesOf = (row: LedgerRow, boolAsInt: boolean): Map<string, unknown> => {
    const encoded = encodeRow(row, boolAsInt);
    return new Map(COLUMN_NAMES.map((c, i) => [c, encoded[i]]));
  };
  if (place.kind === 'sqlite') {
    // Version 1 was one wide table (sqlite-rows.test.ts writes that one itself).
    if (version < 2) throw new Error('writeLedgerAtVersion writes SQLite ledgers from version 2 on');
    const db = new Database(place.url.slice('sqlite:'.length));
    try {
      db.exec(`CREATE TABLE ${VERSION_TABLE} (version INTEGER NOT NULL)`);
      for (let v = 0; v < version; v++) {
        for (const stmt of SQLITE_MIGRATIONS[v]) db.exec(stmt);
        db.prepare(`INSERT INTO ${VERSION_TABLE} (version) VALUES (?)`).run(v + 1);
      }
      // As the writer of that version stored a row: its context once, keyed by the JSON of its values.
      const callColumns = present(CALL_COLUMNS);
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
    const columns = present(COLUMN_NAMES);
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
