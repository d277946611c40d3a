// Schema versions of the ledger, per dialect. Migration n brings the schema from version n-1 to n;
// `tollgate_schema_version` records how far a database has come. Never edit a released migration:
// add the next one.
import { TABLE } from './ledger-sql.js';

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

export const SQLITE_MIGRATIONS: string[][] = [
  [`CREATE TABLE ${TABLE} (${columns({ id: 'INTEGER PRIMARY KEY', bigint: 'INTEGER', json: 'TEXT', bool: 'INTEGER', real: 'REAL' })})`, TS_INDEX],
];

export const POSTGRES_MIGRATIONS: string[][] = [
  [
    `CREATE TABLE ${TABLE} (${columns({ id: 'BIGSERIAL PRIMARY KEY', bigint: 'BIGINT', json: 'JSONB', bool: 'BOOLEAN', real: 'DOUBLE PRECISION' })})`,
    TS_INDEX,
    ORG_TS_INDEX,
  ],
];
