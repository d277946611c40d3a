// Schema versions of the ledger, per dialect. Migration n brings the schema from version n-1 to n;
// `tollgate_schema_version` records how far a database has come. Never edit a released migration:
// add the next one.
import { TABLE } from './ledger-sql.js';
import { CALLS_TABLE, CONTEXTS_TABLE } from './sqlite-rows.js';
import { keysTable } from './key-table-sql.js';

export const VERSION_TABLE = 'tollgate_schema_version';

// Column types differ (JSONB, BOOLEAN, BIGINT in PostgreSQL); names and meaning are the same.
const columns = (t: { id: string; bigint: string; json: string; bool: string; real: string }): string => `
  id ${t.id},
  ts ${t.bigint} NOT NULL,
  request_id TEXT NOT NULL,
  organization TEXT NOT NULL,
  project TEXT,
  user_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_groups ${t.json} NOT NULL,
  route TEXT NOT NULL,
  model_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  stream ${t.bool} NOT NULL,
  stream_end TEXT,
  tags ${t.json} NOT NULL,
  status INTEGER NOT NULL,
  decision TEXT NOT NULL,
  blocked_by TEXT,
  limits ${t.json} NOT NULL,
  shadow_blocked ${t.json} NOT NULL,
  fallback TEXT,
  input_tokens ${t.bigint} NOT NULL,
  output_tokens ${t.bigint} NOT NULL,
  cached_input_tokens ${t.bigint} NOT NULL,
  reserved_input ${t.bigint} NOT NULL,
  reserved_output ${t.bigint} NOT NULL,
  cost_usd ${t.real} NOT NULL,
  usage_source TEXT NOT NULL,
  latency_ms ${t.real} NOT NULL,
  upstream_latency_ms ${t.real}`;

// One index serves time-range reports and makes a retried row (same request, same start time) a
// no-op: an index per purpose would cost every insert another B-tree. A shared PostgreSQL ledger also
// serves several organizations' dashboards; the embedded SQLite one usually holds one organization.
const TS_INDEX = `CREATE UNIQUE INDEX ${TABLE}_ts_request ON ${TABLE} (ts, request_id)`;
const ORG_TS_INDEX = `CREATE INDEX ${TABLE}_org_ts ON ${TABLE} (organization, ts)`;

// Version 2 of the SQLite ledger stores each call's context (the columns fixed by its key, route, model
// and endpoint) once, and `tollgate_ledger` becomes a view with the same columns (see sqlite-rows.ts).
// PostgreSQL keeps one wide table: its rows are bound in the database server, not in the gateway.
// A context's key is the JSON array of its values as the writer builds it; should json_array() ever
// write a value differently, the writer only adds a second context row with the same values. The column
// lists are spelled out here, not taken from sqlite-rows.ts: a released migration must not change with
// the code.
const SQLITE_CONTEXT_VALUES = 'organization, project, user_id, key_id, key_groups, route, model_id, provider, model, endpoint, limits';
const SQLITE_CALL_VALUES =
  'ts, request_id, stream, stream_end, tags, status, decision, blocked_by, shadow_blocked, fallback, input_tokens, output_tokens, ' +
  'cached_input_tokens, reserved_input, reserved_output, cost_usd, usage_source, latency_ms, upstream_latency_ms';
/** `a.x, a.y, ...` for a column list `x, y, ...`. */
const qualified = (alias: string, list: string): string => list.replace(/(\w+)/g, `${alias}.$1`);
const SQLITE_V2 = [
  `CREATE TABLE ${CONTEXTS_TABLE} (
    id INTEGER PRIMARY KEY,
    context_key TEXT NOT NULL UNIQUE,
    organization TEXT NOT NULL,
    project TEXT,
    user_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_groups TEXT NOT NULL,
    route TEXT NOT NULL,
    model_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    limits TEXT NOT NULL)`,
  `CREATE TABLE ${CALLS_TABLE} (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    context_id INTEGER NOT NULL REFERENCES ${CONTEXTS_TABLE} (id),
    stream INTEGER NOT NULL,
    stream_end TEXT,
    tags TEXT NOT NULL,
    status INTEGER NOT NULL,
    decision TEXT NOT NULL,
    blocked_by TEXT,
    shadow_blocked TEXT NOT NULL,
    fallback TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    reserved_input INTEGER NOT NULL,
    reserved_output INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    usage_source TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    upstream_latency_ms REAL)`,
  `INSERT INTO ${CONTEXTS_TABLE} (context_key, ${SQLITE_CONTEXT_VALUES})
    SELECT DISTINCT json_array(${SQLITE_CONTEXT_VALUES}), ${SQLITE_CONTEXT_VALUES} FROM ${TABLE}`,
  `INSERT INTO ${CALLS_TABLE} (id, context_id, ${SQLITE_CALL_VALUES})
    SELECT l.id, c.id, ${qualified('l', SQLITE_CALL_VALUES)} FROM ${TABLE} l
    JOIN ${CONTEXTS_TABLE} c ON c.context_key = json_array(${qualified('l', SQLITE_CONTEXT_VALUES)})`,
  `DROP TABLE ${TABLE}`,
  `CREATE UNIQUE INDEX ${CALLS_TABLE}_ts_request ON ${CALLS_TABLE} (ts, request_id)`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 3 (SQLite; version 2 of PostgreSQL) records the part of cost_usd billed for input, so money
// limits rebuild from what calls were billed (cache and tier prices) rather than tokens at list price.
// Rows written before it keep NULL there: the rebuild weighs those by their tokens, as it always did. A
// view's columns are fixed when it is created, so SQLite's is created again with the new one.
const SQLITE_V3_CALL_VALUES =
  'ts, request_id, stream, stream_end, tags, status, decision, blocked_by, shadow_blocked, fallback, input_tokens, output_tokens, ' +
  'cached_input_tokens, reserved_input, reserved_output, cost_usd, input_cost_usd, usage_source, latency_ms, upstream_latency_ms';
const SQLITE_V3 = [
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN input_cost_usd REAL`,
  `DROP VIEW ${TABLE}`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_V3_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_V3_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 4 (SQLite; version 3 of PostgreSQL) records what else a row's cost depends on: the input tokens
// written to the prompt cache (every TTL, and the 1-hour part, billed above the input price) and the
// OpenAI service tier that served the call (priority above standard, flex below), so a row can be
// re-priced from its own columns. Rows written before it read 0, 0 and NULL (standard): right for calls
// that wrote nothing to the cache and were served at the standard tier, unknown for the others (whose
// cost_usd still includes what they were billed).
const SQLITE_V4_CALL_VALUES =
  'ts, request_id, stream, stream_end, tags, status, decision, blocked_by, shadow_blocked, fallback, input_tokens, output_tokens, ' +
  'cached_input_tokens, cache_write_input_tokens, cache_write_1h_input_tokens, reserved_input, reserved_output, cost_usd, input_cost_usd, ' +
  'service_tier, usage_source, latency_ms, upstream_latency_ms';
const SQLITE_V4 = [
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN cache_write_input_tokens INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN cache_write_1h_input_tokens INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN service_tier TEXT`,
  `DROP VIEW ${TABLE}`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_V4_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_V4_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 5 (SQLite; version 4 of PostgreSQL) records the provider's id of a Responses API call's response
// (`resp_...`), so a row can be matched with the provider's own records of it (its usage export, a
// stored response). Rows written before it, and calls with no such id, read NULL.
const SQLITE_V5_CALL_VALUES = `${SQLITE_V4_CALL_VALUES}, provider_response_id`;
const SQLITE_V5 = [
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN provider_response_id TEXT`,
  `DROP VIEW ${TABLE}`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_V5_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_V5_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 6 (SQLite; version 5 of PostgreSQL) records the part of cost_usd billed per server-side tool
// call (web and file searches), which cost_usd and input_cost_usd include: so a row's cost is explained
// from its columns, and fees can be reported apart from tokens. Rows written before it read 0: calls then
// were priced from their tokens alone.
const SQLITE_V6_CALL_VALUES = `${SQLITE_V5_CALL_VALUES}, tool_fees_usd`;
const SQLITE_V6 = [
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN tool_fees_usd REAL NOT NULL DEFAULT 0`,
  `DROP VIEW ${TABLE}`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_V6_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_V6_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 7 (SQLite; version 6 of PostgreSQL): who made each conversation (OpenAI's Conversations API)
// through the gateway. Its making is no call (no tokens, no ledger row), yet its owner must outlive the
// counter store's record: conversations without an owner are refused (proxy/conversation-owners.ts).
export const CONVERSATIONS_TABLE = 'tollgate_conversations';
const conversationsTable = (bigint: string): string =>
  `CREATE TABLE ${CONVERSATIONS_TABLE} (id TEXT PRIMARY KEY, ts ${bigint} NOT NULL, organization TEXT NOT NULL, project TEXT, provider TEXT NOT NULL)`;

// Version 8 (SQLite; version 7 of PostgreSQL): a stored response's owner is looked up in the ledger by
// its id when the counter store has no record of it. Partial: only Responses API rows carry an id, so
// other calls' inserts pay nothing for it.
const responseIdIndex = (table: string): string =>
  `CREATE INDEX ${table}_response_id ON ${table} (provider_response_id) WHERE provider_response_id IS NOT NULL`;

// Version 9 (SQLite; version 8 of PostgreSQL) records where Anthropic ran a call (`usage.inference_geo`),
// which its price depends on (US-only inference at 1.1x on recent models), so a row can still be re-priced
// from its own columns. Nullable, no default: rows written before it, and calls without one, read NULL.
const SQLITE_V9_CALL_VALUES = `${SQLITE_V6_CALL_VALUES}, inference_geo`;
const SQLITE_V9 = [
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN inference_geo TEXT`,
  `DROP VIEW ${TABLE}`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_V9_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_V9_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 10 (SQLite; version 9 of PostgreSQL) records the audio tokens among a call's input and output
// (OpenAI's audio models bill them at their own rates, 12.8x and 6.4x the text ones on gpt-audio), so a
// row's cost is still explained by its columns. Rows written before it read 0: calls then were priced as text.
const SQLITE_V10_CALL_VALUES = `${SQLITE_V9_CALL_VALUES}, audio_input_tokens, audio_output_tokens`;
const SQLITE_V10 = [
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN audio_input_tokens INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE ${CALLS_TABLE} ADD COLUMN audio_output_tokens INTEGER NOT NULL DEFAULT 0`,
  `DROP VIEW ${TABLE}`,
  `CREATE VIEW ${TABLE} (id, ${SQLITE_CONTEXT_VALUES}, ${SQLITE_V10_CALL_VALUES}) AS
    SELECT r.id, ${qualified('c', SQLITE_CONTEXT_VALUES)}, ${qualified('r', SQLITE_V10_CALL_VALUES)}
    FROM ${CALLS_TABLE} r JOIN ${CONTEXTS_TABLE} c ON c.id = r.context_id`,
];

// Version 11 (SQLite; version 10 of PostgreSQL): the keys made through the admin API (auth/managed-key.ts),
// kept where every instance sharing the ledger reads them.

export const SQLITE_MIGRATIONS: string[][] = [
  [`CREATE TABLE ${TABLE} (${columns({ id: 'INTEGER PRIMARY KEY', bigint: 'INTEGER', json: 'TEXT', bool: 'INTEGER', real: 'REAL' })})`, TS_INDEX],
  SQLITE_V2,
  SQLITE_V3,
  SQLITE_V4,
  SQLITE_V5,
  SQLITE_V6,
  [conversationsTable('INTEGER')],
  [responseIdIndex(CALLS_TABLE)],
  SQLITE_V9,
  SQLITE_V10,
  [keysTable('INTEGER')],
];

export const POSTGRES_MIGRATIONS: string[][] = [
  [
    `CREATE TABLE ${TABLE} (${columns({ id: 'BIGSERIAL PRIMARY KEY', bigint: 'BIGINT', json: 'JSONB', bool: 'BOOLEAN', real: 'DOUBLE PRECISION' })})`,
    TS_INDEX,
    ORG_TS_INDEX,
  ],
  // Nullable without a default: PostgreSQL adds it without rewriting the table.
  [`ALTER TABLE ${TABLE} ADD COLUMN input_cost_usd DOUBLE PRECISION`],
  // Version 3 (SQLITE_V4 above). A constant default: PostgreSQL 11 and later add it without a rewrite either.
  [
    `ALTER TABLE ${TABLE} ADD COLUMN cache_write_input_tokens BIGINT NOT NULL DEFAULT 0`,
    `ALTER TABLE ${TABLE} ADD COLUMN cache_write_1h_input_tokens BIGINT NOT NULL DEFAULT 0`,
    `ALTER TABLE ${TABLE} ADD COLUMN service_tier TEXT`,
  ],
  // Version 4 (SQLITE_V5 above): nullable, no default, no rewrite.
  [`ALTER TABLE ${TABLE} ADD COLUMN provider_response_id TEXT`],
  // Version 5 (SQLITE_V6 above).
  [`ALTER TABLE ${TABLE} ADD COLUMN tool_fees_usd DOUBLE PRECISION NOT NULL DEFAULT 0`],
  // Version 6 (the conversations' owners above).
  [conversationsTable('BIGINT')],
  // Version 7 (the response id index above).
  [responseIdIndex(TABLE)],
  // Version 8 (SQLITE_V9 above): nullable, no default, no rewrite.
  [`ALTER TABLE ${TABLE} ADD COLUMN inference_geo TEXT`],
  // Version 9 (SQLITE_V10 above): a constant default, no rewrite.
  [
    `ALTER TABLE ${TABLE} ADD COLUMN audio_input_tokens BIGINT NOT NULL DEFAULT 0`,
    `ALTER TABLE ${TABLE} ADD COLUMN audio_output_tokens BIGINT NOT NULL DEFAULT 0`,
  ],
  // Version 10 (the managed keys above).
  [keysTable('BIGINT')],
];

/**
 * A read-only open (reports, audits) never migrates: a ledger an older gateway still writes lacks the
 * newer columns its queries read, so say so instead of failing on "no such column".
 */
export function checkReadableVersion(version: number, current: number): void {
  if (version > 0 && version < current) {
    throw new Error(
      `the ledger's schema is at version ${version} and this tollgate reads version ${current}: run this version's \`tollgate serve\` on it once (it migrates the schema), or report with the version that writes it`,
    );
  }
}
