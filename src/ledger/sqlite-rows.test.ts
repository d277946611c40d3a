// The SQLite ledger's split rows: a version-1 file migrates with nothing lost, contexts are stored once
// (also those the migration wrote), and a failed batch leaves no row pointing at a vanished context.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqlitePlace, type LedgerPlace } from '../../test/helpers/ledgers.js';
import { sampleRow, T0 } from '../../test/helpers/sample-row.js';
import { columnsMissingAt } from '../../test/helpers/ledger-at-version.js';
import type { LedgerRow } from './ledger.js';
import { COLUMN_NAMES, encodeRow, TABLE } from './ledger-sql.js';
import { SQLITE_MIGRATIONS, VERSION_TABLE } from './migrations.js';
import { openLedger } from './open-ledger.js';
import { CALL_COLUMNS, CONTEXTS_TABLE, packedRowMatchesColumns, RowPacker } from './sqlite-rows.js';

const places: LedgerPlace[] = [];
afterEach(async () => {
  for (const p of places.splice(0)) await p.drop();
});

function newPlace(): { url: string; file: string } {
  const place = sqlitePlace();
  places.push(place);
  return { url: place.url, file: place.url.slice('sqlite:'.length) };
}

/** A ledger file as version 1 wrote it: one wide table. */
function writeVersion1(file: string, rows: LedgerRow[]): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE ${VERSION_TABLE} (version INTEGER NOT NULL)`);
  for (const stmt of SQLITE_MIGRATIONS[0]) db.exec(stmt);
  db.prepare(`INSERT INTO ${VERSION_TABLE} (version) VALUES (1)`).run();
  // Version 1 had every column but those added since (input_cost_usd in version 3, ...).
  const missing = columnsMissingAt('sqlite', 1);
  const kept = COLUMN_NAMES.map((c, i) => [c, i] as const).filter(([c]) => !missing.includes(c));
  const insert = db.prepare(`INSERT INTO ${TABLE} (${kept.map(([c]) => c).join(', ')}) VALUES (${kept.map(() => '?').join(', ')})`);
  for (const row of rows) {
    const values = encodeRow(row, true);
    insert.run(kept.map(([, i]) => values[i]));
  }
  db.close();
}

function contextCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${CONTEXTS_TABLE}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

// Values a JSON writer might spell differently: quotes, backslashes, non-ASCII, a control character.
const ODD = sampleRow({ organization: 'Zürich "labs"', project: null, user: 'ann\\e\tx', groups: [], limits: ['org:Zürich "labs":daily'] });

describe('SQLite ledger rows', () => {
  it('packs every column, in the order the writer binds them', () => {
    expect(packedRowMatchesColumns(sampleRow())).toBe(true);
    expect(packedRowMatchesColumns(ODD)).toBe(true);
  });

  it('numbers contexts: the same number for the same eleven values, a new one when any differs', () => {
    const packer = new RowPacker();
    // A row names its context by number; the text of `[n, ...values]` goes to the batch's set.
    const contextOf = (row: LedgerRow): unknown[] => {
      const shared = new Set<string>();
      const [n] = JSON.parse(packer.pack(row, shared)) as unknown[];
      const contexts = [...shared].map((t) => JSON.parse(t) as unknown[]);
      expect(contexts.map((c) => c[0])).toEqual([n]);
      return contexts[0];
    };
    const base = sampleRow();
    const [n, ...values] = contextOf(base);
    // A copy with fresh (equal) arrays is still the same context.
    expect(contextOf(sampleRow({ requestId: 'x', ts: base.ts + 9, groups: [...base.groups], limits: [...base.limits] }))).toEqual([n, ...values]);
    const variants: Partial<LedgerRow>[] = [
      { organization: 'other' }, { project: null }, { user: 'bob' }, { keyId: 'k2' }, { groups: [] }, { route: 'r2' },
      { modelId: 'm2' }, { provider: 'p2' }, { model: 'm3' }, { endpoint: 'embeddings' }, { limits: [] },
    ];
    const numbers = variants.map((v) => contextOf(sampleRow(v))[0]);
    expect(new Set([n, ...numbers]).size).toBe(variants.length + 1);
    // And each of them is recognised the second time.
    expect(variants.map((v) => contextOf(sampleRow(v))[0])).toEqual(numbers);
  });

  it('migrates a version-1 file without losing a row or a column, and reuses its contexts', async () => {
    const { url, file } = newPlace();
    const old = [sampleRow({ requestId: 'a' }), sampleRow({ requestId: 'b', ts: sampleRow().ts + 1, inputTokens: 7 }), { ...ODD, requestId: 'c', ts: ODD.ts + 2 }];
    writeVersion1(file, old);

    const ledger = await openLedger(url);
    try {
      // Through versions 3 and 4 too: rows from before them have no input cost, no cache writes and no tier.
      const migrated = old.map((r) => ({ ...r, inputCostUsd: null, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null, providerResponseId: null }));
      expect(await ledger.rows({})).toEqual(migrated);
      expect(contextCount(file)).toBe(2);
      // New calls in the same two contexts add rows, not contexts: the writer's context keys match the migration's.
      const fresh = [sampleRow({ requestId: 'd', ts: ODD.ts + 3 }), { ...ODD, requestId: 'e', ts: ODD.ts + 4 }];
      await ledger.append(fresh);
      expect(await ledger.rows({})).toEqual([...migrated, ...fresh]);
      expect(contextCount(file)).toBe(2);
      await ledger.append([sampleRow({ requestId: 'f', endpoint: 'embeddings' })]);
      expect(contextCount(file)).toBe(3);
    } finally {
      await ledger.close();
    }
  });

  it('a failed batch takes its new contexts with it, and the next batch writes them again', async () => {
    const { url } = newPlace();
    const ledger = await openLedger(url);
    try {
      const fresh = sampleRow({ requestId: 'g', organization: 'new-org' });
      const broken = { ...sampleRow({ requestId: 'h' }), fallback: { not: 'bindable' } } as unknown as LedgerRow;
      await expect(ledger.append([fresh, broken])).rejects.toThrow(/bind/);
      expect(await ledger.rows({})).toEqual([]);
      await ledger.append([fresh]);
      expect(await ledger.rows({})).toEqual([fresh]);
    } finally {
      await ledger.close();
    }
  });

  it('refuses a batch with a value SQLite cannot bind or a row of the wrong width, though values are bound as arguments', async () => {
    const ledger = await openLedger('sqlite::memory:');
    try {
      // As arguments, better-sqlite3 would flatten a one-element array into a plain value.
      const listed = { ...sampleRow({ requestId: 'q' }), fallback: ['cache'] } as unknown as LedgerRow;
      await expect(ledger.append([sampleRow({ requestId: 'r' }), listed])).rejects.toThrow(/bind/);
      const shared = new Set<string>();
      const row = ledger.packRow!(sampleRow({ requestId: 's' }), shared);
      await expect(ledger.appendPacked!(`[${row.slice(0, -1)},7],[${[...shared].join(',')}]]`)).rejects.toThrow(`${CALL_COLUMNS.length + 2} values, not ${CALL_COLUMNS.length + 1}`);
      expect(await ledger.rows({})).toEqual([]);
    } finally {
      await ledger.close();
    }
  });

  it('every batch carries its own contexts: one whose earlier batch was dropped still writes', async () => {
    const { url, file } = newPlace();
    const ledger = await openLedger(url);
    try {
      const [a, b, c] = [sampleRow({ requestId: 'k' }), sampleRow({ requestId: 'l', ts: T0 + 1 }), { ...ODD, requestId: 'm', ts: T0 + 2 }];
      // a's batch never reaches the writer (dropped from a full buffer); b names the same context.
      ledger.packRow!(a, new Set());
      const shared = new Set<string>();
      const rows = [ledger.packRow!(b, shared), ledger.packRow!(c, shared), ledger.packRow!({ ...c, requestId: 'n', ts: T0 + 3 }, shared)];
      expect(shared.size).toBe(2);
      await ledger.appendPacked!(`[${rows.join(',')},[${[...shared].join(',')}]]`);
      expect((await ledger.rows({})).map((r) => r.requestId)).toEqual(['l', 'm', 'n']);
      expect(await ledger.rows({ requestIds: ['m'] })).toEqual([c]);
      expect(contextCount(file)).toBe(2);
      // A batch naming a context it does not carry is refused whole (a packing bug, not a lost context).
      const orphan = ledger.packRow!(sampleRow({ requestId: 'o', user: 'zed' }), new Set());
      await expect(ledger.appendPacked!(`[${ledger.packRow!(sampleRow({ requestId: 'p' }), new Set())},${orphan},[]]`)).rejects.toThrow(/without its values/);
      expect(await ledger.rows({})).toHaveLength(3);
    } finally {
      await ledger.close();
    }
  });

  it('an in-memory ledger writes on its own connection through the same code', async () => {
    const ledger = await openLedger('sqlite::memory:');
    try {
      const rows = [sampleRow({ requestId: 'i' }), { ...ODD, requestId: 'j', ts: ODD.ts + 5 }];
      await ledger.append(rows);
      await ledger.append(rows);
      expect(await ledger.rows({})).toEqual(rows);
    } finally {
      await ledger.close();
    }
  });
});
