// The SQLite writer's batches: rows go sixteen to a statement, the rest one by one. Whatever the batch's
// size and its rows' rarely used columns, every row lands once and whole, in the batch's order. And a
// packed batch from another process (a spill file replayed at start) numbers its contexts its own way:
// its numbers must not be taken for this process's (they were: its rows, and this process's after it,
// were written under the other's organization, project, user, key, route and model).
import { afterEach, describe, expect, it } from 'vitest';
import { sqlitePlace, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';
import type { Ledger, LedgerRow } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { RowPacker } from '../src/ledger/sqlite-rows.js';

const places: LedgerPlace[] = [];
const ledgers: Ledger[] = [];
afterEach(async () => {
  for (const l of ledgers.splice(0)) await l.close();
  for (const p of places.splice(0)) await p.drop();
});

async function fileLedger(): Promise<Ledger> {
  const place = sqlitePlace();
  places.push(place);
  const ledger = await openLedger(place.url);
  ledgers.push(ledger);
  return ledger;
}

/** A usual row (streamed or not): nothing blocked, no cache writes, fees, tier, response id, region or audio. */
function usualRow(i: number, over: Partial<LedgerRow> = {}): LedgerRow {
  return sampleRow({
    ts: T0 + i, requestId: `u${i}`, stream: i % 3 === 0, streamEnd: i % 3 === 0 ? 'complete' : null, shadowBlocked: [], cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0,
    serviceTier: null, providerResponseId: null, latencyMs: 1 + i / 1000, ...over,
  });
}

// Each rarely used column on its own, away from its usual value.
const UNUSUAL: Partial<LedgerRow>[] = [
  { blockedBy: 'org:acme:daily', decision: 'blocked', status: 429 }, { shadowBlocked: ['user:alice:daily'] },
  { fallback: 'cache' }, { cacheWriteInputTokens: 5 }, { cacheWrite1hInputTokens: 3, cacheWriteInputTokens: 3 }, { toolFeesUsd: 0.01 },
  { serviceTier: 'flex' }, { providerResponseId: 'resp_1' }, { inferenceGeo: 'us' }, { audioInputTokens: 4 }, { audioOutputTokens: 6 },
];

/** `n` rows, the unusual ones where `unusual(i)` says, cycling through UNUSUAL. */
function mixedRows(first: number, n: number, unusual: (i: number) => boolean): LedgerRow[] {
  let u = 0;
  return Array.from({ length: n }, (_, k) => {
    const i = first + k;
    return unusual(i) ? usualRow(i, { ...UNUSUAL[u++ % UNUSUAL.length], requestId: `x${i}` }) : usualRow(i);
  });
}

describe('SQLite ledger batches', () => {
  it('writes every row of batches of odd sizes and mixes exactly once, and whole', async () => {
    const ledger = await fileLedger();
    const patterns: Array<[number, (i: number) => boolean]> = [
      [1, () => false], [1, () => true], [15, () => false], [16, () => false], [17, () => false], [33, () => false],
      [16, () => true], [37, (i) => i % 2 === 0], [50, (i) => i % 7 === 3], [41, (i) => i % 20 < 3], [24, (i) => i % 16 === 15],
    ];
    const all: LedgerRow[] = [];
    for (const [n, unusual] of patterns) {
      const batch = mixedRows(all.length, n, unusual);
      all.push(...batch);
      await ledger.append(batch);
    }
    // `rows` orders by ts, then id: the ts are distinct, so this checks values; ids are checked next.
    expect(await ledger.rows({})).toEqual(all);
    // A retried batch (same rows again, usual and unusual rows) adds nothing.
    await ledger.append(all.slice(all.length - 50));
    expect(await ledger.rows({})).toHaveLength(all.length);
  });

  it('keeps the order a batch lists its rows in', async () => {
    const ledger = await fileLedger();
    // Equal times: only the insertion order (the row id) orders them.
    const batch = mixedRows(0, 40, (i) => i % 5 === 0 || i % 17 === 1).map((r) => ({ ...r, ts: T0 }));
    await ledger.append(batch);
    expect((await ledger.rows({})).map((r) => r.requestId)).toEqual(batch.map((r) => r.requestId));
  });

  it('a packed batch from an earlier process does not lend its context numbers to this one', async () => {
    for (const ledger of [await fileLedger(), await openLedger('sqlite::memory:')]) {
      if (!ledgers.includes(ledger)) ledgers.push(ledger);
      // A spill file's batch: the earlier process's packer numbered its first context 1, as this one does.
      const earlier = new RowPacker();
      const shared = new Set<string>();
      const spilled = usualRow(0, { organization: 'earlier-org', user: 'bob' });
      await ledger.appendPacked!(`[${earlier.pack(spilled, shared)},[${[...shared].join(',')}]]`);
      const mine = [usualRow(1), usualRow(2, { organization: 'other-org' })];
      await ledger.append(mine);
      // Again, after this process's own numbers are known to the writer.
      const later = new RowPacker();
      const again = new Set<string>();
      const spilledLater = usualRow(3, { organization: 'third-org' });
      await ledger.appendPacked!(`[${later.pack(spilledLater, again)},[${[...again].join(',')}]]`);
      const after = [usualRow(4)];
      await ledger.append(after);
      expect(await ledger.rows({})).toEqual([spilled, ...mine, spilledLater, ...after]);
    }
  });
});
