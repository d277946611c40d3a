// The same ledger rows must give the same report, to the nano-dollar, from SQLite and from
// PostgreSQL. Each database summed the rows' float costs its own way (SQLite compensates the rounding
// error, PostgreSQL adds naively), so a sum that fell next to a half nano-dollar printed one nano-dollar
// apart: costs of cheap models are often multiples of half a nano-dollar (a cached gpt-4o-mini token
// served at flex is 37.5 n$), and their sums land on exactly those ties.
import { describe, expect, it } from 'vitest';
import type { Ledger, LedgerRow } from '../src/ledger/ledger.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { usageReport, type ReportDimension } from '../src/ledger/usage-report.js';
import { formatReport } from '../src/ledger/report-format.js';
import { mulberry32 } from '../src/util/prng.js';
import { postgresPlace, sqlitePlace } from './helpers/ledgers.js';
import { sampleRow, T0 } from './helpers/sample-row.js';

// Costs seen on real calls: flex-served cached tokens (37.5 n$, 187.5 n$), sub-nano-dollar embeddings,
// and ordinary ones whose float sums carry rounding error (0.1 + 0.2).
const COSTS = [37.5e-9, 187.5e-9, 2.5e-9, 1e-10, 0.1, 0.2, 0.3, 0.000_517_5];

function rows(): LedgerRow[] {
  const random = mulberry32(20261205);
  return Array.from({ length: 20_000 }, (_, i) =>
    sampleRow({
      ts: T0 + i * 1000,
      requestId: `agree-${i}`,
      project: ['web', 'batch', 'etl'][i % 3],
      user: `u${Math.floor(random() * 40)}`,
      costUsd: COSTS[Math.floor(random() * COSTS.length)] * (1 + Math.floor(random() * 3)),
    }),
  );
}

const GROUPINGS: ReportDimension[][] = [[], ['project'], ['user'], ['project', 'user'], ['day', 'project']];

async function reports(ledger: Ledger): Promise<string[]> {
  const out: string[] = [];
  for (const by of GROUPINGS) {
    const report = await usageReport(ledger, { sinceMs: T0, untilMs: T0 + 86_400_000, by, timezone: 'Asia/Kolkata' });
    out.push(formatReport(report, 'csv'));
  }
  return out;
}

describe('SQLite and PostgreSQL ledgers', () => {
  it('print the same costs for the same rows, whatever the grouping', async () => {
    const seeded = rows();
    const printed: string[][] = [];
    for (const place of [sqlitePlace(), await postgresPlace()]) {
      const ledger = await openLedger(place.url);
      try {
        for (let i = 0; i < seeded.length; i += 2_000) await ledger.append(seeded.slice(i, i + 2_000));
        printed.push(await reports(ledger));
      } finally {
        await ledger.close();
        await place.drop();
      }
    }
    const [sqlite, postgres] = printed;
    GROUPINGS.forEach((by, i) => expect(postgres[i], `--by ${by.join(',') || '(none)'}`).toBe(sqlite[i]));
  }, 120_000);
});
