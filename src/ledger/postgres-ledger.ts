// The shared ledger for several gateway instances: PostgreSQL through the `postgres` client.
import postgres from 'postgres';
import type { Ledger, LedgerRow, ObjectOwner, RowQuery, SchemaAhead, UsageEvent, UsageGroup, UsageQuery } from './ledger.js';
import { RESPONSE_OWNER_SQL, toObjectOwner, type OwnerRow } from './owner-row.js';
import { COLUMNS, COLUMN_NAMES, decodeRow, EVENT_COLUMNS, TABLE, toEvent, toUsageGroup, usageSql, type Dialect } from './ledger-sql.js';
import { withCertificateFiles } from './libpq-tls.js';
import { driverUrl } from './libpq-url.js';
import { checkReadableVersion, CONVERSATIONS_TABLE, POSTGRES_MIGRATIONS, VERSION_TABLE } from './migrations.js';
import { PostgresReaderThread } from './postgres-reader-thread.js';
import type { KeyTable } from '../auth/key-table.js';
import type { ManagedKey } from '../auth/managed-key.js';
import { INSERT_KEY_SQL, insertParams, LIST_KEYS_SQL, postgresPlaceholders, REPLACE_KEY_SQL, replaceParams, toManagedKey, type KeyRow } from './key-table-sql.js';
import { inTransaction } from './postgres-transaction.js';

/** PostgreSQL's SQL for the queries both ledgers share (ledger-sql.ts). */
export const POSTGRES_DIALECT: Dialect = {
  param: (n) => `$${n}`,
  tag: (p) => `tags->>${p}`,
  tagParam: (name) => name,
  num: (expr) => `coalesce(${expr}, 0)::float8`,
  text: (expr) => `(${expr})::text`,
  eachGroup: (column) => `LEFT JOIN LATERAL (SELECT DISTINCT e.value FROM jsonb_array_elements_text(${column}) AS e(value)) AS g(value) ON true`,
};

// Any constant shared by every Tollgate process: serializes concurrent migrations.
const MIGRATION_LOCK = 0x746f6c6c;

const PG_TYPES: Record<string, string> = {
  ts: 'bigint',
  key_groups: 'jsonb',
  stream: 'boolean',
  tags: 'jsonb',
  status: 'integer',
  limits: 'jsonb',
  shadow_blocked: 'jsonb',
  input_tokens: 'bigint',
  output_tokens: 'bigint',
  cached_input_tokens: 'bigint',
  cache_write_input_tokens: 'bigint',
  cache_write_1h_input_tokens: 'bigint',
  audio_input_tokens: 'bigint',
  audio_output_tokens: 'bigint',
  reserved_input: 'bigint',
  reserved_output: 'bigint',
  cost_usd: 'double precision',
  input_cost_usd: 'double precision',
  tool_fees_usd: 'double precision',
  latency_ms: 'double precision',
  upstream_latency_ms: 'double precision',
};

// One statement for any batch size: the batch travels as one JSON parameter and is unpacked server-side.
const INSERT_SQL =
  `INSERT INTO ${TABLE} (${COLUMN_NAMES.join(', ')}) ` +
  `SELECT ${COLUMN_NAMES.join(', ')} FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMN_NAMES.map((c) => `${c} ${PG_TYPES[c] ?? 'text'}`).join(', ')}) ` +
  'ON CONFLICT (ts, request_id) DO NOTHING';

const INSERT_KEY_PG = postgresPlaceholders(INSERT_KEY_SQL);
const REPLACE_KEY_PG = postgresPlaceholders(REPLACE_KEY_SQL);

export class PostgresLedger implements Ledger, KeyTable {
  readonly kind = 'postgres';
  schemaAhead?: SchemaAhead;
  private readonly sql: postgres.Sql;
  /**
   * The long reads (sums, events, rows), off the event loop, each thread on a connection of its own. Two:
   * a thread reads one query at a time, and a dashboard asked during a rebuild's read of 10 s would wait
   * for all of it (each thread starts at its first read, so the second only when two reads overlap).
   */
  private readonly readers: PostgresReaderThread[];

  constructor(
    url: string,
    private readonly opts: { readonly?: boolean } = {},
  ) {
    const { url: driver, ssl } = withCertificateFiles(driverUrl(url));
    this.sql = postgres(driver, { max: 4, onnotice: () => {}, connect_timeout: 10, ...(ssl ? { ssl } : {}) });
    this.readers = [new PostgresReaderThread(driver, ssl), new PostgresReaderThread(driver, ssl)];
  }

  async init(): Promise<void> {
    // Reports read the ledger as it is: no DDL, so a read-only reporting role can run them.
    // Best effort: a reporting role may be granted the ledger table alone.
    const version = await this.sql
      .unsafe(`SELECT max(version) AS v FROM ${VERSION_TABLE}`)
      .then(([row]) => Number(row?.v ?? 0))
      .catch(() => 0);
    if (this.opts.readonly) {
      checkReadableVersion(version, POSTGRES_MIGRATIONS.length);
      return;
    }
    if (version > POSTGRES_MIGRATIONS.length) this.schemaAhead = { version, known: POSTGRES_MIGRATIONS.length };
    // Up to date: no DDL and no lock. Even `CREATE TABLE IF NOT EXISTS` needs CREATE on the schema, so a
    // role granted only the ledger's tables (its owner migrated them) could not start a gateway.
    if (version >= POSTGRES_MIGRATIONS.length) return;
    await inTransaction(this.sql, async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER NOT NULL)`);
      const [row] = await tx.unsafe(`SELECT max(version) AS v FROM ${VERSION_TABLE}`);
      const current = Number(row?.v ?? 0);
      for (let v = current; v < POSTGRES_MIGRATIONS.length; v++) {
        for (const stmt of POSTGRES_MIGRATIONS[v]) await tx.unsafe(stmt);
        await tx.unsafe(`INSERT INTO ${VERSION_TABLE} (version) VALUES ($1)`, [v + 1]);
      }
    }).catch((err: unknown) => {
      throw migrationRefused(err, version);
    });
  }

  /** Whether the ledger table is there (visible on the search path); a read-only open creates nothing. */
  async hasLedgerTable(): Promise<boolean> {
    const [row] = await this.sql.unsafe('SELECT to_regclass($1) IS NOT NULL AS present', [TABLE]);
    return row.present === true;
  }

  async append(rows: LedgerRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    const records = rows.map((row) => {
      const o: Record<string, unknown> = {};
      for (const [col, field] of COLUMNS) o[col] = row[field];
      return o;
    });
    await this.sql.unsafe(INSERT_SQL, [records as unknown as postgres.JSONValue]);
  }

  refusesRow(err: unknown): boolean {
    // SQLSTATE classes 22 (data exception: a NUL or a lone surrogate in text, a number out of range) and 23
    // (a constraint): the rows, not the connection. A duplicate is no error here (inserts skip it).
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
  }

  async recordConversation(id: string, owner: ObjectOwner, atMs: number): Promise<void> {
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    await this.sql.unsafe(`INSERT INTO ${CONVERSATIONS_TABLE} (id, ts, organization, project, provider) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, [
      id,
      atMs,
      owner.organization,
      owner.project ?? null,
      owner.provider,
    ]);
  }

  get keys(): KeyTable {
    return this;
  }

  async listKeys(): Promise<ManagedKey[]> {
    return ((await this.sql.unsafe(LIST_KEYS_SQL)) as unknown as KeyRow[]).map(toManagedKey);
  }

  async insertKey(key: ManagedKey): Promise<boolean> {
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    return (await this.sql.unsafe(INSERT_KEY_PG, insertParams(key))).count === 1;
  }

  async replaceKey(key: ManagedKey, expectedUpdatedAt: number): Promise<boolean> {
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    return (await this.sql.unsafe(REPLACE_KEY_PG, replaceParams(key, expectedUpdatedAt))).count === 1;
  }

  async conversationOwner(id: string): Promise<ObjectOwner | undefined> {
    const [row] = await this.sql.unsafe(`SELECT organization, project, provider FROM ${CONVERSATIONS_TABLE} WHERE id = $1`, [id]);
    return row && toObjectOwner(row as unknown as OwnerRow);
  }

  async responseOwner(id: string, sinceMs: number): Promise<ObjectOwner | undefined> {
    const [row] = await this.sql.unsafe(RESPONSE_OWNER_SQL.replace('?', '$1').replace('?', '$2'), [id, sinceMs]);
    return row && toObjectOwner(row as unknown as OwnerRow);
  }

  async summarize(q: UsageQuery): Promise<UsageGroup[]> {
    const groups: UsageGroup[] = [];
    await this.eachGroup(q, (g) => groups.push(g));
    return groups;
  }

  async eachGroup(q: UsageQuery, visit: (g: UsageGroup) => void): Promise<void> {
    const { sql, params } = usageSql(q, POSTGRES_DIALECT);
    await this.eachRow(sql, params, (r) => {
      const g = toUsageGroup(r, q.groupBy);
      if (g.calls > 0) visit(g);
    });
  }

  async events(sinceMs: number, organization?: string): Promise<UsageEvent[]> {
    const events: UsageEvent[] = [];
    await this.eachEvent(sinceMs, organization, (e) => events.push(e));
    return events;
  }

  async eachEvent(sinceMs: number, organization: string | undefined, visit: (e: UsageEvent) => void): Promise<void> {
    const { sql, params } = eventsQuery(sinceMs, organization);
    await this.eachRow(sql, params, (r) => visit(toEvent(r)));
  }

  /** `sql`'s rows, one at a time, as a reader thread hands them over: the one with the fewest reads pending. */
  private eachRow(sql: string, params: unknown[], visit: (row: Record<string, unknown>) => void): Promise<void> {
    const reader = this.readers.reduce((a, b) => (b.pending < a.pending ? b : a));
    return reader.each(sql, params, (rows) => rows.forEach(visit));
  }

  async rows(q: RowQuery): Promise<LedgerRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.sinceMs !== undefined) where.push(`ts >= $${params.push(q.sinceMs)}`);
    if (q.untilMs !== undefined) where.push(`ts < $${params.push(q.untilMs)}`);
    if (q.requestIds) where.push(`request_id = ANY($${params.push(q.requestIds)}::text[])`);
    const sql =
      `SELECT * FROM ${TABLE}` + (where.length ? ` WHERE ${where.join(' AND ')}` : '') + ' ORDER BY ts, id' + (q.limit ? ` LIMIT ${Math.floor(q.limit)}` : '');
    // Decoded a chunk at a time, as they arrive: 60,000 rows decoded in one go held the event loop 0.44 s.
    const rows: LedgerRow[] = [];
    await this.eachRow(sql, params, (r) => rows.push(decodeRow(r)));
    return rows;
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((reader) => reader.close()));
    await this.sql.end({ timeout: 5 });
  }
}

/**
 * A migration the role may not run (SQLSTATE 42501) says what to do about it; "permission denied for
 * schema public" alone does not say that the gateway was creating its tables. Other errors pass as they are.
 */
function migrationRefused(err: unknown, version: number): unknown {
  if ((err as { code?: unknown }).code !== '42501') return err;
  const target = POSTGRES_MIGRATIONS.length;
  const state = version === 0 ? 'has no ledger yet' : `holds the ledger at schema version ${version}`;
  return Object.assign(
    new Error(
      `this role may not create the ledger's tables (${(err as Error).message}): the database ${state} and this tollgate needs version ${target}; ` +
        'grant the role CREATE on the schema, or start this tollgate once with a role that may (the owner of the tables), after which a role granted SELECT and INSERT on them and USAGE on their sequence is enough',
    ),
    { code: '42501' },
  );
}

function eventsQuery(sinceMs: number, organization: string | undefined): { sql: string; params: Array<number | string> } {
  const params: Array<number | string> = [Math.floor(sinceMs)];
  const sql =
    `SELECT ${EVENT_COLUMNS} FROM ${TABLE}
     WHERE ts >= $1 AND decision IN ('admitted', 'clamped', 'failed')` +
    (organization === undefined ? '' : ` AND organization = $${params.push(organization)}`) +
    ' ORDER BY ts, id';
  return { sql, params };
}
