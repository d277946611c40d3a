// The embedded ledger: one SQLite file (better-sqlite3), the default for a single gateway process.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Ledger, LedgerRow, ObjectOwner, RowQuery, SchemaAhead, UsageEvent, UsageGroup, UsageQuery } from './ledger.js';
import { RESPONSE_OWNER_SQL, toObjectOwner, type OwnerRow } from './owner-row.js';
import { decodeRow, EVENT_COLUMNS, TABLE, toEvent, toUsageGroup, type Dialect } from './ledger-sql.js';
import { checkReadableVersion, CONVERSATIONS_TABLE, SQLITE_MIGRATIONS, VERSION_TABLE } from './migrations.js';
import { BATCH_WRITER_BODY, BATCH_WRITER_SCHEMA, RowPacker, type BatchWriterSchema } from './sqlite-rows.js';
import { SqliteWriterThread } from './sqlite-writer-thread.js';
import type { KeyTable } from '../auth/key-table.js';
import type { ManagedKey } from '../auth/managed-key.js';
import { INSERT_KEY_SQL, insertParams, LIST_KEYS_SQL, REPLACE_KEY_SQL, replaceParams, toManagedKey, type KeyRow } from './key-table-sql.js';
import { SqliteReaderThread } from './sqlite-reader-thread.js';
import { sqliteUsageSql } from './sqlite-usage-sql.js';
import { WAL_SWITCH_BODY, WAL_SWITCH_TIMEOUT_MS } from './sqlite-wal.js';

const dialect: Dialect = {
  param: () => '?',
  tag: (p) => `json_extract(tags, ${p})`,
  // JSON path with the key quoted, so tag names with dots are read as one key.
  tagParam: (name) => `$."${name}"`,
  num: (expr) => `coalesce(${expr}, 0)`,
  text: (expr) => `CAST(${expr} AS TEXT)`,
  eachGroup: (column) => `LEFT JOIN json_each(${column}) g ON NOT EXISTS (SELECT 1 FROM json_each(${column}) e WHERE e.id < g.id AND e.value = g.value)`,
};

const RECORD_CONVERSATION_SQL = `INSERT INTO ${CONVERSATIONS_TABLE} (id, ts, organization, project, provider) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`;

export interface SqliteLedgerOptions {
  /** fsync on every commit (strict durability survives power loss, not only a killed process). */
  synchronousFull?: boolean;
  /** Reports: open an existing file read-only; no migrations, no writer thread, no writes. */
  readonly?: boolean;
}

export class SqliteLedger implements Ledger, KeyTable {
  readonly kind = 'sqlite';
  schemaAhead?: SchemaAhead;
  private readonly db: Database.Database;
  private writeHere?: (batch: unknown[][]) => void;
  private writer?: SqliteWriterThread;
  /** A gateway's long reads (sums, events, rows), off the event loop; reports and `:memory:` read here. */
  private reader?: SqliteReaderThread;
  private readonly packer = new RowPacker();

  constructor(
    readonly path: string,
    private readonly opts: SqliteLedgerOptions = {},
  ) {
    if (opts.readonly) {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      return;
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
  }

  async init(): Promise<void> {
    const db = this.db;
    if (this.opts.readonly) {
      // A gateway may be writing the file at this moment: wait for its commit rather than fail.
      db.pragma('busy_timeout = 5000');
      const hasVersions = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = ?`).get(VERSION_TABLE) !== undefined;
      if (hasVersions) {
        const row = db.prepare(`SELECT max(version) AS v FROM ${VERSION_TABLE}`).get() as { v: number | null };
        checkReadableVersion(row.v ?? 0, SQLITE_MIGRATIONS.length);
      }
      return;
    }
    // WAL: readers (reports, audits) never block the writer. A commit is in the OS's hands once the
    // call returns, so a killed process loses nothing that was committed; FULL also survives power loss.
    const switchToWal = new Function('db', 'timeoutMs', WAL_SWITCH_BODY) as (db: Database.Database, timeoutMs: number) => void;
    switchToWal(db, WAL_SWITCH_TIMEOUT_MS);
    db.pragma(`synchronous = ${this.opts.synchronousFull ? 'FULL' : 'NORMAL'}`);
    // Several processes (a gateway and `tollgate usage`) may use the file at once.
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER NOT NULL)`);
    const migrate = db.transaction(() => {
      const row = db.prepare(`SELECT max(version) AS v FROM ${VERSION_TABLE}`).get() as { v: number | null };
      const current = row.v ?? 0;
      if (current > SQLITE_MIGRATIONS.length) this.schemaAhead = { version: current, known: SQLITE_MIGRATIONS.length };
      for (let v = current; v < SQLITE_MIGRATIONS.length; v++) {
        for (const stmt of SQLITE_MIGRATIONS[v]) db.exec(stmt);
        db.prepare(`INSERT INTO ${VERSION_TABLE} (version) VALUES (?)`).run(v + 1);
      }
    });
    // IMMEDIATE takes the write lock first, so two processes starting together migrate one after the other.
    migrate.immediate();
    // An in-memory database exists only on this connection, so it is written here, by the same code.
    if (this.path === ':memory:') {
      const makeWriter = new Function('db', 'schema', BATCH_WRITER_BODY) as (db: Database.Database, schema: BatchWriterSchema) => (batch: unknown[][]) => void;
      this.writeHere = makeWriter(db, BATCH_WRITER_SCHEMA);
    } else {
      this.writer = new SqliteWriterThread(this.path, this.opts.synchronousFull ?? false);
      this.reader = new SqliteReaderThread(this.path);
    }
  }

  /** Whether the file holds the ledger (a read-only open creates nothing, so it may not). */
  async hasLedgerTable(): Promise<boolean> {
    return this.db.prepare(`SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')`).get(TABLE) !== undefined;
  }

  async append(rows: LedgerRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    const contexts = new Set<string>();
    const packed = rows.map((r) => this.packer.pack(r, contexts));
    return this.appendPacked(`[${packed.join(',')},[${[...contexts].join(',')}]]`);
  }

  packRow(row: LedgerRow, shared: Set<string>): string {
    return this.packer.pack(row, shared);
  }

  async appendPacked(json: string): Promise<void> {
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    if (this.writer) return this.writer.write(json);
    this.writeHere!(JSON.parse(json) as unknown[][]);
  }

  async recordConversation(id: string, owner: ObjectOwner, atMs: number): Promise<void> {
    // On the writer thread: here, busy_timeout would hold the event loop until a batch's commit ended.
    await this.runWrite(RECORD_CONVERSATION_SQL, [id, atMs, owner.organization, owner.project ?? null, owner.provider]);
  }

  get keys(): KeyTable {
    return this;
  }

  async listKeys(): Promise<ManagedKey[]> {
    return (this.db.prepare(LIST_KEYS_SQL).all() as KeyRow[]).map(toManagedKey);
  }

  async insertKey(key: ManagedKey): Promise<boolean> {
    return (await this.runWrite(INSERT_KEY_SQL, insertParams(key))) === 1;
  }

  async replaceKey(key: ManagedKey, expectedUpdatedAt: number): Promise<boolean> {
    return (await this.runWrite(REPLACE_KEY_SQL, replaceParams(key, expectedUpdatedAt))) === 1;
  }

  /** One write statement, on the writer thread when there is one; resolves with the rows it changed. */
  private async runWrite(sql: string, params: Array<string | number | null>): Promise<number> {
    if (this.opts.readonly) throw new Error('this ledger was opened read-only');
    if (this.writer) return this.writer.run(sql, params);
    return this.db.prepare(sql).run(...params).changes;
  }

  async conversationOwner(id: string): Promise<ObjectOwner | undefined> {
    const row = this.db.prepare(`SELECT organization, project, provider FROM ${CONVERSATIONS_TABLE} WHERE id = ?`).get(id) as OwnerRow | undefined;
    return row && toObjectOwner(row);
  }

  async responseOwner(id: string, sinceMs: number): Promise<ObjectOwner | undefined> {
    const row = this.db.prepare(RESPONSE_OWNER_SQL).get(id, sinceMs) as OwnerRow | undefined;
    return row && toObjectOwner(row);
  }

  async summarize(q: UsageQuery): Promise<UsageGroup[]> {
    const groups: UsageGroup[] = [];
    await this.eachGroup(q, (g) => groups.push(g));
    return groups;
  }

  async eachGroup(q: UsageQuery, visit: (g: UsageGroup) => void): Promise<void> {
    const { sql, params } = sqliteUsageSql(q, dialect);
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
    const params: unknown[] = [Math.floor(sinceMs)];
    if (organization !== undefined) params.push(organization);
    const sql = `SELECT ${EVENT_COLUMNS} FROM ${TABLE}
       WHERE ts >= ? AND decision IN ('admitted', 'clamped', 'failed')${organization === undefined ? '' : ' AND organization = ?'} ORDER BY ts, id`;
    await this.eachRow(sql, params, (r) => visit(toEvent(r)));
  }

  /** `sql`'s rows, one at a time: on the reader thread when there is one, else here. */
  private async eachRow(sql: string, params: unknown[], visit: (row: Record<string, unknown>) => void): Promise<void> {
    if (this.reader) return this.reader.each(sql, params, (rows) => rows.forEach(visit));
    for (const r of this.db.prepare(sql).iterate(...params) as IterableIterator<Record<string, unknown>>) visit(r);
  }

  async rows(q: RowQuery): Promise<LedgerRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.sinceMs !== undefined) {
      where.push('ts >= ?');
      params.push(q.sinceMs);
    }
    if (q.untilMs !== undefined) {
      where.push('ts < ?');
      params.push(q.untilMs);
    }
    if (q.requestIds) {
      where.push(`request_id IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(q.requestIds));
    }
    const sql =
      `SELECT * FROM ${TABLE}` + (where.length ? ` WHERE ${where.join(' AND ')}` : '') + ' ORDER BY ts, id' + (q.limit ? ` LIMIT ${Math.floor(q.limit)}` : '');
    const rows: LedgerRow[] = [];
    await this.eachRow(sql, params, (r) => rows.push(decodeRow(r)));
    return rows;
  }

  async close(): Promise<void> {
    await this.writer?.close();
    await this.reader?.close();
    if (this.db.open) this.db.close();
  }
}
