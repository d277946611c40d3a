// `tollgate usage --by user,day` (or any dimension with day) over a large ledger. Days were made from
// 15-minute slices: the ledger returned one group per user and slice, and the report merged them into
// days in memory, so its memory grew with users x slices, not with the rows it prints. On a SQLite ledger
// of 500,000 calls by 3,000 users, `--by user,day` over 28 days took 511 MB and 6.7 s for 84,000 lines
// (`--by user` alone: 110 MB, 2.0 s); a month of a few million calls would not fit. Here: 40 users each
// calling every 15 minutes for three days in a zone 5:45 from UTC, read through a ledger that counts the
// groups it returns; the figures are checked against the rows.
import { describe, expect, it } from 'vitest';
import type { LedgerRow, UsageQuery } from '../src/ledger/ledger.js';
import { formatReport } from '../src/ledger/report-format.js';
import { usageReport } from '../src/ledger/usage-report.js';
import { LEDGER_KINDS } from './helpers/ledgers.js';
import { sampleRow } from './helpers/sample-row.js';
import { useLedger } from './helpers/use-ledger.js';

const TZ = 'Asia/Kathmandu';
// Local midnight of 1 December 2026 in Kathmandu (UTC+5:45).
const DEC_1 = Date.UTC(2026, 10, 30, 18, 15);
const SLICE = 15 * 60_000;
const USERS = 40;
const DAYS = 3;

function rows(): LedgerRow[] {
  const out: LedgerRow[] = [];
  for (let s = 0; s < (DAYS * 86_400_000) / SLICE; s++) {
    for (let u = 0; u < USERS; u++) {
      // Tokens vary with the user and the slice, so that a call put in the wrong day changes a figure.
      out.push(sampleRow({ ts: DEC_1 + s * SLICE + u * 1000, requestId: `c-${s}-${u}`, user: `user-${u}`, inputTokens: 10 + u, outputTokens: s % 7, costUsd: (10 + u + (s % 7)) * 1e-6, inputCostUsd: (10 + u) * 1e-6 }));
    }
  }
  return out;
}

describe.each(LEDGER_KINDS)('tollgate usage by user and day: $kind', ({ place: makePlace }) => {
  const all = rows();
  const { ledger } = useLedger({
    place: makePlace,
    seed: async (l) => {
      for (let i = 0; i < all.length; i += 2000) await l.append(all.slice(i, i + 2000));
    },
  });

  it('reads about as many groups from the ledger as it prints, with the right figures', async () => {
    let groupsRead = 0;
    const summarize = ledger().summarize.bind(ledger());
    ledger().summarize = async (q: UsageQuery) => {
      const groups = await summarize(q);
      groupsRead += groups.length;
      return groups;
    };
    try {
      // From the middle of the first day to the middle of the last: partial days at both ends.
      const sinceMs = DEC_1 + 12 * 3_600_000;
      const untilMs = DEC_1 + (DAYS - 1) * 86_400_000 + 6 * 3_600_000;
      const report = await usageReport(ledger(), { sinceMs, untilMs, by: ['user', 'day'], timezone: TZ });
      expect(report.rows).toHaveLength(USERS * DAYS);
      // The rows printed, and the period's 15-minute slices (to find the days with calls), whatever the
      // number of users. Before: one group per user and slice (40 x 168 = 6,720).
      expect(groupsRead).toBeLessThanOrEqual(report.rows.length + 96 * DAYS);

      const date = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
      const expected = new Map<string, { calls: number; tokens: number; cost: number }>();
      for (const r of all.filter((r) => r.ts >= sinceMs && r.ts < untilMs)) {
        const k = `${r.user}|${date.format(r.ts)}`;
        const e = expected.get(k) ?? { calls: 0, tokens: 0, cost: 0 };
        e.calls++;
        e.tokens += r.inputTokens + r.outputTokens;
        e.cost += r.costUsd;
        expected.set(k, e);
      }
      expect(expected.size).toBe(USERS * DAYS);
      for (const row of report.rows) {
        const e = expected.get(`${row.keys.user}|${row.keys.day}`)!;
        expect({ calls: row.calls, tokens: row.totalTokens }).toEqual({ calls: e.calls, tokens: e.tokens });
        expect(row.costUsd).toBeCloseTo(e.cost, 9);
      }
      // Days in date order, then the costliest first within a day.
      const days = report.rows.map((r) => r.keys.day);
      expect(days).toEqual([...days].sort());
      expect(formatReport(report, 'csv').split('\n')[1]).toMatch(/^user-39,2026-12-01,/);
    } finally {
      ledger().summarize = summarize;
    }
  });
});
