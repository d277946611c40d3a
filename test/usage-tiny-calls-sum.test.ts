// A FinOps lead adds up a month of tiny calls and expects the provider's invoice: 200,000 calls of
// $0.0000025 each (one gpt-4o input token) must report $0.50, not a figure that drifted in the sums
// (costs stored rounded per call, single-precision columns, or float sums printed to the nano-dollar:
// their plain float sum is 0.5000000000011587, in PostgreSQL, SQLite and JavaScript alike).
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open-ledger.js';
import { formatReport } from '../src/ledger/report-format.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { LEDGER_KINDS, type LedgerPlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';

const CALLS = 200_000;
const CALL_USD = 0.0000025;

/** Copies the ledger's only row CALLS - 1 times (one ms apart, new request ids), in the database itself. */
async function multiply(place: LedgerPlace): Promise<void> {
  const copies = CALLS - 1;
  if (place.kind === 'sqlite') {
    const db = new Database(place.url.slice('sqlite:'.length));
    try {
      const columns = (db.prepare(`SELECT name FROM pragma_table_info('tollgate_calls') WHERE name NOT IN ('id', 'ts', 'request_id')`).all() as Array<{ name: string }>).map((c) => c.name).join(', ');
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${copies})
         INSERT INTO tollgate_calls (ts, request_id, ${columns}) SELECT c.ts + n.i, c.request_id || '-' || n.i, ${columns} FROM tollgate_calls c, n`,
      ).run();
    } finally {
      db.close();
    }
    return;
  }
  const sql = postgres(place.url, { max: 1, onnotice: () => {} });
  try {
    const [{ list }] = await sql<Array<{ list: string }>>`SELECT string_agg(column_name, ', ') AS list FROM information_schema.columns WHERE table_name = 'tollgate_ledger' AND column_name NOT IN ('id', 'ts', 'request_id')`;
    await sql.unsafe(`INSERT INTO tollgate_ledger (ts, request_id, ${list}) SELECT l.ts + g, l.request_id || '-' || g, ${list} FROM tollgate_ledger l, generate_series(1, ${copies}) g`);
  } finally {
    await sql.end();
  }
}

describe.each(LEDGER_KINDS)('200,000 calls of 2.5 micro-dollars on $kind', ({ place: makePlace }) => {
  it('report $0.50, in CSV and JSON alike', async () => {
    const place = await makePlace();
    const ledger = await openLedger(place.url);
    try {
      await ledger.append([
        sampleRow({ ts: T0, model: 'gpt-4o', inputTokens: 1, outputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, cacheWrite1hInputTokens: 0, serviceTier: null, costUsd: CALL_USD, inputCostUsd: CALL_USD, toolFeesUsd: 0 }),
      ]);
      await multiply(place);
      // One query (they take seconds at this size): by local day and model, the days in Paris.
      const report = await usageReport(ledger, { sinceMs: T0, untilMs: T0 + CALLS, by: ['day', 'model'], timezone: 'Europe/Paris' });
      expect(report.totals.calls).toBe(CALLS);
      expect(report.totals.costUsd).toBe(0.5);
      expect(formatReport(report, 'csv').trim().split('\n').at(-1)).toBe(`TOTAL,,${CALLS},${CALLS},0,0,${CALLS},0,0,0,${CALLS},0,0.500000000`);
      expect(JSON.parse(formatReport(report, 'json')).totals.cost_usd).toBe(0.5);
    } finally {
      await ledger.close();
      await place.drop();
    }
  }, 120_000);
});
